"""`pants run` on a `linuxkit_image`: boot it in QEMU on the terminal."""
from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.run import RunFieldSet, RunInSandboxBehavior, RunRequest
from pants.engine.fs import Digest, DigestContents, DigestSubset, PathGlobs
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from linuxkit_rules.core.formats import Format
from linuxkit_rules.core.qemu import QemuConfig, qemu_argv
from linuxkit_rules.image.rules import BuiltImage, LinuxkitImageFieldSet
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.target_types import (
    LinuxkitImageExtendsField,
    LinuxkitImageFormatsField,
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


@rule(desc="Prepare to boot a LinuxKit image", level=LogLevel.DEBUG)
async def run_linuxkit_image(field_set: LinuxkitImageRunFieldSet, linuxkit: LinuxkitSubsystem) -> RunRequest:
    image_fs = LinuxkitImageFieldSet(field_set.address, field_set.source, field_set.extends, field_set.formats)
    built, qemu = await MultiGet(
        Get(BuiltImage, LinuxkitImageFieldSet, image_fs),
        Get(HostTool, HostToolRequest, QEMU_X86),
    )
    kernel, initrd, cmdline_file = Format.KERNEL_INITRD.outputs(image_fs.name)
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
        ),
        qemu=qemu.path,
    )
    return RunRequest(digest=built.digest, args=tuple(argv))


def rules():
    return [*collect_rules(), *LinuxkitImageRunFieldSet.rules()]
