#!/usr/bin/env python3
"""Kill -9 mid-build: does a rebuild after a SIGKILL give the bytes of a clean build?

    python3 bench/kill9.py [--points package,kernel,image,publish] [--delay S]
                           [--target //images:sshd] [--json FILE]

In a scratch copy of this checkout (the checkout is never edited), each point
runs `./pants --no-pantsd package TARGET` from an empty local store of its own
(a cold build: packages, the kernel compile and the image assembly all run;
.deb downloads and ccache, in Pants' named caches, stay warm), waits until the
step named by the point has started, waits `--delay` seconds more, and sends
SIGKILL to Pants. It then counts what was left running (processes whose
working directory is in that run's sandbox directory, which the script
then stops), rebuilds with the same store, and compares the sha256 of every
file in dist/ with a clean build made once, from its own empty store, without
a kill. `publish` kills `pants publish` mid-push to a local docker-registry,
republishes and compares the pushed manifest digests with the clean build's.

A point whose step never starts (it was cached, or the build failed first) is
reported as such. Not a test: it prints a table (and JSON with --json).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scratch_copy  # noqa: E402  (bench/bench.py, beside this file)
from linuxkit_rules.testservers import docker_registry  # noqa: E402

STEP = {
    "package": r"Starting: Building LinuxKit package",
    "kernel": r"Starting: Compiling kernel",
    "image": r"Starting: Assembling LinuxKit image",
    "publish": r"Starting: Pushing|pushed ",
}


def digests(dist: Path) -> dict[str, str]:
    out = {}
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        out[str(path.relative_to(dist))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def pants_argv(store: Path, sandboxes: Path, *args: str) -> list[str]:
    return [
        "./pants",
        "--no-pantsd",
        "--no-dynamic-ui",
        f"--local-store-dir={store}",
        f"--local-execution-root-dir={sandboxes}",
        *args,
    ]


def left_running(sandboxes: Path) -> list[tuple[int, str]]:
    """Processes (not ours) whose working directory is under `sandboxes`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
        except OSError:
            continue
        if cwd.startswith(str(sandboxes)):
            found.append((int(entry), cmd))
    return found


def run(repo: Path, argv: list[str], log: Path, timeout: float = 7200) -> tuple[int, float]:
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.run(argv, cwd=repo, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    return proc.returncode, time.monotonic() - start


def kill_at(repo: Path, argv: list[str], log: Path, pattern: str, delay: float) -> float | None:
    """Start `argv`, SIGKILL Pants `delay` s after `pattern` shows in its log.
    Returns seconds since start at the kill, or None when the build ended first."""
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=repo, stdout=out, stderr=subprocess.STDOUT)
    seen_at = None
    try:
        while proc.poll() is None:
            time.sleep(0.5)
            if seen_at is None and re.search(pattern, log.read_text(errors="replace")):
                seen_at = time.monotonic()
            if seen_at is not None and time.monotonic() - seen_at >= delay:
                # Pants itself, as `kill -9 <pid>` would: its processes are left to
                # fend for themselves, which is what this measures.
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return time.monotonic() - start
        return None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop_leftovers(sandboxes: Path) -> None:
    for pid, _ in left_running(sandboxes):
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", default="package,kernel,image,publish")
    ap.add_argument("--delay", type=float, default=3.0)
    ap.add_argument("--target", default="//images:sshd")
    ap.add_argument("--json")
    args = ap.parse_args()
    points = [p for p in args.points.split(",") if p]
    for p in points:
        if p not in STEP:
            raise SystemExit(f"--points: unknown point {p!r}; known: {', '.join(STEP)}")

    repo = scratch_copy()
    work = Path(tempfile.mkdtemp(prefix="lkr-kill9-"))
    rows: list[dict[str, object]] = []
    try:
        # The clean build, from an empty store of its own.
        clean_store, clean_sb = work / "clean-store", work / "clean-sandboxes"
        clean_sb.mkdir()
        rc, clean_s = run(repo, pants_argv(clean_store, clean_sb, "package", args.target), work / "clean.log")
        if rc != 0:
            raise SystemExit(f"the clean build failed; see {work / 'clean.log'}")
        clean = digests(repo / "dist")
        shutil.rmtree(repo / "dist")
        for point in points:
            store, sandboxes = work / f"{point}-store", work / f"{point}-sandboxes"
            sandboxes.mkdir()
            row: dict[str, object] = {"point": point}
            if point == "publish":
                row.update(publish_point(repo, work, store, sandboxes, args, clean_store, clean_sb))
                rows.append(row)
                continue
            argv = pants_argv(store, sandboxes, "package", args.target)
            killed = kill_at(repo, argv, work / f"{point}-killed.log", STEP[point], args.delay)
            if killed is None:
                row["result"] = "step never started before the build ended"
                rows.append(row)
                shutil.rmtree(repo / "dist", ignore_errors=True)
                continue
            row["killed_after_s"] = round(killed, 1)
            time.sleep(10)
            left = left_running(sandboxes)
            row["left_running_after_10s"] = len(left)
            row["left_running"] = sorted({cmd.split(" ")[0] for _, cmd in left})
            stop_leftovers(sandboxes)
            shutil.rmtree(repo / "dist", ignore_errors=True)
            rc, rebuild_s = run(repo, argv, work / f"{point}-rebuild.log")
            row["rebuild_s"] = round(rebuild_s, 1)
            if rc != 0:
                row["result"] = f"rebuild FAILED (exit {rc}); see {work / f'{point}-rebuild.log'}"
            else:
                got = digests(repo / "dist")
                same = sum(1 for k, v in clean.items() if got.get(k) == v)
                row["identical"] = f"{same}/{len(clean)}"
                row["result"] = "identical" if got == clean else f"DIFFERENT: {sorted(k for k in clean if got.get(k) != clean[k])}"
            shutil.rmtree(repo / "dist", ignore_errors=True)
            rows.append(row)
            print(json.dumps(row), flush=True)  # progress: a long run shows each point as it ends
    finally:
        stop_leftovers(work)
    print(f"target {args.target}; clean build {clean_s:.0f} s; {len(clean)} outputs; delay {args.delay} s\n")
    print("| kill during | killed after | left running after 10 s | rebuild | outputs vs clean build |")
    print("|---|---|---|---|---|")
    for r in rows:
        left = f"{r.get('left_running_after_10s', '-')} {r.get('left_running') or ''}".strip()
        print(
            f"| {r['point']} | {r.get('killed_after_s', '-')} s | {left} | {r.get('rebuild_s', '-')} s | {r.get('result')} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"clean_s": clean_s, "rows": rows}, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(repo.parent, ignore_errors=True)


def publish_point(repo, work, store, sandboxes, args, clean_store, clean_sb):  # type: ignore[no-untyped-def]
    """Kill `pants publish` mid-push to a local registry, publish again, and compare
    the pushed digests with those of a publish from the clean store."""
    with docker_registry(work / "registry") as registry:
        opt = f"--linuxkit-registries={registry}"
        rc, _ = run(repo, pants_argv(clean_store, clean_sb, opt, "publish", args.target), work / "clean-publish.log")
        if rc != 0:
            return {"result": f"clean publish failed; see {work / 'clean-publish.log'}"}
        clean = sorted(set(re.findall(r"pushed (\S+)@(sha256:[0-9a-f]{64})", (work / "clean-publish.log").read_text())))
    with docker_registry(work / "registry2") as registry:
        opt = f"--linuxkit-registries={registry}"
        argv = pants_argv(store, sandboxes, opt, "publish", args.target)
        killed = kill_at(repo, argv, work / "publish-killed.log", STEP["publish"], 0.0)
        row: dict[str, object] = {}
        if killed is None:
            row["result"] = "the publish ended before it could be killed"
        else:
            row["killed_after_s"] = round(killed, 1)
        time.sleep(10)
        row["left_running_after_10s"] = len(left_running(sandboxes))
        stop_leftovers(sandboxes)
        rc, again_s = run(repo, argv, work / "publish-again.log")
        row["rebuild_s"] = round(again_s, 1)
        log = (work / "publish-again.log").read_text()
        got = sorted(set(re.findall(r"pushed (\S+)@(sha256:[0-9a-f]{64})", log)))
        strip = [(ref.split("/", 1)[1], d) for ref, d in got]
        want = [(ref.split("/", 1)[1], d) for ref, d in clean]
        if rc != 0:
            row["result"] = f"publish again FAILED (exit {rc})"
        elif "result" not in row:
            row["result"] = "same digests pushed" if strip == want else f"DIFFERENT digests: {strip} vs {want}"
    return row


if __name__ == "__main__":
    main()
