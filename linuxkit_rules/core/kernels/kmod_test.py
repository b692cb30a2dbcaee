from __future__ import annotations

import lzma
import struct

import pytest

from linuxkit_rules.core.kernels.kmod import (
    Module,
    ModuleError,
    builtin_names,
    closure,
    decompress_module,
    make_module,
    modinfo,
    module_name,
    modules_alias,
    modules_dep,
)


def elf_module(info: dict[str, list[str]]) -> bytes:
    """A minimal ELF64 little-endian object with a `.modinfo` section."""
    modinfo_data = b"".join(f"{k}={v}".encode() + b"\0" for k, vs in info.items() for v in vs)
    shstrtab = b"\0.shstrtab\0.modinfo\0"
    data_off = 64
    strtab_off = data_off + len(modinfo_data)
    shoff = strtab_off + len(shstrtab)
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header += struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 1)

    def sh(name: int, off: int, size: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, 1, 0, 0, off, size, 0, 0, 1, 0)

    sections = bytes(64) + sh(1, strtab_off, len(shstrtab)) + sh(11, data_off, len(modinfo_data))
    return header + modinfo_data + shstrtab + sections


def test_modinfo_reads_the_section() -> None:
    ko = elf_module({"depends": ["crc32c_generic,libcrc32c"], "alias": ["fs-ext4", "ext3"]})
    assert modinfo(ko) == [
        ("depends", "crc32c_generic,libcrc32c"),
        ("alias", "fs-ext4"),
        ("alias", "ext3"),
    ]
    m = make_module("kernel/fs/ext4/ext4.ko", ko)
    assert m == Module(
        "ext4", "kernel/fs/ext4/ext4.ko", ("crc32c_generic", "libcrc32c"), ("ext3", "fs-ext4")
    )


def test_not_an_elf64_module() -> None:
    with pytest.raises(ModuleError, match="not an ELF64 little-endian kernel module"):
        modinfo(b"\x7fELF\x01\x01" + bytes(64))
    with pytest.raises(ModuleError):
        modinfo(b"MZ" + bytes(100))


def test_module_names_and_decompression() -> None:
    assert module_name("kernel/drivers/net/virtio_net.ko.xz") == "virtio_net"
    assert module_name("kernel/crypto/crc32c-generic.ko") == "crc32c_generic"
    raw = elf_module({})
    assert decompress_module("a/x.ko.xz", lzma.compress(raw)) == ("a/x.ko", raw)
    assert decompress_module("a/x.ko", raw) == ("a/x.ko", raw)
    with pytest.raises(ModuleError, match="zstd"):
        decompress_module("a/x.ko.zst", b"")


MODULES = {
    "ext4": Module("ext4", "kernel/fs/ext4/ext4.ko", ("mbcache", "jbd2"), ("fs-ext4",)),
    "jbd2": Module("jbd2", "kernel/fs/jbd2/jbd2.ko", ("crc32c_generic",), ()),
    "mbcache": Module("mbcache", "kernel/fs/mbcache.ko", (), ()),
    "crc32c_generic": Module("crc32c_generic", "kernel/crypto/crc32c_generic.ko", (), ()),
}


def test_closure_puts_dependencies_first_and_names_the_chain() -> None:
    names = [m.name for m in closure(MODULES, ["ext4", "crc32c-generic"])]
    assert names == ["mbcache", "crc32c_generic", "jbd2", "ext4"]
    broken = {**MODULES, "jbd2": Module("jbd2", "j.ko", ("gone",), ())}
    with pytest.raises(ModuleError, match=r"'gone' not found in this kernel \(jbd2 <- ext4\)"):
        closure(broken, ["ext4"])
    with pytest.raises(ModuleError, match=r"'nope' not found in this kernel \(requested\)"):
        closure(MODULES, ["nope"])


def test_closure_names_a_built_in_module() -> None:
    builtin = builtin_names(b"kernel/crypto/cbc.ko\nkernel/drivers/block/virtio-blk.ko\n")
    assert builtin == {"cbc", "virtio_blk"}
    with pytest.raises(
        ModuleError,
        match=r"'cbc' is built into this kernel .*remove it from the list \(requested\)",
    ):
        closure(MODULES, ["ext4", "cbc"], builtin)
    assert [m.name for m in closure(MODULES, ["ext4"], builtin)][-1] == "ext4"


def test_modules_dep_and_alias_follow_depmod() -> None:
    chosen = closure(MODULES, ["ext4"])
    assert modules_dep(chosen, MODULES) == (
        "kernel/crypto/crc32c_generic.ko:\n"
        "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/crypto/crc32c_generic.ko "
        "kernel/fs/mbcache.ko\n"
        "kernel/fs/jbd2/jbd2.ko: kernel/crypto/crc32c_generic.ko\n"
        "kernel/fs/mbcache.ko:\n"
    )
    assert modules_alias(chosen) == "alias fs-ext4 ext4\n"
