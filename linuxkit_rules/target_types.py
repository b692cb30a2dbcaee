"""Target types: LinuxKit packages, kernels, images and boot tests."""
from __future__ import annotations

from typing import Optional, Union

from pants.core.goals.test import TestTimeoutField
from pants.engine.addresses import Address
from pants.engine.fs import GlobMatchErrorBehavior
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    Dependencies,
    DictStringToStringField,
    Field,
    IntField,
    InvalidFieldException,
    MultipleSourcesField,
    SingleSourceField,
    SpecialCasedDependencies,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import help_text, softwrap

from linuxkit_rules.core.arch import ARCH_NAMES, DEFAULT_ARCH
from linuxkit_rules.core.boot.disk_size import parse_size
from linuxkit_rules.core.clouds.publish import CLOUDS
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.media.formats import BOOTABLE_FORMAT_NAMES, FORMAT_NAMES
from linuxkit_rules.core.spec.build_yml import build_yml_keys_help
from linuxkit_rules.core.spec.container_keys import container_keys_help
from linuxkit_rules.kernel.target_types import (
    DebianKernelTarget,
    KernelArchesField,
    KernelConfigTarget,
    LinuxKernelTarget,
)

# ---------------------------------------------------------------------------
# linuxkit_package


class LinuxkitPackageSourcesField(MultipleSourcesField):
    alias = "sources"
    default = ("build.yml", "Dockerfile", "rootfs/**")
    default_glob_match_error_behavior = GlobMatchErrorBehavior.ignore
    help = help_text(
        """
        Every file of the package, in one field so that Pants knows the package
        owns them (`--changed-since` sees an edit under `rootfs/`): its
        `build.yml` (see `build_yml`), the files of its root filesystem below
        `rootfs/` (`pkg/sshd/rootfs/etc/ssh/sshd_config` becomes
        `/etc/ssh/sshd_config`; mode 0755 when executable in the checkout, else
        0644; owner root) and, for a `dockerfile` package, the Dockerfile and its
        build context. Any other file is an error unless `dockerfile` is set.
        Default: `["build.yml", "Dockerfile", "rootfs/**"]` (each only if present).
        """
    )


class LinuxkitPackageBuildYmlField(StringField):
    alias = "build_yml"
    default = "build.yml"
    help = (
        softwrap(
            """
            Which file of `sources` is the package's LinuxKit `build.yml` (fields
            `image`, `org`, `tag`, `arches`, `config`...), relative to the BUILD file;
            it must exist. `config` becomes the `org.mobyproject.config` label: the
            runtime defaults an image YAML starts from. Default: `build.yml`.
            """
        )
        + "\n\nKeys:\n\n"
        + build_yml_keys_help()
        + "\n\nKeys of `config` (as in an image YAML's containers):\n\n"
        + container_keys_help()
    )


class LinuxkitPackageDebianPackagesField(StringSequenceField):
    alias = "debian_packages"
    default = ()
    help = help_text(
        """
        Debian packages installed into the package with their dependency
        closure, as pinned in the Debian lock (`pants generate-lockfiles`).
        Maintainer scripts are not run. Example: `debian_packages=["openssh-server"]`.
        """
    )


class LinuxkitPackageExcludeDebianPackagesField(StringSequenceField):
    alias = "exclude_debian_packages"
    default = ()
    help = help_text(
        """
        Debian packages cut from the closure (with whatever only they pull in),
        for dependencies that matter to dpkg but not at run time, such as
        `debconf` or `perl-base`. Default: none.
        """
    )


DEFAULT_REMOVE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bug",
)


class LinuxkitPackageRemoveField(StringSequenceField):
    alias = "remove"
    default = DEFAULT_REMOVE
    help = help_text(
        f"""
        Glob patterns of paths removed (with everything below them) after the Debian packages
        and files are laid down (`**` matches across directories). Default:
        {list(DEFAULT_REMOVE)}.
        """
    )


class LinuxkitPackageSymlinksField(DictStringToStringField):
    alias = "symlinks"
    default = None
    help = help_text(
        """
        Symbolic links added to the package's root after its Debian packages and
        files: path (relative to the root) -> link target, e.g. busybox's applets
        `symlinks={"bin/sh": "busybox"}`. A link in `rootfs/` itself would be
        followed (or dropped, when dangling) by Pants. Default: none.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address):  # type: ignore[no-untyped-def]
        value = super().compute_value(raw_value, address)
        for path, target in (value or {}).items():
            parts = path.split("/")
            if not path or path.startswith("/") or ".." in parts or "" in parts or not target:
                raise InvalidFieldException(
                    f"The `symlinks` field of {address}: {path!r} -> {target!r}: a link is a "
                    "relative path without `..` (`bin/sh`) to a non-empty target (`busybox`)"
                )
        return value


class LinuxkitRegistriesField(StringSequenceField):
    alias = "registries"
    default = None
    help = help_text(
        """
        Registries `pants publish` pushes to, as `HOST[:PORT]` (or
        `HOST[:PORT]/PREFIX`, which is put before the repository); the entry
        `docker-daemon` loads into the Docker engine at `DOCKER_HOST` instead (an
        image needs the `docker` format for that). Default:
        `[linuxkit].registries` (`--linuxkit-registries`); with neither, publishing
        fails with a message saying so. Credentials come from
        `~/.docker/config.json` (`$DOCKER_CONFIG`) or `REGISTRY_AUTH=HOST=USER:PASSWORD`,
        never from the repository. Example: `registries=["127.0.0.1:5000"]`.
        """
    )


class LinuxkitReleaseTagsField(StringSequenceField):
    alias = "release_tags"
    default = ()
    help = help_text(
        """
        Tags pushed besides the content tag (a hash of every input), e.g.
        `release_tags=["v1.2", "latest"]`. Default: none.
        """
    )


class LinuxkitPackageBaseImageField(StringField):
    alias = "base_image"
    default = None
    help = help_text(
        """
        An image in a registry laid under the package's Debian packages and
        files, named by digest: `base_image="127.0.0.1:5000/library/x@sha256:<hex>"`.
        It is fetched once (an anonymous pull; each blob checked against its
        digest), cached by digest, and its layers are flattened into the
        package's one layer. Default: none.
        """
    )


class LinuxkitPackageDockerfileField(StringField):
    alias = "dockerfile"
    default = None
    help = help_text(
        """
        Build the package with a Docker engine from this Dockerfile (path
        relative to the BUILD file), LinuxKit's usual form, instead of from
        `debian_packages`. The Dockerfile must be one of `sources` (the default
        includes `Dockerfile`); the build context is the package directory with
        every file of `sources` in it (so `COPY rootfs/ /` works). The result is
        flattened into one layer with fixed mtimes and stored as an OCI layout,
        so images use it like any other package. Needs an engine at `DOCKER_HOST`
        (default `unix:///var/run/docker.sock`); without one only such packages
        fail. Example: `dockerfile="Dockerfile"`. Default: none.
        """
    )


class LinuxkitPackageDependenciesField(Dependencies):
    pass


class LinuxkitPackageOciArchivesField(SpecialCasedDependencies):
    alias = "oci_archives"
    help = help_text(
        """
        Other `linuxkit_package` targets whose OCI image layout tar (what `pants
        package` writes for them) goes into this package's root filesystem as
        `/oci/NAME.oci.tar` (NAME: the target's name), built for the same
        architecture as this package. For a container runtime inside the image
        to import, e.g. `ctr image import /oci/busybox.oci.tar`. A changed
        archive changes this package (`--changed-dependents` follows it).
        Example: `oci_archives=[":busybox"]`. Default: none.
        """
    )


class LinuxkitPackageTarget(Target):
    alias = "linuxkit_package"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        LinuxkitPackageSourcesField,
        LinuxkitPackageBuildYmlField,
        LinuxkitPackageDebianPackagesField,
        LinuxkitPackageExcludeDebianPackagesField,
        LinuxkitPackageRemoveField,
        LinuxkitPackageSymlinksField,
        LinuxkitPackageDependenciesField,
        LinuxkitPackageOciArchivesField,
        LinuxkitRegistriesField,
        LinuxkitReleaseTagsField,
        LinuxkitPackageBaseImageField,
        LinuxkitPackageDockerfileField,
    )
    help = help_text(
        """
        A LinuxKit package: an OCI image built from locked Debian packages and
        files, described by a LinuxKit `build.yml`.

        `pants package` writes its OCI image layout (a tar) to `dist/`, tagged
        with a hash of every input; images refer to it as `//pkg/NAME` or as
        `linuxkit/NAME:<tag>`.

            linuxkit_package(debian_packages=["openssh-server"])
        """
    )


# ---------------------------------------------------------------------------
# linuxkit_image


class LinuxkitImageSourceField(SingleSourceField):
    alias = "source"
    required = True
    expected_file_extensions = (".yml", ".yaml")
    help = "The image's LinuxKit YAML (`kernel`, `init`, `onboot`, `services`, `files`...)."


class LinuxkitImageExtendsField(StringSequenceField):
    alias = "extends"
    default = ()
    help = help_text(
        """
        Image YAMLs read before `source`, in this order (paths relative to the
        BUILD file), combined as `linuxkit build a.yml b.yml` does: a later
        `kernel` replaces an earlier one, `init`, `onboot`, `onshutdown`,
        `services` and `files` are appended, and container names stay unique.
        A `files` entry's `source` stays relative to the YAML that names it.
        Default: none.

            linuxkit_image(name="dev", source="dev.yml", extends=["base.yml"])
        """
    )


class LinuxkitImageDependenciesField(Dependencies):
    pass


class LinuxkitImageFormatsField(StringSequenceField):
    alias = "formats"
    default = ("kernel+initrd",)
    valid_choices = FORMAT_NAMES
    help = help_text(
        """
        Output formats to build, as `linuxkit build --format` names them, with
        LinuxKit's output names: `kernel+initrd` (`NAME-kernel`, `NAME-initrd.img`,
        `NAME-cmdline`), `tar` (`NAME.tar`, the root filesystem),
        `tar-kernel-initrd` (`NAME-initrd.tar`), `iso-bios` (`NAME.iso`, isolinux,
        also bootable as a disk), `iso-efi` (`NAME-efi.iso`, systemd-boot),
        `raw-bios` (`NAME-bios.img`), `raw-efi` (`NAME-efi.img`, GPT + FAT32 ESP),
        `qcow2-bios` (`NAME.qcow2`), `qcow2-efi` (`NAME-efi.qcow2`, the `raw-efi`
        disk), `gcp` (`NAME.img.tar.gz`, `disk.raw` inside), `docker`
        (`NAME-docker.tar`, for `docker load`), `kernel+squashfs` (`NAME-kernel`,
        `NAME-squashfs.img`, `NAME-cmdline`, and `NAME-squashfs-initrd.img`, a
        loader that mounts the squashfs with a modular kernel), and the
        `raw-bios` disk for hypervisors and clouds: `vhd` (`NAME.vhd`, fixed VHD,
        a whole number of MiB), `dynamic-vhd` (`NAME-dynamic.vhd`), `vmdk`
        (`NAME.vmdk`, monolithic sparse), `aws` (`NAME.raw`, for EC2's snapshot
        import) and `azure` (`NAME-azure.vhd`, fixed VHD, 1 MiB aligned). Every
        output is byte-reproducible. Default: `["kernel+initrd"]`.

            linuxkit_image(name="sshd", source="sshd.yml", formats=["iso-efi", "raw-bios"])
        """
    )


class LinuxkitImageRepositoryField(StringField):
    alias = "repository"
    default = None
    help = help_text(
        """
        Repository that `pants publish` pushes the image's outputs to (as one OCI
        artifact: a layer per output file, titled with its name). Default:
        `linuxkit-images/<target name>`.
        """
    )


class LinuxkitImageCloudsField(StringSequenceField):
    alias = "clouds"
    default = ()
    valid_choices = CLOUDS
    help = help_text(
        """
        Clouds `pants publish` sends the image to, each from its own output format
        (which must be in `formats`): `gcp` (the `gcp` tarball to Cloud Storage, then a
        Compute Engine image), `aws` (the `aws` disk to S3, a snapshot import, an AMI),
        `azure` (the `azure` VHD as a page blob). Where to is set by the
        `[linuxkit-gcp]`, `[linuxkit-aws]` and `[linuxkit-azure]` options; credentials
        come from each cloud SDK's own default chain, never from BUILD files.
        Default: none.

            linuxkit_image(name="sshd", source="sshd.yml", formats=["gcp"], clouds=["gcp"])
        """
    )


class LinuxkitImageKernelField(StringField):
    alias = "kernel"
    help = help_text(
        """
        A kernel target that replaces the YAML's `kernel: image:` (its `cmdline`
        stays), e.g. `kernel="//kernel:debian"`; with `parametrize` one YAML
        gives an image per kernel. The YAML's own kernel image is then not
        looked up. Default: the YAML's kernel; `linuxkit/kernel:<any tag>` there
        means `[linuxkit].kernel_image` (default `//kernel:linux`).
        """
    )


class LinuxkitImageArchField(StringField):
    alias = "arch"
    default = DEFAULT_ARCH.value
    valid_choices = ARCH_NAMES
    help = help_text(
        f"""
        The architecture the image is built for: its packages are built for it
        (each must list it in its build.yml `arches`), its kernel too, and `pants
        run` and boot tests use the matching QEMU. Outputs of an architecture other
        than amd64 carry it in their names (`sshd-arm64-kernel`), so both fit in
        `dist/`. One of {', '.join(ARCH_NAMES)}; default: `{DEFAULT_ARCH.value}`.

            linuxkit_image(name="sshd", source="sshd.yml", arch=parametrize("amd64", "arm64"))
        """
    )


class DiskSizeField(Field):
    """A disk size: a string with a unit (`"2G"`, `"512M"`, `"4096K"`, or bytes as
    `"1048576"`) or an integer number of MiB. The value is in bytes."""

    alias = "disk_size"
    default = None
    value: Optional[int]

    @classmethod
    def compute_value(cls, raw_value: Optional[Union[int, str]], address: Address) -> Optional[int]:
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidFieldException(
                f"The {cls.alias!r} field of {address} is {value!r}; it must be a size such as "
                '"2G" or "512M", or an integer number of MiB.'
            )
        if isinstance(value, int):
            if value <= 0:
                raise InvalidFieldException(
                    f"The `{cls.alias}` field of {address} is {value}; it must be a positive "
                    "number of MiB."
                )
            return value << 20
        try:
            return parse_size(value, "disk_size")
        except LinuxkitError as e:
            raise InvalidFieldException(f"The {cls.alias!r} field of {address}: {e}") from None


class LinuxkitImageDiskSizeField(DiskSizeField):
    help = help_text(
        """
        Size of the disk formats (`raw-bios`, `raw-efi`, `qcow2-bios`, `qcow2-efi`,
        `gcp`, `vhd`, `dynamic-vhd`, `vmdk`, `aws`, `azure`): a whole number of MiB, written `"2G"`, `"512M"` or as an integer of
        MiB (`512`), at most 8G (the disk is assembled in memory; a cloud instance
        can grow its disk when it is created). The build fails, saying how much is
        needed, when the content does not fit. The files are written sparse.
        Default: the smallest size that holds the content.
        """
    )
    max_mib = 8192

    @classmethod
    def compute_value(cls, raw_value: Optional[Union[int, str]], address: Address) -> Optional[int]:
        value = super().compute_value(raw_value, address)
        if value is not None and value % (1 << 20):
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {raw_value!r}; the disk formats "
                "take a whole number of MiB."
            )
        if value is not None and value > cls.max_mib << 20:
            raise InvalidFieldException(
                f"The `{cls.alias}` field of {address} is {raw_value!r}; the disk formats "
                f"take at most {cls.max_mib} MiB."
            )
        return value

    @property
    def mib(self) -> Optional[int]:
        return None if self.value is None else self.value >> 20


class LinuxkitImageInitrdCompressionField(StringField):
    alias = "initrd_compression"
    default = "gzip"
    valid_choices = ("gzip", "none")
    help = help_text(
        """
        How the initrd (the whole root as a cpio archive) is stored: `gzip`, or
        `none`, which every kernel reads and which boots sooner under emulation
        (the kernel does not inflate it; about 3 times the size). It applies to
        every format that carries the initrd. Default: `gzip`.
        """
    )


class LinuxkitImageTarget(Target):
    alias = "linuxkit_image"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        LinuxkitImageSourceField,
        LinuxkitImageExtendsField,
        LinuxkitImageFormatsField,
        LinuxkitImageKernelField,
        LinuxkitImageDiskSizeField,
        LinuxkitImageInitrdCompressionField,
        LinuxkitImageArchField,
        LinuxkitImageDependenciesField,
        LinuxkitRegistriesField,
        LinuxkitReleaseTagsField,
        LinuxkitImageRepositoryField,
        LinuxkitImageCloudsField,
    )
    help = help_text(
        """
        A bootable LinuxKit image from a LinuxKit YAML file. Its packages and
        kernel are inferred from the YAML: a Pants address (`//pkg/sshd`) or a
        LinuxKit name (`linuxkit/sshd:<any tag>`, mapped by `[linuxkit].orgs`).

        `pants package` writes the outputs to `dist/`; `pants run` boots it in QEMU.

            linuxkit_image(name="sshd", source="sshd.yml")
        """
    )


# ---------------------------------------------------------------------------
# linuxkit_image_test


class LinuxkitImageTestImageField(StringField):
    alias = "image"
    required = True
    help = "Address of the `linuxkit_image` to boot, e.g. `//images:sshd`."


class LinuxkitImageTestScriptField(SingleSourceField):
    alias = "source"
    required = True
    help = help_text(
        """
        A shell script run on the host once the guest is up. It gets
        `$SSH` (an `ssh` command line logged in as root, when `ssh_key` is set),
        `$CONSOLE` (a file with the serial console so far), `$ARCH` (the image's
        architecture) and `$WAIT_CONSOLE`
        (`$WAIT_CONSOLE REGEX [SECONDS]` waits for the console to match); it
        fails the test by exiting non-zero.
        """
    )


class LinuxkitImageTestSshKeyField(StringField):
    alias = "ssh_key"
    default = None
    help = help_text(
        """
        Path (relative to the BUILD file) of the private key whose public half
        the image authorizes for root. When set, the test waits until SSH logs
        in before it runs the script. Default: no SSH.
        """
    )


class LinuxkitImageTestReadyField(StringField):
    alias = "ready"
    default = "linuxkit-rules: services started"
    help = "Regular expression on the serial console that means the guest is up."


class LinuxkitImageTestMemoryField(IntField):
    alias = "memory"
    default = 1024
    help = "Guest memory in MiB. Default: 1024."


class LinuxkitImageTestDiskSizeField(DiskSizeField):
    help = help_text(
        """
        Attach a new, blank raw disk of this size (`"2G"`, `"512M"`, bytes as a
        string, or an integer of MiB) as the first virtio disk (`/dev/vda`). It is
        kept across the `boots` of one test run, so a second boot sees what the
        first wrote. Default: no disk.
        """
    )


class LinuxkitImageTestDiskInterfaceField(StringField):
    alias = "disk_interface"
    default = "virtio"
    valid_choices = ("virtio", "scsi")
    help = help_text(
        """
        How the blank `disk_size` disk is attached: `virtio` (virtio-blk,
        `/dev/vda`) or `scsi` (a disk on a virtio-scsi controller, `/dev/sda`, the
        name LinuxKit's examples use; the kernel needs virtio-scsi and SCSI disk
        support, as Debian's has). Default: `virtio`.
        """
    )


class LinuxkitImageTestBootsField(IntField):
    alias = "boots"
    default = 1
    help = help_text(
        """
        How many times to boot the image in one test (same disk). The script runs
        once per boot with `$BOOT` set to 1, 2...; on every boot but the last it
        must power the guest off (e.g. `$SSH poweroff`). Default: 1.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[int], address: Address) -> int:
        value = super().compute_value(raw_value, address)
        if value is None or value < 1:
            raise InvalidFieldException(
                f"The {cls.alias!r} field of {address} must be 1 or more, not {value}"
            )
        return value


class LinuxkitImageTestFormatField(StringField):
    alias = "format"
    default = "kernel+initrd"
    valid_choices = BOOTABLE_FORMAT_NAMES
    help = help_text(
        """
        Which of the image's outputs to boot (it must be in the image's
        `formats`): `kernel+initrd` by QEMU's `-kernel`; `kernel+squashfs` by
        `-kernel` with its loader initramfs and the squashfs as the first virtio
        disk (`root=/dev/vda`); ISOs from the CD drive,
        disks (and the `disk.raw` inside `gcp`) as a virtio disk, VHDs as QEMU's
        `vpc` and VMDKs as `vmdk`; `*-bios` and the cloud disks with
        SeaBIOS, `*-efi` with OVMF from the locked Debian `ovmf` package (arm64: AAVMF
        from `qemu-efi-aarch64`).
        Default: `kernel+initrd`.
        """
    )


class LinuxkitImageTestTarget(Target):
    alias = "linuxkit_image_test"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        LinuxkitImageTestImageField,
        LinuxkitImageTestScriptField,
        LinuxkitImageTestSshKeyField,
        LinuxkitImageTestReadyField,
        LinuxkitImageTestMemoryField,
        LinuxkitImageTestDiskSizeField,
        LinuxkitImageTestDiskInterfaceField,
        LinuxkitImageTestFormatField,
        LinuxkitImageTestBootsField,
        TestTimeoutField,
    )
    help = help_text(
        """
        Boots a `linuxkit_image` in QEMU under `pants test`, waits for `ready`
        on the console (and for SSH when `ssh_key` is set), runs `source`, then
        stops the machine. The result is cached by the image's digest.

            linuxkit_image_test(name="sshd-boot", image=":sshd-test",
                                source="check_sshd.sh", ssh_key="keys/test_ed25519")
        """
    )


# ---------------------------------------------------------------------------
# debian_toolchain


class DebianToolchainPackagesField(StringSequenceField):
    alias = "packages"
    required = True
    help = help_text(
        """
        The Debian packages whose tools the build steps run, resolved into the
        Debian lock with their dependency closure (`pants generate-lockfiles`)
        and unpacked into the toolchain root. Essential packages are not pulled
        in by dependencies: list the shell (`dash`) and the utilities the tools
        run (`coreutils`, `sed`, `grep`...). Example:
        `packages=["dash", "squashfs-tools", "qemu-utils"]`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):  # type: ignore[no-untyped-def]
        value = super().compute_value(raw_value, address)
        if not value:
            raise InvalidFieldException(f"{address}: packages: list at least one Debian package")
        return value


class DebianToolchainArchesField(KernelArchesField):
    """Validated as a kernel's `arches` is."""

    alias = "arches"
    default = (DEFAULT_ARCH.value,)
    help = help_text(
        f"""
        The build machine architectures the toolchain is locked for, among
        {', '.join(ARCH_NAMES)}: a toolchain runs on the build machine, so its
        packages are of the machine's architecture whatever the target's
        (arm64 kernels are cross-compiled by an amd64 toolchain's
        `gcc-aarch64-linux-gnu`). Default: `["{DEFAULT_ARCH.value}"]`.
        """
    )


class DebianToolchainTarget(Target):
    alias = "debian_toolchain"
    core_fields = (*COMMON_TARGET_FIELDS, DebianToolchainPackagesField, DebianToolchainArchesField)
    help = help_text(
        """
        The tools build steps run (mksquashfs, qemu-img, the kernel compiler...),
        from locked Debian packages instead of the host's PATH: the closure of
        `packages` is unpacked into a root directory, and each step runs its tools
        under bubblewrap with that root over `/`. Which toolchain a step uses is
        set by `[linuxkit].image_toolchain` and `[linuxkit].kernel_toolchain`.

            debian_toolchain(name="image", packages=["dash", "coreutils", "squashfs-tools", "qemu-utils"])
        """
    )


def target_types():
    return [
        DebianToolchainTarget,
        LinuxkitPackageTarget,
        DebianKernelTarget,
        KernelConfigTarget,
        LinuxKernelTarget,
        LinuxkitImageTarget,
        LinuxkitImageTestTarget,
    ]
