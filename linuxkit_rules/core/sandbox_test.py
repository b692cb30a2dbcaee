"""The sandbox command line, and real runs under bwrap over a small root."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from linuxkit_rules.core.sandbox import (
    MissingToolchainTool,
    Toolchain,
    ToolchainError,
    resolve_in_root,
    sandbox_argv,
)

BWRAP = shutil.which("bwrap")
needs_bwrap = pytest.mark.skipif(BWRAP is None, reason="bubblewrap is not installed")


def test_argv_mounts_the_root_read_only_and_binds_the_working_directory() -> None:
    argv = sandbox_argv(
        "/usr/bin/bwrap",
        "/r",
        {"usr": "dir", "bin": "-> usr/bin", "proc": "dir", "tmp": "dir", "etc": "dir"},
        "/tmp/sandbox-1",
        ("/cache/k",),
    )
    assert argv[0] == "/usr/bin/bwrap" and argv[-1] == "--"
    assert "--unshare-net" in argv
    text = " ".join(argv)
    assert "--ro-bind /r/usr /usr" in text and "--ro-bind /r/etc /etc" in text
    assert "--symlink usr/bin /bin" in text
    assert "/r/proc" not in text and "/r/tmp" not in text  # the sandbox's own
    # the private /tmp first, so a working directory under /tmp stays visible
    assert text.index("--tmpfs /tmp") < text.index("--bind /tmp/sandbox-1 /tmp/sandbox-1")
    assert "--bind /cache/k /cache/k" in text
    assert "--chdir /tmp/sandbox-1" in text
    assert "--setenv HOME /tmp" in text  # the root has no passwd file to find one in


def test_a_bound_path_shadows_the_root_entry_it_lies_under() -> None:
    top = {"usr": "dir", "root": "dir", "etc": "dir"}
    argv = " ".join(
        sandbox_argv("bwrap", "/r", top, "/tmp/s", ("/root/.cache/pants/named_caches/k",))
    )
    assert "/r/root" not in argv and "--ro-bind /r/usr /usr" in argv
    assert "--bind /root/.cache/pants/named_caches/k /root/.cache/pants/named_caches/k" in argv
    with pytest.raises(ToolchainError, match="lies under /usr"):
        sandbox_argv("bwrap", "/r", top, "/usr/src/work")


def test_resolve_in_root_follows_links_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/gcc-12").write_text("x")
    os.symlink("usr/bin", tmp_path / "bin")
    os.symlink("/usr/bin/gcc-12", tmp_path / "usr/bin/gcc")  # absolute: inside the root
    os.symlink("gcc", tmp_path / "usr/bin/cc")
    os.symlink("loop", tmp_path / "usr/bin/loop")
    assert resolve_in_root(str(tmp_path), "/bin/cc") == str(tmp_path / "usr/bin/gcc-12")
    assert resolve_in_root(str(tmp_path), "/usr/bin/loop") is None
    assert resolve_in_root(str(tmp_path), "/usr/bin/none") is None


def test_a_missing_tool_names_the_tool_and_the_target(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    toolchain = Toolchain(str(tmp_path), "//toolchain:image", BWRAP or "/usr/bin/bwrap")
    with pytest.raises(MissingToolchainTool, match=r"//toolchain:image has no `mksquashfs`"):
        toolchain.command("mksquashfs")


def test_a_tool_the_tool_runs_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/mksquashfs").write_text("")
    os.chmod(tmp_path / "usr/bin/mksquashfs", 0o755)
    toolchain = Toolchain(str(tmp_path), "//toolchain:image", BWRAP or "/usr/bin/bwrap")
    if BWRAP is not None:
        assert toolchain.command("mksquashfs")[-1] == "/usr/bin/mksquashfs"
    with pytest.raises(MissingToolchainTool, match=r"//toolchain:image has no `cat`"):
        toolchain.command("mksquashfs", requires=["cat"])


def test_a_host_without_bwrap_is_one_clear_error(tmp_path: Path) -> None:
    toolchain = Toolchain(str(tmp_path), "//toolchain:image", str(tmp_path / "no-bwrap"))
    with pytest.raises(ToolchainError, match="install the Debian package `bubblewrap`"):
        toolchain.command("sh")


def _host_shell_root(root: Path) -> None:
    """A root holding the host's dash and the libraries it loads: a stand-in for a
    toolchain root unpacked from .debs, enough to run a shell under bwrap."""
    dash = Path(shutil.which("dash") or "/bin/dash").resolve()
    listed = subprocess.run(["ldd", str(dash)], capture_output=True, text=True, check=True)
    libs = [w for line in listed.stdout.splitlines() for w in line.split() if w.startswith("/")]
    for path in [str(dash), *libs]:
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(path), dest)
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    if not (root / "usr/bin/sh").exists():
        os.symlink(str(dash), root / "usr/bin/sh")


@needs_bwrap
@pytest.mark.skipif(shutil.which("dash") is None or shutil.which("ldd") is None, reason="dash, ldd")
def test_a_tool_runs_over_the_root_with_only_the_working_directory_writable(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    _host_shell_root(root)
    work = tmp_path / "work"
    work.mkdir()
    toolchain = Toolchain(str(root), "//t:t", BWRAP or "")
    script = (
        "echo made > out; "
        "if echo x > /usr/evil 2>/dev/null; then echo root-writable; fi; "
        "echo private > /tmp/lkr-sandbox-probe; "
        'while read line; do echo "$line"; done < /proc/net/dev; '
        'echo "PATH=$PATH"'
    )
    r = toolchain.run("sh", ["-c", script], cwd=str(work), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (work / "out").read_text() == "made\n"
    assert "root-writable" not in r.stdout and not (root / "usr/evil").exists()
    assert not Path("/tmp/lkr-sandbox-probe").exists()
    interfaces = [
        line.split(":")[0].strip()
        for line in r.stdout.splitlines()
        if ":" in line and "=" not in line
    ]
    assert interfaces == ["lo"]  # no network but loopback
    assert "PATH=/usr/sbin:/usr/bin:/sbin:/bin" in r.stdout


@needs_bwrap
@pytest.mark.skipif(shutil.which("dash") is None or shutil.which("ldd") is None, reason="dash, ldd")
def test_the_working_directory_is_bound_when_the_tool_runs_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    _host_shell_root(root)
    work, elsewhere = tmp_path / "work", tmp_path / "cache" / "src"
    work.mkdir()
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(work)
    toolchain = Toolchain(str(root), "//t:t", BWRAP or "", binds=(str(tmp_path / "cache"),))
    # as make O=<the step's directory> does from the source tree in a cache
    r = toolchain.run("sh", ["-c", f"echo o > {work}/obj; echo s > here"], cwd=str(elsewhere))
    assert r.returncode == 0
    assert (work / "obj").read_text() == "o\n" and (elsewhere / "here").read_text() == "s\n"
