"""Kernel target types, every kind in one place: `kernel_config` and `linux_kernel` (built
from the locked kernel source) and `debian_kernel` (a locked Debian linux-image package)."""
from __future__ import annotations

from typing import ClassVar, Optional

from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    DictStringToStringSequenceField,
    InvalidFieldException,
    MultipleSourcesField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.frozendict import FrozenDict
from pants.util.strutil import help_text

from linuxkit_rules.core.arch import ARCH_NAMES, Arch
from linuxkit_rules.core.kernels.source_build import MAKE_BASES

# ---------------------------------------------------------------------------
# kernel_config


class KernelConfigBaseField(StringField):
    alias = "base"
    default = "tinyconfig"
    help = help_text(
        f"""
        What the fragments are applied to: one of the kernel's make targets
        {', '.join(f'`{b}`' for b in MAKE_BASES)}, or a full `.config` file in
        this BUILD file's directory (e.g. `base="x86_64.config"`). Default:
        `tinyconfig`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: str | None, address: Address) -> str:
        value = super().compute_value(raw_value, address)
        assert value is not None
        if value not in MAKE_BASES and ("/" in value or not value.endswith(".config")):
            raise InvalidFieldException(
                f"{address}: base: {value!r} is not allowed; use one of {', '.join(MAKE_BASES)} "
                "or the name of a `.config` file in the BUILD file's directory"
            )
        return value

    def file(self, address: Address) -> str | None:
        """The base file's repository path, or None for a make target."""
        if self.value in MAKE_BASES:
            return None
        return f"{address.spec_path}/{self.value}" if address.spec_path else str(self.value)


class KernelConfigFragmentsField(MultipleSourcesField):
    alias = "fragments"
    required = True
    expected_file_extensions = (".config",)
    help = help_text(
        """
        Config fragments applied on top of `base`, each line
        `CONFIG_X=y|m|n|"string"|number` or `# CONFIG_X is not set`. Two
        fragments that set an option to different values are an error, so
        their order does not matter. Every option must survive `make
        olddefconfig`, or the build fails listing the dropped ones.
        Example: `fragments=["fragments/base.config", "fragments/xfs.config"]`.
        """
    )


class KernelConfigArchFragmentsField(DictStringToStringSequenceField):
    alias = "arch_fragments"
    default: ClassVar[Optional[FrozenDict[str, tuple[str, ...]]]] = FrozenDict()
    help = help_text(
        f"""
        Which of the `fragments` files apply to one architecture only:
        architecture ({', '.join(ARCH_NAMES)}) -> files, each also listed in
        `fragments` (so this target owns it and an edit reaches its
        dependents). A file named here is applied to its architecture alone;
        the others to every architecture. Example:
        `arch_fragments={{"amd64": ["fragments/x86_64.config"], "arm64":
        ["fragments/arm64.config"]}}`. The config is resolved for each
        architecture a `linux_kernel` on it is built for. Default: none.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):  # type: ignore[no-untyped-def]
        value = super().compute_value(raw_value, address)
        for arch, files in (value or {}).items():
            if arch not in ARCH_NAMES:
                raise InvalidFieldException(
                    f"{address}: arch_fragments: {arch!r} is not supported; supported: {', '.join(ARCH_NAMES)}"
                )
            for f in files:
                if not f.endswith(".config") or f.startswith("/") or ".." in f.split("/"):
                    raise InvalidFieldException(
                        f"{address}: arch_fragments: {arch}: {f!r} is not allowed; name a `.config` file "
                        "under this BUILD file's directory"
                    )
        return value

    def files(self, address: Address, arch: str) -> tuple[str, ...]:
        """`arch`'s fragments as repository paths."""
        prefix = f"{address.spec_path}/" if address.spec_path else ""
        files = self.value.get(arch, ()) if self.value else ()
        return tuple(prefix + f for f in files)


class KernelConfigSourcePackageField(StringField):
    alias = "source_package"
    default = "linux-source-6.1"
    help = help_text(
        """
        The Debian package holding the kernel source tree (its
        `usr/src/linux-source-*.tar.xz`), as locked in the Debian lock; the
        lock is regenerated from this field by `pants generate-lockfiles`.
        Default: `linux-source-6.1`.
        """
    )


class KernelSuiteField(StringField):
    alias = "suite"
    default = None
    help = help_text(
        """
        The Debian suite whose lock holds this target's package, one of
        `[debian].suite` and `[debian].extra_suites`, e.g. `"trixie"` or
        `"bookworm-backports"`. Default: the lock's main suite (`[debian].suite`).
        """
    )


class KernelConfigTarget(Target):
    alias = "kernel_config"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        KernelConfigBaseField,
        KernelConfigFragmentsField,
        KernelConfigArchFragmentsField,
        KernelConfigSourcePackageField,
        KernelSuiteField,
    )
    help = help_text(
        """
        A kernel `.config` resolved by the kernel's own Kconfig (`make
        olddefconfig`) from a base and fragments, on the locked Debian kernel
        source. `pants package` writes the resolved `config`.

            kernel_config(name="config", fragments=["fragments/*.config"])
        """
    )


# ---------------------------------------------------------------------------
# linux_kernel


class LinuxKernelConfigField(StringField):
    alias = "config"
    required = True
    help = help_text(
        """
        The address of the `kernel_config` target to build, e.g. `":config"`;
        its `source_package` is the source that is compiled.
        """
    )


class LinuxKernelDependenciesField(Dependencies):
    help = help_text(
        """
        Inferred: the `kernel_config` named by `config`, so that a fragment
        edit reaches the kernel and the images that boot it under
        `--changed-dependents`.
        """
    )


class KernelArchesField(StringSequenceField):
    """Architectures a kernel target is built for (validated against ARCH_NAMES)."""

    alias = "arches"
    default = ("amd64",)

    @classmethod
    def compute_value(cls, raw_value, address: Address):  # type: ignore[no-untyped-def]
        value = super().compute_value(raw_value, address)
        if not value:
            raise InvalidFieldException(
                f"{address}: arches: list at least one of {', '.join(ARCH_NAMES)}"
            )
        for item in value:
            if item not in ARCH_NAMES:
                raise InvalidFieldException(
                    f"{address}: arches: {item!r} is not supported; supported: {', '.join(ARCH_NAMES)}"
                )
        return value

    def parsed(self) -> tuple[Arch, ...]:
        """The listed architectures (validated above)."""
        return tuple(Arch(a) for a in self.value or ())


class LinuxKernelArchesField(KernelArchesField):
    help = help_text(
        f"""
        Architectures this kernel is compiled for, among {', '.join(ARCH_NAMES)}
        (arm64 is cross-compiled with Debian's `gcc-aarch64-linux-gnu`); an
        image of another architecture that names it is an error. `pants
        package` writes amd64 to `DIR/NAME/` and the others to `DIR/NAME-ARCH/`.
        Default: `["amd64"]`.
        """
    )


class LinuxKernelTarget(Target):
    alias = "linux_kernel"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        LinuxKernelConfigField,
        LinuxKernelArchesField,
        LinuxKernelDependenciesField,
    )
    help = help_text(
        """
        A kernel compiled from the locked Debian kernel source with a
        `kernel_config`, in LinuxKit's kernel layout: `kernel` (bzImage),
        `kernel.tar` (modules, empty when everything is built in),
        `System.map` and `config`. Images use it like a `debian_kernel`.
        The unpacked source and a build directory per target and
        architecture are kept in the Pants named cache
        `linuxkit_kernel_build` (the compiler cache in
        `linuxkit_kernel_ccache`), so a config change makes `make` rebuild
        only the files that read the changed options; a fragment edit that
        leaves the resolved config identical compiles nothing.

            linux_kernel(name="linux", config=":config")
        """
    )


# ---------------------------------------------------------------------------
# debian_kernel


class DebianKernelRequiredOptionsField(StringSequenceField):
    alias = "required_options"
    default = ()
    help = help_text(
        """
        Kernel options this kernel's config must have, as `CONFIG_X` (built
        in or a module) or `CONFIG_X=value`; a missing one fails the build,
        naming it. Example: `required_options=["CONFIG_DM_CRYPT", "CONFIG_XFS_FS"]`.
        Default: none.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):  # type: ignore[no-untyped-def]
        value = super().compute_value(raw_value, address)
        for item in value or ():
            if not item.startswith("CONFIG_"):
                raise InvalidFieldException(
                    f"{address}: required_options: {item!r} is not allowed; write `CONFIG_X` or `CONFIG_X=value`"
                )
        return value


class DebianKernelArchesField(KernelArchesField):
    help = help_text(
        f"""
        Architectures this kernel is built for, among {', '.join(ARCH_NAMES)}; an
        image of another architecture that names it is an error. With more than
        one, `package` holds `{{arch}}`, replaced by the architecture, e.g.
        `package="linux-image-6.1.0-56-{{arch}}", arches=["amd64", "arm64"]`.
        Default: `["amd64"]`.
        """
    )


class DebianKernelPackageField(StringField):
    alias = "package"
    required = True
    help = help_text(
        """
        The Debian kernel package, as named in the Debian lock, e.g.
        `linux-image-6.1.0-41-amd64`; `{arch}` is replaced by the architecture
        the kernel is built for (see `arches`).
        """
    )


class DebianKernelModulesField(StringSequenceField):
    alias = "modules"
    default = ()
    help = help_text(
        """
        Kernel modules the image carries, by name (`virtio_net`); the modules
        they depend on come with them. They are loaded at boot when a device
        needs them (coldplug) and listed in `/etc/modules`. Default: none.
        """
    )


class DebianKernelTarget(Target):
    alias = "debian_kernel"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        DebianKernelPackageField,
        DebianKernelModulesField,
        DebianKernelRequiredOptionsField,
        DebianKernelArchesField,
        KernelSuiteField,
    )
    help = help_text(
        """
        A kernel from a locked Debian `linux-image-*` package, in LinuxKit's
        kernel layout: `kernel` (the bzImage), `kernel.tar` (the chosen modules
        with `modules.dep` and `modules.alias`), `System.map` and `config`.

            debian_kernel(name="debian", package="linux-image-6.1.0-41-amd64",
                          modules=["virtio_net"])
        """
    )
