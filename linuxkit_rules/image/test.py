"""`pants test` on a `linuxkit_image_test`: boot the image in QEMU and check it."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from pants.core.goals.test import (
    TestFieldSet,
    TestRequest,
    TestResult,
    TestSubsystem,
    TestTimeoutField,
)
from pants.engine.addresses import Address
from pants.engine.fs import Digest, GlobMatchErrorBehavior, MergeDigests, PathGlobs, Snapshot
from pants.engine.internals.native_engine import AddressInput
from pants.engine.internals.selectors import MultiGet
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import (
    FieldSet,
    HydratedSources,
    HydrateSourcesRequest,
    InferDependenciesRequest,
    InferredDependencies,
)
from pants.engine.unions import UnionRule
from pants.option.option_types import SkipOption
from pants.option.subsystem import Subsystem
from pants.util.logging import LogLevel

from linuxkit_rules.core.boot.boottest import BootTestManifest
from linuxkit_rules.core.media.formats import Format
from linuxkit_rules.image.boot import BootableImage, BootableImageRequest
from linuxkit_rules.target_types import (
    LinuxkitImageTestBootsField,
    LinuxkitImageTestDiskInterfaceField,
    LinuxkitImageTestDiskSizeField,
    LinuxkitImageTestFormatField,
    LinuxkitImageTestImageField,
    LinuxkitImageTestMemoryField,
    LinuxkitImageTestReadyField,
    LinuxkitImageTestScriptField,
    LinuxkitImageTestSshKeyField,
)
from linuxkit_rules.util_rules.core_tool import CoreProcessRequest
from linuxkit_rules.util_rules.host_tools import SSH, HostTool, HostToolRequest, host_tool_keys


class LinuxkitImageTestSubsystem(Subsystem):
    options_scope = "linuxkit-boot-test"
    name = "LinuxKit boot tests"
    help = "Boot tests of LinuxKit images in QEMU (`linuxkit_image_test` targets)."

    skip = SkipOption("test")


@dataclass(frozen=True)
class LinuxkitImageTestFieldSet(TestFieldSet):
    required_fields = (LinuxkitImageTestImageField, LinuxkitImageTestScriptField)

    sources: LinuxkitImageTestScriptField
    image: LinuxkitImageTestImageField
    ssh_key: LinuxkitImageTestSshKeyField
    ready: LinuxkitImageTestReadyField
    memory: LinuxkitImageTestMemoryField
    disk_size: LinuxkitImageTestDiskSizeField
    disk_interface: LinuxkitImageTestDiskInterfaceField
    format: LinuxkitImageTestFormatField
    boots: LinuxkitImageTestBootsField
    timeout: TestTimeoutField


class LinuxkitImageTestRequest(TestRequest):
    tool_subsystem = LinuxkitImageTestSubsystem
    field_set_type = LinuxkitImageTestFieldSet


@dataclass(frozen=True)
class ImageTestDependenciesFieldSet(FieldSet):
    required_fields = (LinuxkitImageTestImageField,)
    image: LinuxkitImageTestImageField


class InferImageTestDependencies(InferDependenciesRequest):
    infer_from = ImageTestDependenciesFieldSet


@dataclass(frozen=True)
class TestedImage:
    address: Address


@rule(desc="Find the image a boot test boots", level=LogLevel.DEBUG)
async def tested_image(fs: ImageTestDependenciesFieldSet) -> TestedImage:
    address = await Get(
        Address,
        AddressInput,
        AddressInput.parse(
            fs.image.value or "",
            relative_to=fs.address.spec_path,
            description_of_origin=f"the `image` field of {fs.address}",
        ),
    )
    return TestedImage(address)


@rule(desc="Infer the image a boot test boots", level=LogLevel.DEBUG)
async def infer_image_test_dependencies(
    request: InferImageTestDependencies,
) -> InferredDependencies:
    image = await Get(TestedImage, ImageTestDependenciesFieldSet, request.field_set)
    return InferredDependencies([image.address])


@rule(desc="Boot-test a LinuxKit image", level=LogLevel.DEBUG)
async def run_linuxkit_image_test(
    batch: LinuxkitImageTestRequest.Batch[LinuxkitImageTestFieldSet, Any],
    test_subsystem: TestSubsystem,
) -> TestResult:
    fs = batch.single_element
    image = await Get(
        TestedImage,
        ImageTestDependenciesFieldSet,
        ImageTestDependenciesFieldSet(fs.address, fs.image),
    )
    fmt = Format.parse(fs.format.value or Format.KERNEL_INITRD.value, f"{fs.address}: format")
    key_path = posixpath.join(fs.address.spec_path, fs.ssh_key.value) if fs.ssh_key.value else None
    boot, script, key, ssh = await MultiGet(
        Get(
            BootableImage,
            BootableImageRequest(
                image.address, fmt, f"The `format` field of {fs.address}", f"boot test {fs.address}"
            ),
        ),
        Get(HydratedSources, HydrateSourcesRequest(fs.sources)),
        Get(
            Snapshot,
            PathGlobs(
                [key_path] if key_path else [],
                glob_match_error_behavior=GlobMatchErrorBehavior.error,
                description_of_origin=f"the `ssh_key` field of {fs.address}",
            ),
        ),
        Get(HostTool, HostToolRequest, SSH),
    )
    image_fs, built, qemu, firmware = boot.image, boot.built, boot.qemu, boot.firmware
    files = fmt.boot_files(image_fs.name)
    inputs = await Get(
        Digest, MergeDigests([built.digest, script.snapshot.digest, key.digest, firmware.digest])
    )
    timeout = fs.timeout.calculate_from_global_options(test_subsystem) or 600
    process = await Get(
        Process,
        CoreProcessRequest,
        CoreProcessRequest.for_manifest(
            BootTestManifest(
                kernel=files.get("kernel"),
                initrd=files.get("initrd"),
                cmdline_file=files.get("cmdline"),
                format=fmt.value,
                media=fmt.boot_media(),
                firmware=fmt.firmware(),
                image_file=files.get("image"),
                ovmf_deb=firmware.files[0] if firmware.files else None,
                script=script.snapshot.files[0],
                ssh_key=key_path,
                ready=fs.ready.value or "",
                memory=fs.memory.value or 1024,
                disk_size=fs.disk_size.value,
                disk_interface=fs.disk_interface.value or "virtio",
                boots=fs.boots.value or 1,
                qemu=qemu.path,
                arch=image_fs.architecture.value,
                ssh=ssh.path,
                timeout=timeout,
            ),
            inputs,
            f"Boot test {fs.address}",
            output_files=["console.log"],
            verify_sha256=firmware.checks() or None,
            host_tools=host_tool_keys([qemu, ssh]),
            env={"PATH": "/usr/bin:/bin"},
            timeout_seconds=timeout + 60,
        ),
    )
    result = await Get(FallibleProcessResult, Process, process)
    return TestResult.from_fallible_process_result(
        result, address=fs.address, output_setting=test_subsystem.output
    )


def rules():
    return [
        *collect_rules(),
        *LinuxkitImageTestRequest.rules(),
        UnionRule(InferDependenciesRequest, InferImageTestDependencies),
    ]
