"""UEFI firmware for QEMU: OVMF from the locked Debian `ovmf` package."""
from __future__ import annotations

import io
import os
import shutil
import tarfile
from dataclasses import dataclass
from typing import Any, Mapping

from linuxkit_rules.core.archive.deb import read_deb
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.manifest import Manifest

OVMF_FILES = {
    # amd64: Debian's `ovmf`
    "usr/share/OVMF/OVMF_CODE_4M.fd": "code.fd",
    "usr/share/OVMF/OVMF_VARS_4M.fd": "vars.fd",
    # arm64: Debian's `qemu-efi-aarch64` (pflash images padded to 64 MiB, as QEMU's virt needs)
    "usr/share/AAVMF/AAVMF_CODE.fd": "code.fd",
    "usr/share/AAVMF/AAVMF_VARS.fd": "vars.fd",
}


def extract_ovmf(deb: str, dest: str) -> tuple[str, str]:
    """Write OVMF's code and a private copy of its variable store into `dest`
    (`code.fd`, `vars.fd`); return their paths."""
    os.makedirs(dest, exist_ok=True)
    with open(deb, "rb") as f:
        data = read_deb(f).data
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for member in tf:
            name = OVMF_FILES.get(member.name.lstrip("./"))
            if name and member.isreg():
                src = tf.extractfile(member)
                assert src is not None
                with open(os.path.join(dest, name), "wb") as out:
                    shutil.copyfileobj(src, out)
    paths = (os.path.join(dest, "code.fd"), os.path.join(dest, "vars.fd"))
    for p in paths:
        if not os.path.exists(p):
            raise LinuxkitError(f"{deb}: no {' or '.join(OVMF_FILES)} in the package")
    return paths


@dataclass(frozen=True)
class OvmfManifest(Manifest):
    """`tool ovmf`: unpack the firmware's code and variables files from its .deb."""

    command = "ovmf"

    deb: str
    output: str  # directory that receives code.fd and vars.fd


def extract_ovmf_command(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = OvmfManifest.from_json(manifest)
    code, vars_ = extract_ovmf(m.deb, m.output)
    return {"code": code, "vars": vars_}
