"""Byte-level archives: an in-memory filesystem tree, deterministic tar, newc cpio,
gzip, and Debian `.deb` reading.

Every writer is a pure function of its entries and the `mtime` the caller passes
(SOURCE_DATE_EPOCH): uid/gid come from the entries, user and group names are
empty, and nothing from the host (time, names, inode numbers) reaches the output.
"""
from __future__ import annotations

import dataclasses
import gzip
import io
import os
import re
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

from linuxkit_rules.core.errors import ArchiveError

KINDS = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo")

_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}

_S_IFMT = {
    "file": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "char": stat.S_IFCHR,
    "block": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
}

# Symlink hops allowed while resolving a path inside a tree (Linux uses 40).
_MAX_SYMLINK_HOPS = 40


@dataclass(frozen=True)
class Entry:
    """One filesystem object. `mode` holds permission bits only (<= 0o7777)."""

    path: str
    kind: str
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes = b""
    target: str = ""
    devmajor: int = 0
    devminor: int = 0


def normalize_path(path: str) -> str:
    """Return `path` as a relative POSIX path with no empty, "." or ".." parts.

    Leading "/" and "./" are stripped and "//" collapsed. Raises ArchiveError for a
    ".." part (it could escape the root) and for a path that names the root itself.
    """
    if "\0" in path:
        raise ArchiveError(f"{path!r}: a path may not contain a NUL byte")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{path!r}: '..' is not allowed in an archive path")
    if not parts:
        raise ArchiveError(f"{path!r}: an archive path may not be empty or the root itself")
    return "/".join(parts)


def _normalize_prefix(prefix: str) -> str:
    """Like normalize_path, but the root ("", ".", "/") is allowed and gives ""."""
    if prefix.strip("/.") == "" and ".." not in prefix:
        return ""
    return normalize_path(prefix)


def _join(prefix: str, rel: str) -> str:
    return f"{prefix}/{rel}" if prefix else rel


def _parent(path: str) -> str:
    i = path.rfind("/")
    return path[:i] if i >= 0 else ""


def _sort_key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _check_entry(entry: Entry) -> Entry:
    """Validate an entry and return it with a normalised path."""
    path = normalize_path(entry.path)
    if path != entry.path:
        entry = dataclasses.replace(entry, path=path)
    if entry.kind not in KINDS:
        raise ArchiveError(f"{path}: kind {entry.kind!r} is not allowed; one of {', '.join(KINDS)}")
    if not 0 <= entry.mode <= 0o7777:
        raise ArchiveError(
            f"{path}: mode {entry.mode:#o} is not allowed; permission bits only (0 to 0o7777)"
        )
    if entry.uid < 0 or entry.gid < 0:
        raise ArchiveError(f"{path}: uid/gid must not be negative (got {entry.uid}/{entry.gid})")
    if entry.data and entry.kind != "file":
        raise ArchiveError(f"{path}: only a file may carry data, not a {entry.kind}")
    if entry.kind in ("symlink", "hardlink") and not entry.target:
        raise ArchiveError(f"{path}: a {entry.kind} needs a target")
    return entry


def _glob_regex(pattern: str) -> str:
    """Translate a path glob to a regex: `*`, `?` and `[...]` stay inside one path
    component; a `**` component matches any number of components (zero included);
    a trailing `/**` matches everything strictly below the directory."""
    norm = _normalize_prefix(pattern)
    if not norm:
        raise ArchiveError(f"{pattern!r}: an empty pattern would match the whole tree")
    comps = norm.split("/")
    out = ""
    for i, comp in enumerate(comps):
        last = i == len(comps) - 1
        if comp == "**":
            out += ".*" if last else "(?:.*/)?"
        else:
            out += _glob_component(comp) + ("" if last else "/")
    return out


def _glob_component(comp: str) -> str:
    res = ""
    i = 0
    while i < len(comp):
        c = comp[i]
        j = -1
        if c == "[":
            start = i + 1
            if comp[start : start + 1] == "!":
                start += 1
            if comp[start : start + 1] == "]":
                start += 1
            j = comp.find("]", start)
        if c == "*":
            res += "[^/]*"
        elif c == "?":
            res += "[^/]"
        elif j > 0:
            body = comp[i + 1 : j]
            neg = body.startswith("!")
            if neg:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            if body.startswith("^"):
                body = "\\" + body
            res += "[" + ("^/" if neg else "") + body + "]"
            i = j
        else:
            res += re.escape(c)
        i += 1
    return res


class Tree:
    """In-memory filesystem, path -> Entry. Later additions win (overlay).

    Invariants: every ancestor of an entry exists as a "dir" entry; a "hardlink"
    entry always points at a "file" entry in the tree. Removing or replacing a file
    that hard links point at keeps the data alive under the first remaining link
    (as a real filesystem does).
    """

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._children: dict[str, set[str]] = {"": set()}
        self._links: dict[str, set[str]] = {}

    # -- queries ---------------------------------------------------------------

    def get(self, path: str) -> Entry | None:
        return self._entries.get(normalize_path(path))

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        try:
            return normalize_path(path) in self._entries
        except ArchiveError:
            return False

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        """All entries sorted by path bytes (so parents come before children)."""
        return [self._entries[p] for p in sorted(self._entries, key=_sort_key)]

    def file_bytes(self) -> int:
        """Total size of file data (hard links are not counted again)."""
        return sum(len(e.data) for e in self._entries.values() if e.kind == "file")

    # -- mutation --------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        """Add or replace one entry, creating missing parents as 0o755 root dirs.

        A non-dir replacing a dir drops the dir's subtree; a dir over a dir keeps the
        children and takes the new mode and owner; a non-dir in the way of a parent
        is replaced by a dir. A hard link to a non-file (symlink, device) is stored
        as a copy of its target, since only regular files share data."""
        entry = _check_entry(entry)
        path = entry.path
        self._ensure_parents(path)
        old = self._entries.get(path)
        if old is not None:
            if old.kind == "dir" and entry.kind == "dir":
                self._entries[path] = entry
                return
            if entry.kind == "hardlink":
                target = normalize_path(entry.target)
                if target == path or (old.kind == "hardlink" and target == old.target):
                    return  # a link to itself, or the same link again
            self._remove(path)
        if entry.kind == "hardlink":
            entry = self._resolve_hardlink(entry)
        self._entries[path] = entry
        self._children[_parent(path)].add(path)
        if entry.kind == "dir":
            self._children[path] = set()
        elif entry.kind == "hardlink":
            self._links.setdefault(entry.target, set()).add(path)

    def remove(self, path: str) -> None:
        """Remove `path` and its subtree; an absent path is fine."""
        path = normalize_path(path)
        if path in self._entries:
            self._remove(path)

    def remove_globs(self, patterns: Iterable[str]) -> int:
        """Remove every entry (with its subtree) whose path matches one of the globs.

        `*`, `?` and `[...]` match within one path component, `**` any number of
        components: "usr/share/doc/**" empties the directory, "**/*.pyc" matches at
        any depth. Returns the number of entries removed, subtrees included."""
        regexes = [_glob_regex(p) for p in patterns]
        if not regexes:
            return 0
        matcher = re.compile("(?:" + "|".join(regexes) + r")\Z", re.DOTALL)
        matched = sorted((p for p in self._entries if matcher.match(p)), key=_sort_key)
        before = len(self._entries)
        for p in matched:
            if p in self._entries:  # not already gone with an ancestor
                self._remove(p)
        return before - len(self._entries)

    def copy_subtree(self, src: str, dst: str) -> None:
        """Copy `src` (and everything below it) to `dst`. Hard links between two
        copied entries point at the copy; links to outside `src` are kept."""
        src = normalize_path(src)
        dst = normalize_path(dst)
        if src not in self._entries:
            raise ArchiveError(f"{src}: cannot copy, it is not in the tree")
        paths = sorted(self._subtree(src), key=_sort_key)
        originals = [self._entries[p] for p in paths]

        def moved(p: str) -> str:
            return dst + p[len(src) :]

        inside = set(paths)
        for e in originals:
            if e.kind != "hardlink":
                self.add(dataclasses.replace(e, path=moved(e.path)))
        for e in originals:
            if e.kind == "hardlink":
                target = moved(e.target) if e.target in inside else e.target
                self.add(dataclasses.replace(e, path=moved(e.path), target=target))

    def add_tar(self, fileobj: BinaryIO, prefix: str = "", oci_whiteouts: bool = False) -> None:
        """Add every member of a tar stream (plain, gzip, bzip2 or xz; detected) under
        `prefix`. With `oci_whiteouts`, ".wh.NAME" hides NAME and ".wh..wh..opq" hides
        a directory's lower content, per the OCI image-spec: a whiteout applies to
        what was in the tree before this tar, not to members of the same tar."""
        self._add_tar(fileobj, _normalize_prefix(prefix), oci_whiteouts, follow_symlinks=False)

    def add_directory(self, root: str | os.PathLike[str], prefix: str = "") -> None:
        """Add a directory from disk under `prefix`: files 0o755 if any exec bit is set
        else 0o644, dirs 0o755, symlinks kept, uid/gid 0. Host metadata is dropped."""
        prefix = _normalize_prefix(prefix)
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise ArchiveError(f"{root}: not a directory")
        if prefix:
            self.add(Entry(prefix, "dir", 0o755))
        self._add_dir_contents(root, prefix)

    # -- internals -------------------------------------------------------------

    def _ensure_parents(self, path: str) -> None:
        parent = _parent(path)
        if not parent:
            return
        existing = self._entries.get(parent)
        if existing is not None and existing.kind == "dir":
            return  # the invariant guarantees the rest of the chain
        self._ensure_parents(parent)
        if existing is not None:
            self._remove(parent)
        self._entries[parent] = Entry(parent, "dir", 0o755)
        self._children[_parent(parent)].add(parent)
        self._children[parent] = set()

    def _resolve_hardlink(self, entry: Entry) -> Entry:
        target = normalize_path(entry.target)
        found = self._entries.get(target)
        if found is not None and found.kind == "hardlink":
            target = found.target
            found = self._entries[target]
        if found is None:
            raise ArchiveError(f"{entry.path}: hard link target {entry.target!r} is not in the tree")
        if found.kind == "dir":
            raise ArchiveError(f"{entry.path}: hard link target {entry.target!r} is a directory")
        if found.kind != "file":
            return dataclasses.replace(found, path=entry.path)
        # Links share one inode: they take the file's metadata, so a tree read
        # back from any writer compares equal.
        return dataclasses.replace(entry, target=target, mode=found.mode, uid=found.uid, gid=found.gid)

    def _subtree(self, path: str) -> Iterator[str]:
        stack = [path]
        while stack:
            p = stack.pop()
            yield p
            stack.extend(self._children.get(p, ()))

    def _remove(self, path: str) -> None:
        doomed = list(self._subtree(path))
        removed: dict[str, Entry] = {}
        for p in doomed:
            e = self._entries[p]
            if e.kind == "hardlink":
                links = self._links[e.target]
                links.discard(p)
                if not links:
                    del self._links[e.target]
        for p in doomed:
            removed[p] = self._entries.pop(p)
            self._children.pop(p, None)
        self._children[_parent(path)].discard(path)
        for p in doomed:
            survivors = self._links.pop(p, None)
            if survivors:
                # The file lives on under its first remaining name.
                first, *rest = sorted(survivors, key=_sort_key)
                self._entries[first] = dataclasses.replace(removed[p], path=first)
                for other in rest:
                    self._entries[other] = dataclasses.replace(self._entries[other], target=first)
                if rest:
                    self._links[first] = set(rest)

    def _resolve_parents(self, path: str, include_last: bool = False) -> str:
        """Follow symlinks in the tree along `path`'s directories (as dpkg does when
        a package ships /lib/x and /lib is a symlink). Absolute symlink targets are
        taken relative to the tree root; ".." stops at the root."""
        parts = path.split("/")
        pending = parts if include_last else parts[:-1]
        last = [] if include_last else parts[-1:]
        out: list[str] = []
        hops = 0
        while pending:
            comp, pending = pending[0], pending[1:]
            if comp in ("", "."):
                continue
            if comp == "..":
                if out:
                    out.pop()
                continue
            candidate = "/".join(out + [comp])
            e = self._entries.get(candidate)
            if e is not None and e.kind == "symlink":
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    raise ArchiveError(f"{path}: too many levels of symbolic links")
                if e.target.startswith("/"):
                    out = []
                pending = e.target.split("/") + pending
            else:
                out.append(comp)
        joined = "/".join(out + last)
        return joined

    def _add_tar(self, fileobj: BinaryIO, prefix: str, oci_whiteouts: bool, follow_symlinks: bool) -> None:
        added: set[str] = set()  # paths this tar added, and their ancestors
        try:
            # Stream mode: one forward pass, works on pipes, and measured no
            # slower than random access (faster for xz).
            tf = tarfile.open(fileobj=fileobj, mode="r|*")
        except (tarfile.TarError, EOFError, OSError) as e:
            raise ArchiveError(f"not a readable tar archive: {e}") from None
        try:
            with tf:
                for member in tf:
                    self._add_member(tf, member, prefix, oci_whiteouts, follow_symlinks, added)
        except (tarfile.TarError, EOFError, OSError, ValueError) as e:
            raise ArchiveError(f"corrupt tar archive: {e}") from None

    def _add_member(
        self,
        tf: tarfile.TarFile,
        m: tarfile.TarInfo,
        prefix: str,
        oci_whiteouts: bool,
        follow_symlinks: bool,
        added: set[str],
    ) -> None:
        rel = _normalize_prefix(m.name)
        if not rel:
            if prefix and m.isdir():
                self.add(Entry(prefix, "dir", m.mode & 0o7777, m.uid, m.gid))
            return
        path = _join(prefix, rel)
        base = path.rsplit("/", 1)[-1]
        if oci_whiteouts and base.startswith(".wh."):
            parent = _parent(path)
            if base == ".wh..wh..opq":
                for child in list(self._children.get(parent, ())):
                    self._hide(child, added)
            else:
                self._hide(_join(parent, base[len(".wh.") :]), added)
            return
        if follow_symlinks:
            path = self._resolve_parents(path)
            existing = self._entries.get(path)
            if m.isdir() and existing is not None and existing.kind == "symlink":
                return  # dpkg keeps a symlink standing where a package has a directory
        mode = m.mode & 0o7777
        if m.isreg():
            f = tf.extractfile(m)
            data = f.read() if f is not None else b""
            if len(data) != m.size:
                raise ArchiveError(f"{m.name}: truncated member ({len(data)} of {m.size} bytes)")
            entry = Entry(path, "file", mode, m.uid, m.gid, data=data)
        elif m.isdir():
            entry = Entry(path, "dir", mode, m.uid, m.gid)
        elif m.issym():
            entry = Entry(path, "symlink", mode, m.uid, m.gid, target=m.linkname)
        elif m.islnk():
            target = _join(prefix, normalize_path(m.linkname))
            if follow_symlinks:
                target = self._resolve_parents(target)
            entry = Entry(path, "hardlink", mode, m.uid, m.gid, target=target)
        elif m.ischr() or m.isblk():
            kind = "char" if m.ischr() else "block"
            entry = Entry(path, kind, mode, m.uid, m.gid, devmajor=m.devmajor, devminor=m.devminor)
        elif m.isfifo():
            entry = Entry(path, "fifo", mode, m.uid, m.gid)
        else:
            raise ArchiveError(f"{m.name}: unsupported tar member type {m.type!r}")
        self.add(entry)
        while path and path not in added:
            added.add(path)
            path = _parent(path)

    def _hide(self, path: str, keep: set[str]) -> None:
        """Remove what a whiteout hides: `path` and its subtree, except what this
        layer added (`keep` holds those paths and their ancestors)."""
        stack = [path]
        while stack:
            p = stack.pop()
            if p not in self._entries:
                continue
            if p not in keep:
                self._remove(p)
            else:
                stack.extend(self._children.get(p, ()))

    def _add_dir_contents(self, directory: str, prefix: str) -> None:
        with os.scandir(directory) as it:
            items = sorted(it, key=lambda d: os.fsencode(d.name))
        for item in items:
            path = _join(prefix, normalize_path(item.name))
            st = item.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                self.add(Entry(path, "symlink", 0o777, target=os.readlink(item.path)))
            elif stat.S_ISDIR(st.st_mode):
                self.add(Entry(path, "dir", 0o755))
                self._add_dir_contents(item.path, path)
            elif stat.S_ISREG(st.st_mode):
                with open(item.path, "rb") as f:
                    data = f.read()
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                self.add(Entry(path, "file", mode, data=data))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "char" if stat.S_ISCHR(st.st_mode) else "block"
                self.add(
                    Entry(path, kind, st.st_mode & 0o7777, devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev))
                )
            elif stat.S_ISFIFO(st.st_mode):
                self.add(Entry(path, "fifo", st.st_mode & 0o7777))
            else:
                raise ArchiveError(f"{item.path}: unsupported file type (a socket?)")


# -- writers -------------------------------------------------------------------


def _prepare(entries: Iterable[Entry]) -> tuple[list[Entry], dict[str, list[str]]]:
    """Validate entries and group hard links.

    Returns the entries (paths normalised) and, for every file that hard links point
    at, the paths of the file and its links in output order."""
    items = [_check_entry(e) for e in entries]
    by_path: dict[str, Entry] = {}
    for e in items:
        if e.path in by_path:
            raise ArchiveError(f"{e.path}: appears twice in the archive")
        by_path[e.path] = e
    canonical: dict[str, str] = {}
    for e in items:
        if e.kind != "hardlink":
            continue
        seen = {e.path}
        target = normalize_path(e.target)
        while True:
            t = by_path.get(target)
            if t is None:
                raise ArchiveError(f"{e.path}: hard link target {e.target!r} is not in the archive")
            if t.kind == "file":
                break
            if t.kind != "hardlink":
                raise ArchiveError(f"{e.path}: hard link target {e.target!r} is a {t.kind}, not a file")
            if target in seen:
                raise ArchiveError(f"{e.path}: hard link loop through {target!r}")
            seen.add(target)
            target = normalize_path(t.target)
        canonical[e.path] = target
    targets = set(canonical.values())
    groups: dict[str, list[str]] = {}
    for e in items:
        key = canonical.get(e.path) or (e.path if e.path in targets else None)
        if key is not None:
            groups.setdefault(key, []).append(e.path)
    return items, groups


def _check_mtime(mtime: int) -> None:
    if not isinstance(mtime, int) or mtime < 0:
        raise ArchiveError(f"mtime {mtime!r} is not allowed; a non-negative integer (SOURCE_DATE_EPOCH)")


def write_tar(entries: Iterable[Entry], fileobj: BinaryIO, mtime: int) -> None:
    """Write a deterministic PAX tar of `entries`, in the order given.

    Every member gets `mtime`, empty user/group names and the entry's uid/gid.
    Hard-linked files are written the way tar readers need them: the first member
    of a link group (in output order) carries the data and the others link to it,
    whichever of them was the link in the tree."""
    _check_mtime(mtime)
    items, groups = _prepare(entries)
    by_path = {e.path: e for e in items}
    member_of = {p: key for key, paths in groups.items() for p in paths}
    written = 0
    for e in items:
        key = member_of.get(e.path)
        data = b""
        if key is not None:
            source = by_path[key]
            first = groups[key][0]
            ti = _tarinfo(dataclasses.replace(source, path=e.path), mtime)
            if e.path == first:
                data = source.data
                ti.size = len(data)
            else:
                ti.type = tarfile.LNKTYPE
                ti.linkname = first
                ti.size = 0
        else:
            ti = _tarinfo(e, mtime)
            data = e.data
        header = ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        fileobj.write(header)
        written += len(header)
        if data:
            fileobj.write(data)
            pad = -len(data) % tarfile.BLOCKSIZE
            fileobj.write(b"\0" * pad)
            written += len(data) + pad
    end = 2 * tarfile.BLOCKSIZE
    written += end
    end += -written % tarfile.RECORDSIZE
    fileobj.write(b"\0" * end)


def _tarinfo(e: Entry, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(e.path)
    ti.type = _TAR_TYPES[e.kind]
    ti.mode = e.mode
    ti.uid = e.uid
    ti.gid = e.gid
    ti.uname = ""
    ti.gname = ""
    ti.mtime = mtime
    if e.kind == "file":
        ti.size = len(e.data)
    elif e.kind in ("symlink", "hardlink"):
        ti.linkname = e.target
    elif e.kind in ("char", "block"):
        ti.devmajor = e.devmajor
        ti.devminor = e.devminor
    return ti


def _newc_header(
    ino: int, mode: int, e: Entry, nlink: int, mtime: int, size: int, name: bytes
) -> bytes:
    fields = (ino, mode, e.uid, e.gid, nlink, mtime, size, 0, 0, e.devmajor, e.devminor, len(name) + 1, 0)
    for value in fields:
        if value >= 1 << 32:
            raise ArchiveError(f"{e.path}: value {value} does not fit a cpio newc header (32 bits)")
    header = b"070701" + b"".join(b"%08X" % v for v in fields) + name + b"\0"
    return header + b"\0" * (-len(header) % 4)


def write_cpio_newc(entries: Iterable[Entry], fileobj: BinaryIO, mtime: int) -> None:
    """Write a newc ("070701") cpio archive, the format of a Linux initramfs.

    Entries are written in the order given (parents must come first; use
    Tree.entries()). Inode numbers are assigned from 1 in that order; dirs have
    nlink 2, others 1. Hard links are kept as links, as the kernel and GNU cpio
    expect: every member of a link group has the same inode and nlink equal to the
    group size, and only the last member carries the data (the others have size 0).
    Ends with "TRAILER!!!" and zero padding to a 512-byte boundary."""
    _check_mtime(mtime)
    items, groups = _prepare(entries)
    by_path = {e.path: e for e in items}
    member_of = {p: key for key, paths in groups.items() for p in paths}
    group_ino: dict[str, int] = {}
    next_ino = 1
    written = 0
    for e in items:
        key = member_of.get(e.path)
        name = e.path.encode("utf-8", "surrogateescape")
        if key is not None:
            source = by_path[key]
            if key not in group_ino:
                group_ino[key] = next_ino
                next_ino += 1
            ino = group_ino[key]
            members = groups[key]
            data = source.data if e.path == members[-1] else b""
            meta = dataclasses.replace(source, path=e.path)
            header = _newc_header(ino, stat.S_IFREG | source.mode, meta, len(members), mtime, len(data), name)
        else:
            ino = next_ino
            next_ino += 1
            if e.kind == "symlink":
                data = e.target.encode("utf-8", "surrogateescape")
            else:
                data = e.data
            nlink = 2 if e.kind == "dir" else 1
            header = _newc_header(ino, _S_IFMT[e.kind] | e.mode, e, nlink, mtime, len(data), name)
        fileobj.write(header)
        written += len(header)
        if data:
            pad = -len(data) % 4
            fileobj.write(data)
            fileobj.write(b"\0" * pad)
            written += len(data) + pad
    trailer = _newc_header(0, 0, Entry("TRAILER!!!", "file", 0), 1, 0, 0, b"TRAILER!!!")
    written += len(trailer)
    fileobj.write(trailer + b"\0" * (-written % 512))


def gzip_writer(fileobj: BinaryIO, level: int = 6) -> gzip.GzipFile:
    """A gzip stream over `fileobj` with a fixed header: mtime 0 and no file name.
    Close it to flush (closing it does not close `fileobj`). Output bytes depend
    only on the input, `level` and the zlib version."""
    return gzip.GzipFile(filename="", mode="wb", fileobj=fileobj, compresslevel=level, mtime=0)


# -- Debian packages -----------------------------------------------------------


@dataclass(frozen=True)
class DebArchive:
    """The parts of a .deb a build needs: `control` (the control file's bytes) and
    `data`, the data.tar member still compressed as `data_name` says."""

    control: bytes
    data: bytes
    data_name: str


_DEB_COMPRESSIONS = ("", ".gz", ".xz", ".bz2")


def _read_exact(fileobj: BinaryIO, n: int, what: str) -> bytes:
    buf = fileobj.read(n)
    if len(buf) != n:
        raise ArchiveError(f"{what}: truncated .deb (wanted {n} bytes, got {len(buf)})")
    return buf


def _check_compression(member: str, stem: str, where: str) -> None:
    suffix = member[len(stem) :]
    if suffix == ".zst":
        raise ArchiveError(
            f"{where}: member {member!r} is zstd-compressed, which the Python standard library "
            "cannot read; use a package compressed with xz, gzip or bzip2"
        )
    if suffix not in _DEB_COMPRESSIONS:
        raise ArchiveError(
            f"{where}: member {member!r} has an unknown compression; allowed: "
            + ", ".join(stem + s for s in _DEB_COMPRESSIONS)
        )


def read_deb(fileobj: BinaryIO) -> DebArchive:
    """Parse a .deb (an ar archive): return the `control` file and the raw,
    still-compressed data.tar member. Raises ArchiveError for a malformed package
    or an unsupported compression (zstd)."""
    where = str(getattr(fileobj, "name", "<deb>"))
    if fileobj.read(8) != b"!<arch>\n":
        raise ArchiveError(f"{where}: not a Debian package (no ar magic)")
    version = control_tar = data = None
    control_name = data_name = ""
    while True:
        header = fileobj.read(60)
        if not header:
            break
        if len(header) != 60 or header[58:60] != b"`\n":
            raise ArchiveError(f"{where}: malformed ar member header")
        name = header[:16].decode("ascii", "replace").rstrip(" ").rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ArchiveError(f"{where}: member {name!r} has a bad size field") from None
        body = _read_exact(fileobj, size, where)
        if size % 2:
            fileobj.read(1)
        if name == "debian-binary":
            version = body
        elif name.startswith("control.tar"):
            _check_compression(name, "control.tar", where)
            control_name, control_tar = name, body
        elif name.startswith("data.tar"):
            _check_compression(name, "data.tar", where)
            data_name, data = name, body
    if version is None or not version.startswith(b"2."):
        raise ArchiveError(f"{where}: missing or unsupported debian-binary (want format 2.x)")
    if control_tar is None or data is None:
        missing = "control.tar.*" if control_tar is None else "data.tar.*"
        raise ArchiveError(f"{where}: missing member {missing}")
    control = None
    try:
        with tarfile.open(fileobj=io.BytesIO(control_tar), mode="r:*") as tf:
            for m in tf:
                if m.isreg() and _normalize_prefix(m.name) == "control":
                    f = tf.extractfile(m)
                    control = f.read() if f is not None else b""
                    break
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ArchiveError(f"{where}: {control_name} is not a readable tar: {e}") from None
    if control is None:
        raise ArchiveError(f"{where}: {control_name} has no control file")
    return DebArchive(control=control, data=data, data_name=data_name)


def add_deb(tree: Tree, fileobj: BinaryIO) -> None:
    """Unpack a .deb's data into `tree` with dpkg's semantics for directory
    symlinks: a path under a symlinked directory (e.g. lib -> usr/lib on a
    merged-/usr system) lands at the symlink's target, and a directory member
    never replaces a symlink."""
    deb = read_deb(fileobj)
    tree._add_tar(io.BytesIO(deb.data), "", oci_whiteouts=False, follow_symlinks=True)


__all__ = [
    "DebArchive",
    "Entry",
    "KINDS",
    "Tree",
    "add_deb",
    "gzip_writer",
    "normalize_path",
    "read_deb",
    "write_cpio_newc",
    "write_tar",
]
