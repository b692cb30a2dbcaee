"""`pants run` on a `linuxkit_image`: boot it in QEMU on the terminal."""
from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.run import RunFieldSet, RunInSandboxBehavior, RunRequest
from pants.engine.fs import Digest, DigestContents, DigestSubset, MergeDigests, PathGlobs
from pants.engine.rules import Get, collect_rules, rule
from pants.option.option_types import IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.logging import LogLevel

from linuxkit_rules.core.boot.disk_size import parse_size
from linuxkit_rules.core.boot.qemu import QemuConfig, qemu_argv, supervised
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.media.firmware import OvmfManifest
from linuxkit_rules.core.media.formats import RUNNABLE_FORMAT_NAMES, SQUASHFS_ROOT, Format
from linuxkit_rules.image.boot import BootableImage, BootableImageRequest
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.target_types import (
    LinuxkitImageDiskSizeField,
    LinuxkitImageFormatsField,
    LinuxkitImageSourceField,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest, CoreProcessResult


class LinuxkitRunSubsystem(Subsystem):
    options_scope = "linuxkit-run"
    help = "How `pants run` boots a `linuxkit_image` in QEMU."

    format = StrOption(
        default="kernel+initrd",
        help=(
            f"Which output to boot: one of {', '.join(RUNNABLE_FORMAT_NAMES)} (for `gcp`, "
            "boot `raw-bios`, the same disk); it must be in "
            "the image's `formats`. ISOs boot from the CD drive, disks (also VHD and VMDK) as a virtio disk, `*-efi` "
            "with OVMF (from the locked `ovmf` package); `kernel+squashfs` boots the kernel and its loader "
            "initramfs with the squashfs as the first virtio disk. "
            "Example: `pants run --linuxkit-run-format=iso-efi //images:sshd`."
        ),
    )
    disks = StrListOption(
        default=[],
        help="Extra disk images (raw or qcow2, absolute paths) attached as virtio disks.",
    )
    blank_disk = StrOption(
        default=None,
        help=(
            "Attach a new blank raw disk of this size (e.g. `2G`) as the first extra virtio disk, "
            "created sparse in the run's temporary directory and gone after it: what "
            "`images/swap.yml` formats. For a disk that outlives the run use `--linuxkit-run-disks`."
        ),
    )
    memory = IntOption(default=1024, help="Guest memory in MiB.")
    cpus = IntOption(default=1, help="Guest CPUs.")

    def guest_memory(self, linuxkit: LinuxkitSubsystem) -> int:
        """`memory`, or the deprecated `[linuxkit].memory` when only that is set."""
        if linuxkit.memory is not None and self.options.is_default("memory"):
            return linuxkit.memory
        return self.memory

    def guest_cpus(self, linuxkit: LinuxkitSubsystem) -> int:
        """`cpus`, or the deprecated `[linuxkit].cpus` when only that is set."""
        if linuxkit.cpus is not None and self.options.is_default("cpus"):
            return linuxkit.cpus
        return self.cpus


@dataclass(frozen=True)
class LinuxkitImageRunFieldSet(RunFieldSet):
    required_fields = (LinuxkitImageSourceField,)
    run_in_sandbox_behavior = RunInSandboxBehavior.NOT_SUPPORTED

    source: LinuxkitImageSourceField
    formats: LinuxkitImageFormatsField
    disk_size: LinuxkitImageDiskSizeField


BLANK_DISK = "{chroot}/blank-disk.raw"


class FormatNotRunnable(LinuxkitError):
    pass


def run_config(
    fmt: Format, name: str, cmdline: str, ovmf: tuple[str, str] | None, **common: object
) -> QemuConfig:
    """QEMU settings that boot output `fmt` of image `name` from the run's directory ({chroot})."""
    out = "{chroot}/" + fmt.outputs(name)[0]
    efi = dict(efi_code="{chroot}/" + ovmf[0], efi_vars="{chroot}/" + ovmf[1]) if ovmf else {}
    media = fmt.boot_media()
    if media in ("kernel", "squashfs"):
        files = {k: "{chroot}/" + v for k, v in fmt.boot_files(name).items()}
        if media == "squashfs":
            cmdline = f"{cmdline} root={SQUASHFS_ROOT}"
            common["disks"] = (files["image"], *common.pop("disks", ()))  # type: ignore[misc]
        return QemuConfig(kernel=files["kernel"], initrd=files["initrd"], cmdline=cmdline, **common)  # type: ignore[arg-type]
    if media == "cdrom":
        return QemuConfig(cdrom=out, **efi, **common)  # type: ignore[arg-type]
    if media == "disk":
        disks = (out, *common.pop("disks", ()))  # type: ignore[misc]
        return QemuConfig(disks=disks, **efi, **common)  # type: ignore[arg-type]
    raise FormatNotRunnable(
        f"--linuxkit-run-format={fmt.value}: `pants run` boots " + ", ".join(RUNNABLE_FORMAT_NAMES)
    )


@rule(desc="Prepare to boot a LinuxKit image", level=LogLevel.DEBUG)
async def run_linuxkit_image(
    field_set: LinuxkitImageRunFieldSet, linuxkit: LinuxkitSubsystem, run: LinuxkitRunSubsystem
) -> RunRequest:
    fmt = Format.parse(run.format, "--linuxkit-run-format")
    blank_size = parse_size(run.blank_disk, "--linuxkit-run-blank-disk") if run.blank_disk else 0
    boot = await Get(
        BootableImage,
        BootableImageRequest(field_set.address, fmt, "--linuxkit-run-format", "`pants run`"),
    )
    image_fs, built, qemu, firmware = boot.image, boot.built, boot.qemu, boot.firmware
    cmdline = ""
    if fmt.boot_media() in ("kernel", "squashfs"):
        cmdline_file = fmt.boot_files(image_fs.name)["cmdline"]
        cmdline_digest = await Get(Digest, DigestSubset(built.digest, PathGlobs([cmdline_file])))
        contents = await Get(DigestContents, Digest, cmdline_digest)
        cmdline = contents[0].content.decode() if contents else ""
    digest = built.digest
    ovmf = None
    if firmware.files:
        extracted = await Get(
            CoreProcessResult,
            CoreProcessRequest,
            CoreProcessRequest.for_manifest(
                OvmfManifest(deb=firmware.files[0], output="ovmf"),
                firmware.digest,
                "Extracting OVMF",
                output_files=["ovmf/code.fd", "ovmf/vars.fd"],
                verify_sha256=firmware.checks() or None,
            ),
        )
        digest = await Get(Digest, MergeDigests([built.digest, extracted.output_digest]))
        ovmf = ("ovmf/code.fd", "ovmf/vars.fd")
    cfg = run_config(
        fmt,
        image_fs.name,
        cmdline,
        ovmf,
        memory_mb=run.guest_memory(linuxkit),
        cpus=run.guest_cpus(linuxkit),
        accel=linuxkit.accel,
        ssh_port=linuxkit.ssh_port,
        disks=(*((BLANK_DISK,) if blank_size else ()), *run.disks),
        arch=image_fs.architecture,
    )
    argv = supervised(
        qemu_argv(cfg, qemu=qemu.path), (BLANK_DISK, blank_size) if blank_size else None
    )
    return RunRequest(digest=digest, args=tuple(argv))


def rules():
    return [*collect_rules(), *LinuxkitImageRunFieldSet.rules()]
