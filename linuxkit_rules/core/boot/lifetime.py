"""Children that never outlive their parent, and scratch files that never outlive a run.

Three layers, each covering what the one before cannot:

- `stop_on_signals()`: SIGTERM, SIGINT and SIGHUP raise `Stopped` in the main
  thread, so `finally` blocks and context managers run (QEMU is stopped, the
  scratch directory removed) and the process exits with one error line.
- `die_with_parent()`: a `preexec_fn` that asks the kernel (PR_SET_PDEATHSIG)
  to SIGKILL the child when the thread that started it ends, even by SIGKILL.
  Children start in their own process group, so a whole group (a check
  script and its ssh) can be stopped at once.
- `Reaper`: a small helper process that waits on a pipe from its parent; when
  the parent ends in any way (SIGKILL included), the pipe closes and the
  reaper kills the process groups and removes the paths it was told about.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Iterator, Sequence

from linuxkit_rules.core.errors import LinuxkitError

_PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(LinuxkitError):
    """The process was asked to stop (SIGTERM, SIGINT or SIGHUP)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(
            f"stopped by {signal.Signals(signum).name}; QEMU and scratch files removed"
        )


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """For `preexec_fn`: the child gets `sig` when its parent thread ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the stop signals raise `Stopped`; the old handlers come back after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    old = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def start_child(argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` in a new process group, killed when this process dies."""
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        list(argv), start_new_session=True, preexec_fn=die_with_parent, **kwargs
    )


def kill_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM to `proc`'s process group, SIGKILL after `timeout`; then reap `proc`.
    A `proc` that does not lead a group of its own gets the signals alone."""

    try:
        leader = os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        leader = False

    def signal_it(sig: int) -> None:
        try:
            if leader:
                os.killpg(proc.pid, sig)
            elif proc.returncode is None:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    if proc.poll() is None:
        signal_it(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    signal_it(signal.SIGKILL)  # what is left of the group
    proc.wait()


class Reaper:
    """A helper process that cleans up after this one, however it ends.

    `group(pgid)` and `path(p)` tell it what to kill and remove; `close()` (a
    normal end, after the caller cleaned up itself) tells it to do nothing."""

    def __init__(self) -> None:
        read_end, self._write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the reaper: no Python-level cleanup, no shared stdio
            try:
                os.close(self._write)
                os.setsid()
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                _reap(read_end)
            finally:
                os._exit(0)
        os.close(read_end)
        self.pid = pid

    def _send(self, line: str) -> None:
        os.write(self._write, (line + "\n").encode())

    def group(self, pgid: int) -> None:
        self._send(f"group {pgid}")

    def path(self, path: str) -> None:
        self._send(f"path {os.path.abspath(path)}")

    def close(self) -> None:
        self._send("done")
        os.close(self._write)
        os.waitpid(self.pid, 0)


def _reap(fd: int) -> None:
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    groups: list[int] = []
    paths: list[str] = []
    for line in data.decode().splitlines():
        kind, _, value = line.partition(" ")
        if kind == "done":
            return
        if kind == "group":
            groups.append(int(value))
        elif kind == "path":
            paths.append(value)
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def interrupt_on(signals: Sequence[int] = (signal.SIGTERM,)) -> bool:
    """Send this process SIGINT whenever it gets one of `signals`; for the main thread
    of a Pants process run without pantsd.

    Pants (without pantsd) handles SIGTERM in Python, which runs only once its
    main thread is back from the engine: not while `pants run` waits on QEMU,
    so `kill <pid>` stopped nothing. Its engine stops a running process on
    SIGINT at once. Python's C-level handler writes every signal it catches to
    the wakeup fd even while the main thread waits; a thread reading it turns
    each of `signals` into a SIGINT, and Pants' own handler still runs after.
    Returns False (and does nothing) off the main thread (pantsd loads plugins
    in a worker thread) or when a wakeup fd is already set.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:
        os.close(read_end)
        os.close(write_end)
        return False
    if previous != -1:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
        return False
    wanted = {int(s) for s in signals}

    def forward() -> None:
        while True:
            caught = os.read(read_end, 64)
            if not caught:
                return
            if wanted.intersection(caught):
                os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=forward, name="lkr-interrupt-on", daemon=True).start()
    return True
