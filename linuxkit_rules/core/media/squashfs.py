"""`kernel+squashfs`: the root filesystem as a reproducible squashfs, and the
small loader initramfs that mounts it when the kernel has the drivers as modules.

The squashfs is written by Debian's `mksquashfs` (squashfs-tools) from a
pseudo file that describes every entry (type, mode, owner, time; file data
read from staged blobs), an empty source directory, times pinned with
`-all-time`/`-mkfs-time`, no extended attributes, one fixed root owner and
mode; mksquashfs sorts directories itself. The bytes depend on the tree only.
"""
from __future__ import annotations

import hashlib
import io
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from typing import Iterable, Mapping, Sequence

from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import gzip_writer, write_cpio_newc
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.kernels.kconfig import parse_config


class SquashfsError(LinuxkitError):
    pass


# Directories a read-only root must already have: the kernel and init mount
# over them (init copies the root into a tmpfs mounted on /mnt).
MOUNT_POINTS = ("dev", "proc", "sys", "mnt")

# What mounting the root needs: (kernel option, module that provides it).
ROOT_DRIVERS = (
    ("CONFIG_VIRTIO_PCI", "virtio_pci"),
    ("CONFIG_VIRTIO_BLK", "virtio_blk"),
    ("CONFIG_SQUASHFS", "squashfs"),
)

_SAFE_NAME = re.compile(r"^[^\s\"'\\]+$")


def squashfs_entries(tree: Tree) -> list[Entry]:
    """The tree's entries plus the mount points a read-only root needs."""
    entries = tree.entries()
    have = {e.path for e in entries}
    entries += [Entry(d, "dir", 0o755) for d in MOUNT_POINTS if d not in have]
    return sorted(entries, key=lambda e: e.path.encode())


def pseudo_definitions(entries: Iterable[Entry], mtime: int, blob_path: Mapping[str, str]) -> str:
    """The whole tree as mksquashfs pseudo definitions, parents first: `D`
    directories, `F` files (read by `cat` from their staged blob), `S` symlinks,
    `L` hard links, `C`/`B` devices, `I` fifos. (squashfs-tools 4.5 cannot
    change a staged directory's owner when anything below it is a pseudo
    entry, so nothing comes from a staged tree.)"""
    lines = []
    links = []
    for e in entries:
        for text in (e.path, e.target):
            if text and not _SAFE_NAME.match(text):
                raise SquashfsError(
                    f"kernel+squashfs: {e.path!r}: {text!r} contains white space or a quote, which "
                    "mksquashfs's pseudo file cannot hold; rename it or use another format"
                )
        head = f"/{e.path} {e.kind[0].upper()} {mtime} {e.mode:o} {e.uid} {e.gid}"
        if e.kind == "dir":
            lines.append(head)
        elif e.kind == "file":
            lines.append(
                f"/{e.path} F {mtime} {e.mode:o} {e.uid} {e.gid} /bin/cat {blob_path[e.path]}"
            )
        elif e.kind == "symlink":
            lines.append(f"/{e.path} S {mtime} 777 {e.uid} {e.gid} {e.target}")
        elif e.kind == "hardlink":
            links.append(f"/{e.path} L /{e.target}")  # after their targets
        elif e.kind in ("char", "block"):
            lines.append(f"{head} {e.devmajor} {e.devminor}")
        elif e.kind == "fifo":
            lines.append(f"/{e.path} I {mtime} {e.mode:o} {e.uid} {e.gid} f")
        else:
            raise SquashfsError(f"kernel+squashfs: {e.path!r}: unsupported entry kind {e.kind!r}")
    return "".join(line + "\n" for line in lines + links)


def write_squashfs(tree: Tree, out: str, mtime: int, mksquashfs: Sequence[str]) -> None:
    """Write `tree` as a gzip-compressed squashfs at `out`, reproducibly.
    `mksquashfs` is the argv prefix that runs it (a toolchain's sandbox command,
    whose /tmp is private: the work files sit beside `out`)."""
    entries = squashfs_entries(tree)
    work = tempfile.mkdtemp(prefix="lkr-squashfs-", dir=os.path.dirname(os.path.abspath(out)))
    try:
        root = os.path.join(work, "empty")
        os.mkdir(root)
        blobs = os.path.join(work, "blobs")
        os.mkdir(blobs)
        blob_path: dict[str, str] = {}
        for e in entries:
            if e.kind == "file":
                path = os.path.join(blobs, hashlib.sha256(e.data).hexdigest())
                if not os.path.exists(path):
                    with open(path, "wb") as f:
                        f.write(e.data)
                blob_path[e.path] = path
        pseudo = os.path.join(work, "pseudo")
        with open(pseudo, "w", encoding="utf-8") as f:
            f.write(pseudo_definitions(entries, mtime, blob_path))
        argv = [
            *mksquashfs, root, out, "-noappend", "-no-progress", "-quiet", "-reproducible", "-no-xattrs",
            "-all-time", str(mtime), "-mkfs-time", str(mtime), "-root-mode", "755",
            "-root-uid", "0", "-root-gid", "0", "-pf", pseudo,
        ]  # fmt: skip
        r = subprocess.run(argv, capture_output=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        if r.returncode != 0:
            raise SquashfsError(
                f"mksquashfs failed ({r.returncode}): {r.stderr.decode(errors='replace')[-2000:]}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _module_paths(tree: Tree) -> tuple[str, dict[str, str], dict[str, list[str]]]:
    """(modules dir, module name -> path, path -> dependency paths) from the tree's modules.dep."""
    deps_files = [
        e for e in tree.entries() if re.fullmatch(r"lib/modules/[^/]+/modules\.dep", e.path)
    ]
    if not deps_files:
        return "", {}, {}
    base = posixpath.dirname(deps_files[0].path)
    names: dict[str, str] = {}
    deps: dict[str, list[str]] = {}
    for line in deps_files[0].data.decode().splitlines():
        if ":" not in line:
            continue
        path, _, rest = line.partition(":")
        name = posixpath.basename(path).split(".ko")[0].replace("-", "_")
        names[name] = path
        deps[path] = rest.split()
    return base, names, deps


def loader_modules(config_text: str, tree: Tree, kernel: str) -> tuple[str, list[str]]:
    """The module files (relative to lib/modules/VERSION, load order) that the
    loader must insert before it can mount the root; empty when all is built in."""
    config = parse_config(config_text)
    base, names, deps = _module_paths(tree)
    order: list[str] = []
    for option, module in ROOT_DRIVERS:
        value = config.get(option)
        if value == "y":
            continue
        if value != "m":
            raise SquashfsError(
                f"kernel+squashfs: kernel {kernel} has no {option} (neither =y nor =m); "
                "it cannot mount a squashfs root from a virtio disk"
            )
        if module not in names:
            raise SquashfsError(
                f"kernel+squashfs: kernel {kernel} has {option}=m but its kernel.tar does not carry "
                f"{module!r}; add {module!r} to the kernel target's `modules` (or build it in)"
            )
        for path in [*reversed(deps[names[module]]), names[module]]:
            if path not in order:
                order.append(path)
    return base, order


def loader_init(modules: Iterable[str], root: str) -> bytes:
    """The loader's /init: insert the modules, wait for the root device, mount
    the squashfs read-only and hand over to the image's own /init."""
    mods = " ".join(modules)
    return f"""#!/bin/busybox sh
# kernel+squashfs loader (linuxkit-rules): mounts the squashfs root, then runs
# the image's /init on it (which copies it into a tmpfs, see pkg/init).
bb=/bin/busybox
$bb mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
$bb mount -t proc proc /proc
for m in {mods}; do
	$bb insmod "/lib/modules/$m" || echo "squashfs loader: insmod $m failed"
done
root={root}
for arg in $($bb cat /proc/cmdline); do
	case "$arg" in root=*) root=${{arg#root=}} ;; esac
done
i=0
while [ ! -b "$root" ]; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		echo "squashfs loader: root device $root did not appear"; exec $bb sh
	fi
	$bb sleep 0.1
done
$bb mount -t squashfs -o ro "$root" /sysroot || {{ echo "squashfs loader: cannot mount $root"; exec $bb sh; }}
$bb umount /proc
$bb mount --move /dev /sysroot/dev
exec $bb switch_root /sysroot /init
""".encode()


def loader_initramfs(tree: Tree, config_text: str, kernel: str, root: str, mtime: int) -> bytes:
    """A gzip'd newc cpio: busybox (the image's own), the root drivers the
    kernel has as modules, and the loader /init."""
    busybox = tree.get("bin/busybox")
    if busybox is None or busybox.kind != "file":
        raise SquashfsError(
            "kernel+squashfs: the image has no /bin/busybox (from linuxkit/init), which its loader initramfs runs"
        )
    base, modules = loader_modules(config_text, tree, kernel)
    loader = Tree()
    for d in ("dev", "proc", "sys", "sysroot"):
        loader.add(Entry(d, "dir", 0o755))
    loader.add(Entry("dev/console", "char", 0o600, devmajor=5, devminor=1))
    loader.add(Entry("bin/busybox", "file", 0o755, data=busybox.data))
    loader.add(Entry("init", "file", 0o755, data=loader_init(modules, root)))
    for path in modules:
        ko = tree.get(f"{base}/{path}")
        assert ko is not None, path
        loader.add(Entry(f"lib/modules/{path}", "file", 0o644, data=ko.data))
    buf = io.BytesIO()
    with gzip_writer(buf) as gz:
        write_cpio_newc(loader.entries(), gz, mtime)  # type: ignore[arg-type]
    return buf.getvalue()


def read_kernel_config(kernel_dir: str) -> str:
    with open(os.path.join(kernel_dir, "config"), encoding="utf-8", errors="replace") as f:
        return f.read()
