"""An in-memory file system tree: entries (files, directories, links, devices)
by normalized path, filled from directories, tars and OCI layers.
"""
from __future__ import annotations

import dataclasses
import os
import re
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

from linuxkit_rules.core.errors import ArchiveError

KINDS = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo")
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


def normalize_prefix(prefix: str) -> str:
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
    norm = normalize_prefix(pattern)
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
        self._add_tar(fileobj, normalize_prefix(prefix), oci_whiteouts, follow_symlinks=False)

    def add_directory(self, root: str | os.PathLike[str], prefix: str = "") -> None:
        """Add a directory from disk under `prefix`: files 0o755 if any exec bit is set
        else 0o644, dirs 0o755, symlinks kept, uid/gid 0. Host metadata is dropped."""
        prefix = normalize_prefix(prefix)
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
            raise ArchiveError(
                f"{entry.path}: hard link target {entry.target!r} is not in the tree"
            )
        if found.kind == "dir":
            raise ArchiveError(f"{entry.path}: hard link target {entry.target!r} is a directory")
        if found.kind != "file":
            return dataclasses.replace(found, path=entry.path)
        # Links share one inode: they take the file's metadata, so a tree read
        # back from any writer compares equal.
        return dataclasses.replace(
            entry, target=target, mode=found.mode, uid=found.uid, gid=found.gid
        )

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

    def _add_tar(
        self, fileobj: BinaryIO, prefix: str, oci_whiteouts: bool, follow_symlinks: bool
    ) -> None:
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
        rel = normalize_prefix(m.name)
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
                    Entry(
                        path,
                        kind,
                        st.st_mode & 0o7777,
                        devmajor=os.major(st.st_rdev),
                        devminor=os.minor(st.st_rdev),
                    )
                )
            elif stat.S_ISFIFO(st.st_mode):
                self.add(Entry(path, "fifo", st.st_mode & 0o7777))
            else:
                raise ArchiveError(f"{item.path}: unsupported file type (a socket?)")
