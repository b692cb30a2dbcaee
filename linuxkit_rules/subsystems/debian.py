"""The `[debian]` options: which suite and architectures the lock covers."""
from __future__ import annotations

from pants.option.option_types import StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class DebianSubsystem(Subsystem):
    options_scope = "debian"
    help = help_text(
        """
        Debian packages as build inputs. `pants generate-lockfiles` resolves the
        `debian_packages` of every target against the machine's own apt sources
        and writes one lock per architecture; builds read only the lock.
        """
    )

    suite = StrOption(default="bookworm", help="The Debian suite the lock is resolved from.")
    architectures = StrListOption(default=["amd64"], help="Architectures with a lock.")
    lockfile_template = StrOption(
        default="3rdparty/debian/{suite}-{arch}.lock.json",
        help="Where each lock lives, relative to the build root.",
    )
    extra_packages = StrListOption(
        default=[],
        help="Debian packages to lock in addition to those targets name.",
    )

    def resolve_name(self, arch: str) -> str:
        return f"debian-{self.suite}-{arch}"

    def lockfile(self, arch: str) -> str:
        return self.lockfile_template.format(suite=self.suite, arch=arch)
