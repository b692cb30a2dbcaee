from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.media.squashfs import (
    SquashfsError,
    loader_initramfs,
    loader_modules,
    pseudo_definitions,
    squashfs_entries,
    write_squashfs,
)

MKSQUASHFS = shutil.which("mksquashfs") or "/usr/bin/mksquashfs"
needs_tools = pytest.mark.skipif(
    shutil.which("mksquashfs") is None or shutil.which("unsquashfs") is None,
    reason="squashfs-tools not installed",
)
MTIME = 1700000000
UTC = {"PATH": "/usr/bin:/bin", "TZ": "UTC"}


def sample(order: int = 1) -> Tree:
    entries = [
        Entry("bin/busybox", "file", 0o755, data=b"\x7fELF busybox" * 300),
        Entry("etc/secret", "file", 0o600, uid=1000, gid=100, data=b"s"),
        Entry("etc/link", "symlink", 0o777, uid=5, gid=6, target="secret"),
        Entry("etc/hard", "hardlink", 0o600, uid=1000, gid=100, target="etc/secret"),
        Entry("dev/console", "char", 0o600, devmajor=5, devminor=1),
        Entry("run/fifo", "fifo", 0o640),
        Entry("tmp", "dir", 0o1777),
        Entry("home/user", "dir", 0o700, uid=1000, gid=1000),
    ]
    tree = Tree()
    for e in sorted(
        entries[::order], key=lambda e: e.kind == "hardlink"
    ):  # a link after its target
        tree.add(e)
    return tree


@needs_tools
def test_squashfs_is_reproducible_and_keeps_metadata(tmp_path: Path) -> None:
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    write_squashfs(sample(1), str(a), MTIME, [MKSQUASHFS])
    write_squashfs(sample(-1), str(b), MTIME, [MKSQUASHFS])  # other insertion order, same tree
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    listing = subprocess.run(
        ["unsquashfs", "-lln", str(a)], capture_output=True, text=True, check=True, env=UTC
    ).stdout
    lines = {
        line.split()[-1] if "->" not in line else line.split()[-3]: line.split()
        for line in listing.splitlines()
    }
    assert lines["squashfs-root/bin/busybox"][:2] == ["-rwxr-xr-x", "0/0"]
    assert lines["squashfs-root/etc/secret"][:2] == ["-rw-------", "1000/100"]
    assert lines["squashfs-root/etc/link"][:2] == ["lrwxrwxrwx", "5/6"]
    assert lines["squashfs-root/dev/console"][0] == "crw-------"
    assert lines["squashfs-root/run/fifo"][0] == "prw-r-----"
    assert lines["squashfs-root/tmp"][0] == "drwxrwxrwt"
    assert lines["squashfs-root/home/user"][:2] == ["drwx------", "1000/1000"]
    # the mount points a read-only root needs were added
    for d in ("proc", "sys", "mnt"):
        assert lines[f"squashfs-root/{d}"][:2] == ["drwxr-xr-x", "0/0"]
    # one timestamp everywhere, the file system's own included
    assert set(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", listing)) == {"2023-11-14 22:13"}
    stat = subprocess.run(
        ["unsquashfs", "-s", str(a)], capture_output=True, text=True, check=True, env=UTC
    ).stdout
    assert "Creation or last append time Tue Nov 14 22:13:20 2023" in stat
    hard = subprocess.run(
        ["unsquashfs", "-cat", str(a), "etc/hard"], capture_output=True, check=True
    ).stdout
    assert hard == b"s"


@needs_tools
def test_content_change_changes_bytes(tmp_path: Path) -> None:
    tree = sample()
    write_squashfs(tree, str(tmp_path / "a.img"), MTIME, [MKSQUASHFS])
    tree.add(Entry("etc/secret", "file", 0o600, uid=1000, gid=100, data=b"t"))
    write_squashfs(tree, str(tmp_path / "b.img"), MTIME, [MKSQUASHFS])
    assert (tmp_path / "a.img").read_bytes() != (tmp_path / "b.img").read_bytes()


def test_names_mksquashfs_cannot_hold_are_rejected() -> None:
    tree = Tree()
    tree.add(Entry("etc/with space", "file", 0o644, data=b""))
    with pytest.raises(
        SquashfsError, match=r"kernel\+squashfs: 'etc/with space'.*white space or a quote"
    ):
        pseudo_definitions(squashfs_entries(tree), MTIME, {"etc/with space": "/blob"})


def test_mount_points_are_added_once() -> None:
    tree = sample()
    tree.add(Entry("proc", "dir", 0o555))
    paths = [e.path for e in squashfs_entries(tree)]
    assert paths.count("proc") == 1 and "mnt" in paths and "sys" in paths
    assert [e.mode for e in squashfs_entries(tree) if e.path == "proc"] == [0o555]


def with_modules(tree: Tree) -> Tree:
    base = "lib/modules/6.1.0-56-amd64"
    dep = (
        "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n"
        "kernel/fs/squashfs/squashfs.ko:\n"
        "kernel/drivers/virtio/virtio_ring.ko:\n"
        "kernel/drivers/virtio/virtio.ko:\n"
    )
    tree.add(Entry(f"{base}/modules.dep", "file", 0o644, data=dep.encode()))
    for line in dep.splitlines():
        tree.add(Entry(f"{base}/{line.split(':')[0]}", "file", 0o644, data=line.encode()))
    return tree


def test_loader_loads_modular_drivers_dependencies_first() -> None:
    config = "CONFIG_VIRTIO_PCI=m\nCONFIG_VIRTIO_BLK=m\nCONFIG_SQUASHFS=m\n"
    base, order = loader_modules(config, with_modules(sample()), "//kernel:debian")
    assert base == "lib/modules/6.1.0-56-amd64"
    assert order == [
        "kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko", "kernel/fs/squashfs/squashfs.ko",
    ]  # fmt: skip
    # built in: nothing to load
    builtin = "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=y\nCONFIG_SQUASHFS=y\n"
    assert loader_modules(builtin, sample(), "//kernel:linux")[1] == []


def test_loader_names_the_missing_module_and_option() -> None:
    config = "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=y\nCONFIG_SQUASHFS=m\n"
    with pytest.raises(SquashfsError, match=r"//kernel:x has CONFIG_SQUASHFS=m but its kernel.tar does not carry "
                       r"'squashfs'; add 'squashfs' to the kernel target's `modules`"):  # fmt: skip
        loader_modules(config, sample(), "//kernel:x")
    with pytest.raises(
        SquashfsError, match=r"//kernel:x has no CONFIG_SQUASHFS \(neither =y nor =m\)"
    ):
        loader_modules("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=y\n", sample(), "//kernel:x")


def _cpio_names(data: bytes) -> dict[str, bytes]:
    raw = gzip.decompress(data)
    out: dict[str, bytes] = {}
    pos = 0
    while True:
        header = raw[pos : pos + 110]
        namesize, filesize = int(header[94:102], 16), int(header[54:62], 16)
        name = raw[pos + 110 : pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = raw[pos : pos + filesize]
        pos = (pos + filesize + 3) & ~3


def test_loader_initramfs_holds_busybox_modules_and_init() -> None:
    config = "CONFIG_VIRTIO_PCI=m\nCONFIG_VIRTIO_BLK=m\nCONFIG_SQUASHFS=m\n"
    tree = with_modules(sample())
    data = loader_initramfs(tree, config, "//kernel:debian", "/dev/vda", MTIME)
    assert data == loader_initramfs(tree, config, "//kernel:debian", "/dev/vda", MTIME)
    files = _cpio_names(data)
    assert files["bin/busybox"] == tree.get("bin/busybox").data  # type: ignore[union-attr]
    assert "lib/modules/kernel/fs/squashfs/squashfs.ko" in files and "dev/console" in files
    init = files["init"].decode()
    assert "root=/dev/vda" in init and "switch_root /sysroot /init" in init
    assert init.index("virtio.ko") < init.index("virtio_blk.ko") < init.index("squashfs.ko")
    no_busybox = with_modules(Tree())
    with pytest.raises(SquashfsError, match=r"no /bin/busybox"):
        loader_initramfs(no_busybox, config, "//kernel:debian", "/dev/vda", MTIME)
