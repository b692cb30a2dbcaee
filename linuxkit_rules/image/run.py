"""`pants run` on a `linuxkit_image`: boot it in QEMU on the terminal."""
from __future__ import annotations

import os
from dataclasses import dataclass

from pants.base.build_root import BuildRoot
from pants.core.goals.run import RunFieldSet, RunInSandboxBehavior, RunRequest
from pants.core.util_rules.distdir import DistDir
from pants.engine.fs import Digest, DigestContents, DigestSubset, PathGlobs
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.disk import parse_size
from linuxkit_rules.core.formats import Format
from linuxkit_rules.core.qemu import QemuConfig, qemu_argv
from linuxkit_rules.image.rules import BuiltImage, LinuxkitImageFieldSet
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.target_types import (
    LinuxkitImageExtendsField,
    LinuxkitImageFormatsField,
    LinuxkitImageRunDiskSizeField,
    LinuxkitImageSourceField,
)
from linuxkit_rules.util_rules.host_tools import QEMU_X86, HostTool, HostToolRequest


@dataclass(frozen=True)
class LinuxkitImageRunFieldSet(RunFieldSet):
    required_fields = (LinuxkitImageSourceField,)
    run_in_sandbox_behavior = RunInSandboxBehavior.NOT_SUPPORTED

    source: LinuxkitImageSourceField
    extends: LinuxkitImageExtendsField
    formats: LinuxkitImageFormatsField
    run_disk_size: LinuxkitImageRunDiskSizeField


@rule(desc="Prepare to boot a LinuxKit image", level=LogLevel.DEBUG)
async def run_linuxkit_image(
    field_set: LinuxkitImageRunFieldSet, linuxkit: LinuxkitSubsystem, build_root: BuildRoot, dist_dir: DistDir
) -> RunRequest:
    image_fs = LinuxkitImageFieldSet(field_set.address, field_set.source, field_set.extends, field_set.formats)
    built, qemu = await MultiGet(
        Get(BuiltImage, LinuxkitImageFieldSet, image_fs),
        Get(HostTool, HostToolRequest, QEMU_X86),
    )
    kernel, initrd, cmdline_file = Format.KERNEL_INITRD.outputs(image_fs.name)
    disk = (
        os.path.join(build_root.path, str(dist_dir.relpath), f"{image_fs.name}-disk.raw")
        if field_set.run_disk_size.value
        else ""
    )
    cmdline_digest = await Get(Digest, DigestSubset(built.digest, PathGlobs([cmdline_file])))
    contents = await Get(DigestContents, Digest, cmdline_digest)
    cmdline = contents[0].content.decode() if contents else ""
    argv = qemu_argv(
        QemuConfig(
            kernel="{chroot}/" + kernel,
            initrd="{chroot}/" + initrd,
            cmdline=cmdline,
            memory_mb=linuxkit.memory,
            cpus=linuxkit.cpus,
            accel=linuxkit.accel,
            ssh_port=linuxkit.ssh_port,
            disks=(disk,) if disk else (),
        ),
        qemu=qemu.path,
    )
    if disk:
        sh, truncate = await MultiGet(
            Get(HostTool, HostToolRequest, HostToolRequest("sh", "dash", ("-c", "true"))),
            Get(HostTool, HostToolRequest, HostToolRequest("truncate", "coreutils")),
        )
        # The disk is made when QEMU starts, not while rules run: it is state, not an artefact.
        argv = [
            sh.path, "-c", 'disk=$1 size=$2 truncate=$3; shift 3; '
            '[ -e "$disk" ] || { mkdir -p "${disk%/*}" && "$truncate" -s "$size" "$disk"; } || exit 1; exec "$@"',
            "linuxkit-run", disk, str(parse_size(field_set.run_disk_size.value or "")), truncate.path, *argv,
        ]
    return RunRequest(digest=built.digest, args=tuple(argv))


def rules():
    return [*collect_rules(), *LinuxkitImageRunFieldSet.rules()]
