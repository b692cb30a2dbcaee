"""The `[debian]` options: which suite and architectures the lock covers."""
from __future__ import annotations

from pants.option.option_types import DictOption, StrListOption, StrOption
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

    suite = StrOption(
        default="bookworm",
        help="The lock's main suite: every package and kernel without a `suite` of its own.",
    )
    extra_suites = StrListOption(
        default=[],
        help=(
            "More suites with a lock of their own (one per suite and architecture), e.g. "
            '["bookworm-backports", "trixie"]. Such a lock holds only the kernels '
            "(`debian_kernel`) and kernel sources (`kernel_config`) whose `suite` names it, "
            "with their dependencies. They are resolved against a private apt source list "
            "on the machine's own mirror, never added to the machine's sources."
        ),
    )
    architectures = StrListOption(default=["amd64"], help="Architectures with a lock.")
    lockfile_template = StrOption(
        default="3rdparty/debian/{suite}-{arch}.lock.json",
        help="Where each lock lives, relative to the build root.",
    )
    extra_packages = StrListOption(
        default=[],
        help="Debian packages to lock in addition to those targets name.",
    )

    arch_extra_packages = DictOption[list](
        default={},
        help=help_text(
            """
            Debian packages to lock for one architecture only, by architecture, e.g.
            `{"arm64": ["qemu-efi-aarch64"]}` (arm64's EFI firmware). Default: none.
            """
        ),
    )

    def extra_packages_for(self, arch: str) -> tuple[str, ...]:
        """`extra_packages` plus `arch_extra_packages[arch]`."""
        return (*self.extra_packages, *self.arch_extra_packages.get(arch, ()))

    @property
    def suites(self) -> tuple[str, ...]:
        """The main suite, then `extra_suites`."""
        return (self.suite, *(s for s in self.extra_suites if s != self.suite))

    def resolve_name(self, arch: str, suite: str | None = None) -> str:
        return f"debian-{suite or self.suite}-{arch}"

    def lockfile(self, arch: str, suite: str | None = None) -> str:
        return self.lockfile_template.format(suite=suite or self.suite, arch=arch)
