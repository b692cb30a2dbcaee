"""Registry credentials from REGISTRY_AUTH and the Docker config file."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from linuxkit_rules.core.oci.credentials import credentials_for


def test_credentials_from_env_and_docker_config(tmp_path: Path) -> None:
    env = {"REGISTRY_AUTH": "a.example=u1:p1, b.example=u2:p:2"}
    assert credentials_for("b.example", env) == ("u2", "p:2")
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"c.example": {"auth": base64.b64encode(b"u3:p3").decode()}}})
    )
    assert credentials_for("c.example", {"DOCKER_CONFIG": str(tmp_path)}) == ("u3", "p3")
    assert credentials_for("d.example", {"DOCKER_CONFIG": str(tmp_path)}) is None


def test_bad_base64_auth_is_one_line_without_the_value(tmp_path: Path) -> None:
    import pytest

    from linuxkit_rules.core.errors import RegistryError

    for auth in ("not base64 at all!!", base64.b64encode(b"\xff\xfe").decode(), "bm9jb2xvbg=="):
        (tmp_path / "config.json").write_text(json.dumps({"auths": {"c.example": {"auth": auth}}}))
        with pytest.raises(RegistryError, match=r"auths\.c\.example\.auth") as e:
            credentials_for("c.example", {"DOCKER_CONFIG": str(tmp_path)})
        assert "\n" not in str(e.value) and auth not in str(e.value)


def test_malformed_docker_config_is_one_line(tmp_path: Path) -> None:
    import pytest

    from linuxkit_rules.core.errors import RegistryError

    (tmp_path / "config.json").write_bytes(b'{"auths": {"c.example": {"auth": "dTpw"\n\n')
    with pytest.raises(RegistryError, match="cannot read the Docker config") as e:
        credentials_for("c.example", {"DOCKER_CONFIG": str(tmp_path)})
    assert "\n" not in str(e.value)
