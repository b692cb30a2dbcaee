"""The tool entry point re-checks locked inputs before a command reads them."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from linuxkit_rules.core.errors import DebianError
from linuxkit_rules.core.tool import main, verify_inputs


def test_verify_inputs_accepts_the_locked_bytes(tmp_path: Path) -> None:
    deb = tmp_path / "a.deb"
    deb.write_bytes(b"locked bytes")
    verify_inputs({str(deb): hashlib.sha256(b"locked bytes").hexdigest()})


def test_a_replaced_deb_stops_the_command_before_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deb = tmp_path / "a.deb"
    deb.write_bytes(b"poisoned cache entry")
    expected = hashlib.sha256(b"locked bytes").hexdigest()
    with pytest.raises(DebianError, match="does not match the lock's " + expected):
        verify_inputs({str(deb): expected})
    # Through main: one error line, exit 2, and the command (here one that would
    # fail differently, on a missing deb) never ran.
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps({"deb": str(tmp_path / "missing.deb"), "verify_sha256": {str(deb): expected}})
    )
    assert main(["ovmf", str(manifest)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not match the lock's" in err[0]


def test_every_command_has_one_typed_manifest_beside_it() -> None:
    import importlib

    from linuxkit_rules.core.manifest import Manifest
    from linuxkit_rules.core.tool import COMMANDS

    for command, (module, function) in COMMANDS.items():
        mod = importlib.import_module(f"linuxkit_rules.core.{module}")
        assert callable(getattr(mod, function))
        declared = [
            v
            for v in vars(mod).values()
            if isinstance(v, type) and issubclass(v, Manifest) and v.__module__ == mod.__name__
        ]
        assert [m.command for m in declared if m.command == command] == [command], command


def test_a_bad_manifest_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"ref": "r@sha256:00", "arch": 64, "output": "o"}))
    assert main(["pull", str(manifest)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: tool pull: missing manifest keys ['address']"]
    manifest.write_text(
        json.dumps({"ref": "r@sha256:00", "arch": 64, "output": "o", "address": "//x"})
    )
    assert main(["pull", str(manifest)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: tool pull: manifest key 'arch' is 64, not str"]
