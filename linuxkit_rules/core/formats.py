"""Output formats of an image, with what each one writes."""
from __future__ import annotations

import enum


class Format(enum.Enum):
    KERNEL_INITRD = "kernel+initrd"
    DOCKER = "docker"

    def outputs(self, name: str) -> tuple[str, ...]:
        """File names this format writes for an image called `name`, as `linuxkit build` does."""
        if self is Format.KERNEL_INITRD:
            return (f"{name}-kernel", f"{name}-initrd.img", f"{name}-cmdline")
        if self is Format.DOCKER:
            return (f"{name}-docker.tar",)
        raise AssertionError(self)


FORMAT_NAMES: tuple[str, ...] = tuple(f.value for f in Format)
