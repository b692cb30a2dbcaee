#!/usr/bin/env python3
"""What takes the room in an initrd: the largest files, and the total per container.

    python3 bench/initrd_sizes.py dist/sshd-initrd.img [--top 30]

Reads a gzip'd (or plain) newc cpio, as the image rule writes it, and prints
each regular file's size and its size gzip'd alone (what it adds to the
initrd, near enough), largest first, then the sums per container root
(`containers/<kind>/<name>`; the rest is the host root: init, runc, the kernel's
modules). A hard link counts once. Prints figures, asserts nothing.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import sys
import zlib
from pathlib import Path


def cpio_files(data: bytes) -> list[tuple[str, bytes]]:
    """(path, data) of every regular file with data in a newc archive."""
    out = []
    off = 0
    while off + 110 <= len(data):
        if data[off:off + 6] != b"070701":
            raise SystemExit(f"not a newc cpio at offset {off}")
        fields = [int(data[off + 6 + 8 * i: off + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_start = off + 110
        name = data[name_start:name_start + namesize - 1].decode("utf-8", "replace")
        body = (name_start + namesize + 3) & ~3
        if name == "TRAILER!!!":
            break
        if (mode & 0o170000) == 0o100000 and size:
            out.append((name, data[body:body + size]))
        off = (body + size + 3) & ~3
    return out


def owner(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:3]) if parts[0] == "containers" and len(parts) > 3 else "(host root)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("initrd")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    raw = Path(args.initrd).read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    files = [(len(zlib.compress(body, 6)), len(body), path) for path, body in cpio_files(data)]
    files.sort(reverse=True)
    print(f"{args.initrd}: {len(raw) / 1e6:.2f} MB as written, {len(data) / 1e6:.2f} MB as cpio")
    print(f"\n| gzip'd | size | file |\n|---|---|---|")
    for packed, size, path in files[:args.top]:
        print(f"| {packed / 1e6:.2f} MB | {size / 1e6:.2f} MB | {path} |")
    per = collections.Counter()
    for packed, _, path in files:
        per[owner(path)] += packed
    print(f"\n| gzip'd | root |\n|---|---|")
    for root, packed in per.most_common():
        print(f"| {packed / 1e6:.2f} MB | {root} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
