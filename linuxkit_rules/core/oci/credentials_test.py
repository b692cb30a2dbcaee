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
