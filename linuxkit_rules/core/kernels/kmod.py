"""Kernel modules: `.modinfo` from ELF, dependency closure, modules.dep/alias."""
from __future__ import annotations

import lzma
import posixpath
import struct
from dataclasses import dataclass
from typing import Iterable, Mapping

from linuxkit_rules.core.errors import LinuxkitError


class ModuleError(LinuxkitError):
    pass


def modinfo(ko: bytes) -> list[tuple[str, str]]:
    """The key=value pairs of an ELF64 little-endian module's `.modinfo` section."""
    if ko[:4] != b"\x7fELF" or ko[4] != 2 or ko[5] != 1:
        raise ModuleError("not an ELF64 little-endian kernel module")
    (shoff,) = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, off, size

    _, str_off, _ = section(shstrndx)
    for i in range(shnum):
        name_off, off, size = section(i)
        end = ko.index(b"\0", str_off + name_off)
        if ko[str_off + name_off : end] == b".modinfo":
            pairs = []
            for item in ko[off : off + size].split(b"\0"):
                if b"=" in item:
                    k, _, v = item.decode(errors="replace").partition("=")
                    pairs.append((k, v))
            return pairs
    return []


def module_name(path: str) -> str:
    """`kernel/drivers/net/virtio_net.ko.xz` -> `virtio_net` (dashes become underscores)."""
    base = posixpath.basename(path)
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def decompress_module(path: str, data: bytes) -> tuple[str, bytes]:
    """A module as a plain `.ko`: busybox's modprobe reads no compressed modules."""
    if path.endswith(".ko.xz"):
        return path[: -len(".xz")], lzma.decompress(data)
    if path.endswith(".ko.gz"):
        import gzip

        return path[: -len(".gz")], gzip.decompress(data)
    if path.endswith(".ko.zst"):
        raise ModuleError(f"{path}: zstd-compressed modules are not supported")
    return path, data


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # relative to lib/modules/VERSION, e.g. kernel/drivers/net/virtio_net.ko
    depends: tuple[str, ...]
    aliases: tuple[str, ...]


def make_module(path: str, ko: bytes) -> Module:
    info = modinfo(ko)
    depends: tuple[str, ...] = ()
    for k, v in info:
        if k == "depends" and v:
            depends = tuple(d.replace("-", "_") for d in v.split(","))
    aliases = tuple(sorted(v for k, v in info if k == "alias"))
    return Module(module_name(path), path, depends, aliases)


def builtin_names(modules_builtin: bytes) -> frozenset[str]:
    """The module names in a kernel's `modules.builtin` (one `kernel/...ko` path a line)."""
    return frozenset(module_name(line) for line in modules_builtin.decode().split() if line)


def closure(
    modules: Mapping[str, Module], wanted: Iterable[str], builtin: frozenset[str] = frozenset()
) -> list[Module]:
    """The wanted modules and everything they depend on, dependencies first.

    A wanted name in `builtin` (the kernel has it built in) is an error that says
    so: there is no module to ship, and the name should go from the list."""
    order: list[Module] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        key = name.replace("-", "_")
        if key in seen:
            return
        if key not in modules:
            via = " <- ".join(reversed(chain)) if chain else "requested"
            if key in builtin:
                raise ModuleError(
                    f"kernel module {name!r} is built into this kernel (modules.builtin), "
                    f"so there is no module to ship; remove it from the list ({via})"
                )
            raise ModuleError(f"kernel module {name!r} not found in this kernel ({via})")
        seen.add(key)
        for dep in modules[key].depends:
            visit(dep, chain + (key,))
        order.append(modules[key])

    for name in wanted:
        visit(name, ())
    return order


def modules_dep(chosen: Iterable[Module], modules: Mapping[str, Module]) -> str:
    """modules.dep text (depmod's format): each module with all its dependencies."""
    lines = []
    for m in sorted(chosen, key=lambda m: m.path):
        deps = [d.path for d in closure(modules, m.depends)]
        deps.reverse()  # modprobe loads from the end of the list
        lines.append(f"{m.path}: {' '.join(deps)}".rstrip())
    return "".join(line + "\n" for line in lines)


def modules_alias(chosen: Iterable[Module]) -> str:
    lines = [f"alias {a} {m.name}" for m in sorted(chosen, key=lambda m: m.name) for a in m.aliases]
    return "".join(line + "\n" for line in lines)
