"""The logging packages' programs, run on the host: memlogd's ring buffer and its
dump/follow queries, the logwrite client's names, the logwrite service's files
and rotation, and kmsg's record format."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

MEMLOGD = Path("pkg/memlogd/rootfs/usr/bin")
LOGWRITE_SERVICE = Path("pkg/logwrite/rootfs/usr/bin/logwrite")
KMSG = Path("pkg/kmsg/rootfs/usr/bin/kmsg")
FOUND_PERL = shutil.which("perl", path="/usr/bin:/bin")
PERL = FOUND_PERL or "perl"
pytestmark = pytest.mark.skipif(FOUND_PERL is None, reason="no perl on this host")


def run(*argv: object, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30, **kw)


class Memlogd:
    def __init__(self, tmp: Path, *args: str) -> None:
        self.log = tmp / "l.sock"
        self.query = tmp / "q.sock"
        # -daemonize returns once the sockets exist; the daemon's pid is found by its socket.
        self.proc = subprocess.Popen(
            [
                PERL,
                MEMLOGD / "memlogd",
                "-socket-log",
                self.log,
                "-socket-query",
                self.query,
                *args,
            ],
            start_new_session=True,
        )
        for _ in range(100):
            if self.query.exists():
                break
            time.sleep(0.05)
        assert self.query.exists(), "memlogd made no query socket"

    def write(self, name: str, *command: str) -> None:
        r = run(PERL, MEMLOGD / "logwrite", "-socket", self.log, "-n", name, *command)
        assert r.returncode == 0, r.stderr

    def entries(self, mode: int = 0, wait: float = 0.0) -> list[dict]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.query))
            s.sendall(bytes([mode]))
            s.settimeout(wait or 5)
            data = b""
            deadline = time.monotonic() + wait
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if wait and time.monotonic() > deadline:
                        break
            except socket.timeout:
                pass
        return [json.loads(line) for line in data.decode().splitlines()]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def memlogd(tmp_path: Path) -> Iterator[Memlogd]:
    d = Memlogd(tmp_path, "-max-lines", "5", "-max-line-len", "20")
    try:
        yield d
    finally:
        d.stop()


def settle(m: Memlogd, n: int) -> list[dict]:
    for _ in range(100):
        got = m.entries()
        if len(got) >= n:
            return got
        time.sleep(0.05)
    return m.entries()


def test_stdout_and_stderr_get_linuxkit_names(memlogd: Memlogd) -> None:
    memlogd.write("svc", "sh", "-c", "echo out; echo err >&2")
    got = settle(memlogd, 3)
    assert {(e["source"], e["msg"]) for e in got} >= {("svc.out", "out"), ("svc", "err")}
    assert got[0]["source"] == "memlogd" and got[0]["msg"] == "memlogd started"
    assert all(e["time"].endswith("Z") and "T" in e["time"] for e in got)


def test_ring_keeps_the_last_lines_and_cuts_long_ones(memlogd: Memlogd) -> None:
    memlogd.write("n", "sh", "-c", "for i in 1 2 3 4 5 6 7; do echo line$i; done; echo " + "x" * 50)
    got = [e["msg"] for e in settle(memlogd, 5)]
    assert got == ["line4", "line5", "line6", "line7", "x" * 20]


def test_follow_gets_only_new_entries_and_dump_follow_both(memlogd: Memlogd) -> None:
    memlogd.write("old", "echo", "before")
    settle(memlogd, 2)
    with socket.socket(socket.AF_UNIX) as f, socket.socket(socket.AF_UNIX) as df:
        f.connect(str(memlogd.query))
        f.sendall(b"\x01")
        df.connect(str(memlogd.query))
        df.sendall(b"\x02")
        time.sleep(0.3)
        memlogd.write("new", "echo", "after")
        time.sleep(0.5)
        f.settimeout(2)
        df.settimeout(2)
        follow = f.recv(65536).decode()
        dump_follow = b""
        while b"after" not in dump_follow:
            dump_follow += df.recv(65536)
    assert "after" in follow and "before" not in follow
    assert "before" in dump_follow.decode() and "after" in dump_follow.decode()


def test_logread_prints_time_source_message(memlogd: Memlogd) -> None:
    memlogd.write("a;b", "echo", 'quote " and \\ backslash')
    settle(memlogd, 2)
    r = run(PERL, MEMLOGD / "logread", "-socket", memlogd.query)
    last = r.stdout.splitlines()[-1]
    stamp, rest = last.split(";", 1)
    assert stamp.endswith("Z")
    assert rest == 'a\\;b.out;quote " and \\ backsl'  # the line cut at 20 bytes


def test_logwrite_without_memlogd_runs_the_command_plainly(tmp_path: Path) -> None:
    r = run(PERL, MEMLOGD / "logwrite", "-socket", tmp_path / "none.sock", "-n", "x", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n")


def test_logwrite_service_writes_files_and_rotates(tmp_path: Path) -> None:
    m = Memlogd(tmp_path, "-max-lines", "100")
    logs = tmp_path / "log"
    logs.mkdir()
    svc = subprocess.Popen(
        [PERL, LOGWRITE_SERVICE, "-socket", m.query, "-log-dir", logs, "-max-log-size", "120",
         "-max-log-files", "2"],
        start_new_session=True,
    )  # fmt: skip
    try:
        m.write("web", "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do echo request $i; done")
        for _ in range(100):
            if (
                "request 8" in (logs / "web.out.log").read_text()
                if (logs / "web.out.log").exists()
                else ""
            ):
                break
            time.sleep(0.05)
    finally:
        os.killpg(svc.pid, signal.SIGKILL)
        svc.wait()
        m.stop()
    names = sorted(p.name for p in logs.iterdir())
    # LinuxKit's rotation: NAME.log, then .0 .. .N-1 for -max-log-files N.
    assert names == ["memlogd.log", "web.out.log", "web.out.log.0", "web.out.log.1"]
    current = (logs / "web.out.log").read_text().splitlines()
    assert current[-1].endswith(" web.out request 8") and current[-1][:20].endswith("Z")
    assert all(p.stat().st_size <= 120 for p in logs.iterdir())
    # Only the oldest lines are gone: 2 rotations kept, the rest are in order.
    kept = [
        line.split(" ", 2)[2]
        for name in ("web.out.log.1", "web.out.log.0", "web.out.log")
        for line in (logs / name).read_text().splitlines()
    ]
    assert kept == [f"request {i}" for i in range(9 - len(kept), 9)] and len(kept) >= 5


def test_kmsg_formats_records(tmp_path: Path) -> None:
    # The script with /dev/kmsg and /proc/stat replaced by files.
    script = KMSG.read_text().replace("/dev/kmsg", str(tmp_path / "kmsg"))
    script = script.replace("/proc/stat", str(tmp_path / "stat"))
    (tmp_path / "stat").write_text("cpu 1 2 3\nbtime 1700000000\n")
    (tmp_path / "kmsg").write_text(
        "6,42,2500000,-;virtio_net virtio0 eth0: renamed; ok\n SUBSYSTEM=net\n"
        "4,43,3000001,c;second\n"
    )
    # The host's sh, dd, sed and awk stand in for busybox's (the image has busybox).
    r = run("sh", "-c", script, env={"PATH": "/usr/bin:/bin", "TZ": "UTC"})
    assert r.stderr.splitlines() == [
        "(42) - 2023-11-14T22:13:22.500000Z: virtio_net virtio0 eth0: renamed; ok",
        "(43) - 2023-11-14T22:13:23.000001Z: second",
    ]
