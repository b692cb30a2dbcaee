"""Where a target's outputs go under `dist/`."""
from __future__ import annotations

from pants.engine.addresses import Address


def output_folder(address: Address) -> str:
    """The target's directory with dots for slashes (`pkg/sshd` -> `pkg.sshd`), or `root`
    for a target at the top of the repository."""
    return address.spec_path.replace("/", ".") or "root"
