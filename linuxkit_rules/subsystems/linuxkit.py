"""The `[linuxkit]` options: naming, reproducibility and QEMU defaults."""
from __future__ import annotations

from pants.option.option_types import BoolOption, DictOption, IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text, softwrap


class LinuxkitSubsystem(Subsystem):
    options_scope = "linuxkit"
    help = "LinuxKit packages, kernels and images."

    orgs = DictOption[str](
        default={"linuxkit": "pkg"},
        help=help_text(
            """
            Maps a LinuxKit image org to the directory holding its packages:
            with the default, `linuxkit/sshd:v1.0` in an image YAML means
            `//pkg/sshd` (the tag is ignored: the package is built from source).
            """
        ),
    )
    image_map = DictOption[str](
        default={},
        help=help_text(
            """
            Maps image references that are not LinuxKit names (`busybox`, `redis:4.0.5-alpine`)
            to package targets. A key is an exact reference (`busybox`) or a name with any tag
            or digest (`redis:*`, which does not match the bare `redis`); the exact key wins.
            The tag or digest does not pick a version: the target is built from its locked
            Debian packages. Example: `image_map = { "redis:*" = "//pkg/redis" }`.
            The build prints one line per reference it maps.
            """
        ),
    )
    kernel_image = StrOption(
        default="//kernel:linux",
        help=softwrap(
            """
            The kernel target that LinuxKit's kernel images (`linuxkit/kernel:<any tag>`)
            in an image YAML mean. A `linuxkit_image`'s `kernel` field wins over it.
            Empty: such a reference is an error.
            """
        ),
    )
    image_toolchain = StrOption(
        default="//toolchain:image",
        help=softwrap(
            """
            The `debian_toolchain` target whose root runs the image steps' tools
            (mksquashfs, qemu-img), under bubblewrap instead of from the host's PATH.
            """
        ),
    )
    kernel_toolchain = StrOption(
        default="//toolchain:kernel",
        help=softwrap(
            """
            The `debian_toolchain` target whose root runs the source kernel build
            (make, gcc, binutils, flex, bison, bc, perl; the arm64 cross compiler).
            """
        ),
    )
    tailor = BoolOption(
        default=True,
        help=(
            "If true, `pants tailor` adds a `linuxkit_image` target per LinuxKit image YAML "
            "(named after the file) and a `linuxkit_package` per directory with a `build.yml`."
        ),
    )
    source_date_epoch = IntOption(
        default=1704067200,
        help=softwrap(
            """
            The one timestamp written into every artefact (file mtimes, OCI
            `created`), so that builds are byte-reproducible. Default: 2024-01-01.
            """
        ),
    )
    ssh_port = IntOption(
        default=2222,
        help="Host port on 127.0.0.1 that `pants run` forwards to the guest's port 22.",
    )
    memory = IntOption(
        default=None,
        help="Guest memory in MiB for `pants run`.",
        removal_version="2.19.0.dev0",
        removal_hint="Set `[linuxkit-run].memory` instead (the same value, in MiB).",
    )
    cpus = IntOption(
        default=None,
        help="Guest CPUs for `pants run`.",
        removal_version="2.19.0.dev0",
        removal_hint="Set `[linuxkit-run].cpus` instead.",
    )
    accel = StrOption(
        default="tcg",
        help="QEMU accelerator (`tcg` works everywhere; `kvm` where the host supports it).",
    )
    registries = StrListOption(
        default=[],
        help=(
            "Registries `pants publish` pushes packages and images to when a target has no "
            "`registries` field, e.g. `--linuxkit-registries=127.0.0.1:5000`; the entry "
            "`docker-daemon` loads them into the Docker engine at DOCKER_HOST instead."
        ),
    )
