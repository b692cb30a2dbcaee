"""A boot test stopped by SIGTERM, SIGINT or SIGHUP, or killed by SIGKILL, leaves no
QEMU, no check script child and no scratch directory behind. Real QEMU (TCG) on
a blank disk: SeaBIOS finds nothing to boot and the guest never gets `ready`."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

import linuxkit_rules.core.tool as tool_module
from linuxkit_rules.core.boot.boottest import BootTestFailed, run_check
from linuxkit_rules.core.boot.lifetime import Reaper, kill_group

QEMU = shutil.which("qemu-system-x86_64", path="/usr/bin:/bin")
# Where `linuxkit_rules` sits, for the child Pythons (the tool runs as `-m`).
SOURCE_ROOT = str(Path(tool_module.__file__).resolve().parents[2])


def processes_with(marker: str) -> list[int]:
    """Pids whose command line mentions `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry))
    return found


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def _never_ready_boot(sandbox: Path, disk_name: str) -> Path:
    """A boot test manifest (`m.json`) whose guest never says it is ready, so the
    tool runs QEMU until it is stopped; returns the boot disk's path."""
    disk = sandbox / disk_name
    disk.write_bytes(bytes(1 << 20))
    (sandbox / "check.sh").write_text("exit 0\n")
    manifest = {
        "format": "raw-bios",
        "media": "disk",
        "image_file": str(disk),
        "memory": 64,
        "qemu": QEMU,
        "ssh": "/usr/bin/ssh",
        "arch": "amd64",
        "ready": "this never appears",
        "disk_size": 64 << 20,
        "script": "check.sh",
        "timeout": 300,
    }
    (sandbox / "m.json").write_text(json.dumps(manifest))
    return disk


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 not installed (qemu-system-x86)")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL])
def test_stopped_boot_test_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    sandbox, scratch_root = tmp_path / "sandbox", tmp_path / "tmp"
    sandbox.mkdir()
    scratch_root.mkdir()
    disk = _never_ready_boot(sandbox, f"blank-{sig.name}.raw")
    env = {
        **os.environ,
        "TMPDIR": str(scratch_root),
        "PYTHONPATH": SOURCE_ROOT,
    }
    tool = subprocess.Popen(
        [sys.executable, "-m", "linuxkit_rules.core.tool", "boottest", "m.json"],
        cwd=sandbox,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        started = wait_until(lambda: bool(processes_with(str(disk))) or tool.poll() is not None, 60)
        if tool.poll() is not None or not started:
            tool.kill()
            out, err = tool.communicate()
            pytest.fail(f"QEMU did not start: {tool.returncode} {out[-2000:]!r} {err[-2000:]!r}")
        assert wait_until(
            lambda: any(p.name.startswith("lkr-boottest-") for p in scratch_root.iterdir()), 30
        )
        assert any((p / "scratch.raw").exists() for p in scratch_root.iterdir()), "no scratch disk"
        time.sleep(1)
        tool.send_signal(sig)
        _, stderr = tool.communicate(timeout=60)
        assert wait_until(lambda: not processes_with(str(disk)), 20), "QEMU outlived the boot test"
        assert wait_until(lambda: not list(scratch_root.iterdir()), 20), list(
            scratch_root.iterdir()
        )
        if sig is signal.SIGKILL:
            assert tool.returncode == -signal.SIGKILL
        else:
            assert tool.returncode == 2
            assert f"stopped by {sig.name}" in stderr.decode()
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
        for pid in processes_with(str(disk)):
            os.kill(pid, signal.SIGKILL)


def test_check_script_children_die_at_the_deadline(tmp_path: Path) -> None:
    marker = f"lkr-marker-{os.getpid()}-{time.monotonic_ns()}"
    script = tmp_path / "check.sh"
    # A background grandchild, as `ssh ... &` would be, then a hang.
    script.write_text(f"sh -c 'sleep 300' {marker} &\nsleep 300\n")
    start = time.monotonic()
    with pytest.raises(BootTestFailed, match="still running at the test's deadline"):
        run_check(["/bin/sh", "-eu", str(script)], dict(os.environ), time.monotonic() + 2)
    assert time.monotonic() - start < 30
    assert wait_until(lambda: not processes_with(marker), 10), "the script's child survived"


def test_reaper_cleans_up_after_a_killed_parent(tmp_path: Path) -> None:
    marker = f"lkr-marker-{os.getpid()}-{time.monotonic_ns()}"
    scratch = tmp_path / "scratch"
    code = (
        "import subprocess, sys, time\n"
        "from linuxkit_rules.core.boot.lifetime import Reaper, kill_group\n"
        "r = Reaper()\n"
        f"r.path({str(scratch)!r})\n"
        f"p = subprocess.Popen(['sh', '-c', 'sleep 300', {marker!r}], start_new_session=True)\n"
        "r.group(p.pid)\n"
        f"open({str(scratch / 'x')!r}, 'w').close()\n"
        "print('ready', flush=True)\n"
        "time.sleep(300)\n"
    )
    scratch.mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
    )
    assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
    assert processes_with(marker)
    parent.kill()
    parent.wait()
    assert wait_until(lambda: not processes_with(marker), 10), "the group outlived its parent"
    assert wait_until(lambda: not scratch.exists(), 10), "the scratch directory stayed"


def test_reaper_does_nothing_after_a_normal_end(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    reaper = Reaper()
    reaper.path(str(keep))
    reaper.close()
    assert keep.exists()


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 not installed (qemu-system-x86)")
def test_boot_test_ends_when_pants_is_killed(tmp_path: Path) -> None:
    """Pants without pantsd, killed with SIGKILL, leaves its running steps behind;
    the tool notices its parent is gone and ends with QEMU and its scratch files."""
    sandbox, scratch_root = tmp_path / "sandbox", tmp_path / "tmp"
    sandbox.mkdir()
    scratch_root.mkdir()
    disk = _never_ready_boot(sandbox, "blank-orphan.raw")
    # The "pants" process: starts the tool in its own process group, as Pants does.
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-m', 'linuxkit_rules.core.tool', 'boottest', 'm.json'],"
        " start_new_session=True)\n"
        "time.sleep(300)\n"
    )
    pants = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=sandbox,
        env={**os.environ, "TMPDIR": str(scratch_root), "PYTHONPATH": SOURCE_ROOT},
    )
    try:
        assert wait_until(lambda: bool(processes_with(str(disk))), 60), "QEMU did not start"
        assert wait_until(lambda: bool(list(scratch_root.iterdir())), 30)
        pants.kill()
        pants.wait()
        assert wait_until(lambda: not processes_with(str(disk)), 30), "QEMU outlived Pants"
        assert wait_until(lambda: not list(scratch_root.iterdir()), 20), "scratch files stayed"
    finally:
        pants.kill()
        pants.wait()
        for pid in processes_with(str(disk)):
            os.kill(pid, signal.SIGKILL)


def test_kill_group_stops_a_child_in_the_callers_group() -> None:
    """A child that shares this process's group gets the signals itself: the
    caller's group is not signalled, and the call returns once the child is gone."""
    ignore_term = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    )
    proc = subprocess.Popen([sys.executable, "-c", ignore_term])
    try:
        start = time.monotonic()
        kill_group(proc, timeout=1)
        assert proc.returncode in (-signal.SIGTERM, -signal.SIGKILL)
        assert time.monotonic() - start < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_interrupt_on_turns_sigterm_into_sigint(tmp_path: Path) -> None:
    """A process sent SIGTERM also gets SIGINT (which Pants' engine acts on while its
    main thread waits in Rust); its own SIGTERM handler runs too. Only SIGTERM is sent."""
    seen = tmp_path / "seen"
    code = (
        "import signal, subprocess, sys\n"
        "from linuxkit_rules.core.boot.lifetime import interrupt_on\n"
        "def record(name):\n"
        f"    return lambda *_: open({str(seen)!r}, 'a').write(name + '\\n')\n"
        "signal.signal(signal.SIGINT, record('INT'))\n"
        "signal.signal(signal.SIGTERM, record('TERM'))\n"
        "assert interrupt_on()\n"
        "print('ready', flush=True)\n"
        "subprocess.run(['sleep', '3'])\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert sorted(seen.read_text().split()) == ["INT", "TERM"]
    finally:
        proc.kill()
        proc.wait()


def test_interrupt_on_is_a_no_op_off_the_main_thread() -> None:
    import threading

    from linuxkit_rules.core.boot.lifetime import interrupt_on

    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(interrupt_on()))
    t.start()
    t.join()
    assert result == [False]
