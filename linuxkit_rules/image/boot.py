"""What `pants run` and `pants test` share to boot an image: the image built with the
requested format, its QEMU and, for an EFI format, the locked firmware package."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import InvalidFieldException, WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from linuxkit_rules.core.media.formats import Format
from linuxkit_rules.image.format_tools import LockedDebsRequest
from linuxkit_rules.image.rules import BuiltImage, LinuxkitImageFieldSet
from linuxkit_rules.util_rules.debian import FetchedDebs
from linuxkit_rules.util_rules.host_tools import HostTool, HostToolRequest, qemu_for


@dataclass(frozen=True)
class BootableImageRequest:
    """Boot output `format` of the image at `address`. `origin` names where the format
    was chosen (an option or a field) and `user` what boots it, for error messages."""

    address: Address
    format: Format
    origin: str
    user: str


@dataclass(frozen=True)
class BootableImage:
    image: LinuxkitImageFieldSet
    built: BuiltImage
    qemu: HostTool
    firmware: FetchedDebs  # the EFI firmware .deb for an `*-efi` format, else empty


def check_format_built(
    fmt: Format, formats: tuple[str, ...] | None, image: str, origin: str
) -> None:
    """The error when the image does not build the format to boot."""
    if fmt.value not in (formats or ()):
        raise InvalidFieldException(
            f"{origin} is {fmt.value!r}, but {image} does not build it; its formats: "
            f"{', '.join(formats or ())}. Add it to the image's `formats`."
        )


@rule(desc="Prepare an image to boot", level=LogLevel.DEBUG)
async def bootable_image(request: BootableImageRequest) -> BootableImage:
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(request.address, description_of_origin=request.origin),
    )
    image = LinuxkitImageFieldSet.create(wrapped.target)
    check_format_built(request.format, image.formats.value, str(request.address), request.origin)
    arch = image.architecture
    firmware_debs = (arch.efi_firmware_package(),) if request.format.firmware() == "efi" else ()
    built, qemu, firmware = await MultiGet(
        Get(BuiltImage, LinuxkitImageFieldSet, image),
        Get(HostTool, HostToolRequest, qemu_for(arch)),
        Get(FetchedDebs, LockedDebsRequest(firmware_debs, request.user, "firmware", arch.value)),
    )
    return BootableImage(image, built, qemu, firmware)


def rules():
    return collect_rules()
