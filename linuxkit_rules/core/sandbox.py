"""Running a build tool from a toolchain root instead of the host's PATH.

A toolchain root is a directory unpacked from locked Debian packages (see
`core/debian/toolchain.py`). `Toolchain.command(tool)` gives the command line
that runs `tool` under bubblewrap (`bwrap`): every top-level entry of the root
mounted read-only at `/`, the process's working directory (and any extra
binds) read-write at the same path, fresh `/proc`, `/dev` and `/tmp`, and no
network. The root of the new mount namespace is bwrap's own tmpfs, so mount
points for the working directory can be created wherever it lies.

`bwrap` is the one host binary left; its version keys the cache on the rule
side, like every host tool's.
"""
from __future__ import annotations

import os
import posixpath
import subprocess
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from linuxkit_rules.core.errors import LinuxkitError

# The PATH inside the sandbox, searched (in this order) for a tool name.
SANDBOX_PATH = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
# Directories the sandbox provides itself; the root's own copies are not mounted.
_PROVIDED = ("proc", "dev", "tmp")
# Entries of the root a bound directory may not shadow.
_ESSENTIAL = ("usr", "etc", "bin", "sbin", "lib", "lib64")
_MAX_SYMLINK_HOPS = 40


class ToolchainError(LinuxkitError):
    pass


class MissingToolchainTool(ToolchainError):
    pass


def resolve_in_root(root: str, path: str) -> str | None:
    """The real file `path` names inside `root`, following symlinks as a process
    whose `/` is `root` would (absolute targets are relative to `root`); None when
    it does not exist or loops. The result is a host path under `root`."""
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        host = os.path.join(root, *resolved, part)
        if os.path.islink(host):
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                return None
            target = os.readlink(host)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        if not os.path.lexists(host):
            return None
        resolved.append(part)
    return os.path.join(root, *resolved)


def sandbox_argv(
    bwrap: str,
    root: str,
    top_level: Mapping[str, str],
    cwd: str,
    binds: Sequence[str] = (),
    bind_cwd: bool = True,
) -> list[str]:
    """The bwrap options (up to and including `--`) that run a command with `root`
    over `/`. `top_level` maps each entry of the root to "dir", "file" or a
    symlink's target ("-> TARGET"); `cwd` and `binds` are absolute host paths,
    bound read-write at the same path (`cwd` not bound itself when it lies inside
    one of `binds`). Pure: the caller lists the root."""
    argv = [bwrap, "--die-with-parent", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    # A bound path's top directory comes from the host, not the root: bwrap cannot
    # make mount points inside a read-only bind (base-files ships /root, and Pants'
    # named caches live under /root/.cache).
    bound_tops = {p.strip("/").split("/")[0] for p in (cwd, *binds)}
    for name in sorted(top_level):
        if name in _PROVIDED:
            continue
        if name in bound_tops:
            if name in _ESSENTIAL:
                raise ToolchainError(
                    f"cannot bind {[p for p in (cwd, *binds) if p.strip('/').split('/')[0] == name]}"
                    f" into the sandbox: it lies under /{name}, which the toolchain root provides"
                )
            continue
        kind = top_level[name]
        if kind.startswith("-> "):
            argv += ["--symlink", kind[3:], f"/{name}"]
        else:
            argv += ["--ro-bind", posixpath.join(root, name), f"/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in ((cwd,) if bind_cwd else ()) + tuple(binds):
        argv += ["--bind", path, path]
    # HOME: the root has no /etc/passwd (base-passwd's postinst writes it), and
    # tools such as ccache need a home even when told where their files go.
    argv += ["--chdir", cwd, "--setenv", "PATH", ":".join(SANDBOX_PATH), "--setenv", "HOME", "/tmp"]
    argv += ["--"]
    return argv


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _outermost(paths: Sequence[str]) -> tuple[str, ...]:
    """`paths` without those inside another one (bwrap would bind both, and the
    inner bind would be redundant); order kept."""
    kept: list[str] = []
    for p in paths:
        if any(_inside(p, k) for k in kept):
            continue
        kept = [k for k in kept if not _inside(k, p)] + [p]
    return tuple(kept)


def list_top_level(root: str) -> dict[str, str]:
    """`root`'s entries as `sandbox_argv` wants them."""
    entries = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.islink(path):
            entries[name] = "-> " + os.readlink(path)
        else:
            entries[name] = "dir" if os.path.isdir(path) else "file"
    return entries


@dataclass(frozen=True)
class Toolchain:
    """A toolchain root in the process's sandbox, and how to enter it.

    `root` is relative to the process's working directory (or absolute); `target`
    is the `debian_toolchain` address, named in errors; `bwrap` the launcher's
    absolute host path; `binds` more host directories bound read-write (a named
    cache the build keeps between runs)."""

    root: str
    target: str
    bwrap: str
    binds: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Toolchain:
        try:
            return cls(
                root=str(raw["root"]),
                target=str(raw["target"]),
                bwrap=str(raw["bwrap"]),
                binds=tuple(str(b) for b in raw.get("binds", ())),
            )
        except KeyError as e:
            raise ToolchainError(f"toolchain manifest: missing key {e}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "target": self.target,
            "bwrap": self.bwrap,
            "binds": list(self.binds),
        }

    def _host_root(self) -> str:
        # The sandbox holds the root as a symlink to Pants' immutable inputs;
        # bwrap mounts the real directory.
        return os.path.realpath(self.root)

    def tool_path(self, tool: str) -> str:
        """`tool`'s path inside the sandbox, searched on SANDBOX_PATH; raises
        MissingToolchainTool naming the tool and the toolchain target."""
        root = self._host_root()
        if not os.path.isdir(root):
            raise ToolchainError(f"toolchain {self.target}: root {self.root!r} is not a directory")
        for directory in SANDBOX_PATH:
            candidate = posixpath.join(directory, tool)
            real = resolve_in_root(root, candidate)
            if real is not None and os.path.isfile(real) and os.access(real, os.X_OK):
                return candidate
        raise MissingToolchainTool(
            f"the toolchain {self.target} has no `{tool}` (searched {':'.join(SANDBOX_PATH)} in "
            f"its root); add the Debian package that provides it to the target's `packages` "
            "and run `pants generate-lockfiles`"
        )

    def command(self, tool: str, cwd: str | None = None, requires: Sequence[str] = ()) -> list[str]:
        """The argv prefix that runs `tool` from the toolchain: append its arguments.
        `requires` names the tools `tool` itself runs (mksquashfs runs `cat` for its
        pseudo files, and would write empty files without it): each must be there."""
        if not os.path.isfile(self.bwrap) or not os.access(self.bwrap, os.X_OK):
            raise ToolchainError(
                f"{self.bwrap}: the sandbox launcher is missing; install the Debian package "
                "`bubblewrap` (./pants installs it when run as root)"
            )
        path = self.tool_path(tool)
        for other in requires:
            self.tool_path(other)
        root = self._host_root()
        here = os.path.abspath(cwd or os.getcwd())
        # The process's own working directory is always there: the step's
        # inputs and outputs live in it, whatever directory the tool runs in.
        binds = _outermost([os.getcwd(), *(os.path.realpath(b) for b in self.binds)])
        extra = tuple(b for b in binds if b != here)
        if any(_inside(here, b) for b in extra):
            return [
                *sandbox_argv(self.bwrap, root, list_top_level(root), here, extra, bind_cwd=False),
                path,
            ]
        return [*sandbox_argv(self.bwrap, root, list_top_level(root), here, extra), path]

    def run(
        self, tool: str, args: Sequence[str], **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """`subprocess.run` of `tool args...` in the sandbox (kwargs as subprocess.run's)."""
        cwd = kwargs.get("cwd")
        return subprocess.run([*self.command(tool, cwd), *args], **kwargs)
