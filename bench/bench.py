#!/usr/bin/env python3
"""Measures the build against its targets and prints a markdown table (and JSON).

    python3 bench/bench.py [--runs N] [--json bench/results.json] [--only NAME,...]

Works in a scratch copy of this checkout (tracked and untracked files, as
they are now), so the checkout itself is never edited. Each figure is the
median of --runs runs, with min and max. Pants' own counters (`--stats-log`)
say which processes ran. Not a test: it prints figures, it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from linuxkit_rules.core.archive.tree import Tree  # noqa: E402
from linuxkit_rules.core.archive.writers import gzip_writer, write_cpio_newc  # noqa: E402
from linuxkit_rules.core.boot.qemu import QemuConfig, Vm, extract_vmlinux, free_port, wait_for_ssh  # noqa: E402

# `//images:sshd` is built for the build machine's architecture (amd64 here), as
# LinuxKit's `linuxkit build` makes one.
IMAGE = "//images:sshd"


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {os.cpu_count()} x {cpu}, {mem:.0f} GiB, {platform.platform()}"


def scratch_copy() -> Path:
    dest = Path(tempfile.mkdtemp(prefix="lkr-bench-")) / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


class Pants:
    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def run(self, *args: str, pantsd: bool = False, store: str | None = None) -> tuple[float, dict[str, int], str]:
        argv = ["./pants", "--stats-log", "--no-dynamic-ui", "--pantsd" if pantsd else "--no-pantsd"]
        if store:
            argv.append(f"--local-store-dir={store}")
        start = time.monotonic()
        result = subprocess.run(argv + list(args), cwd=self.repo, capture_output=True, text=True)
        elapsed = time.monotonic() - start
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv + list(args))} failed:\n{result.stderr[-3000:]}")
        counters = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\w+): (\d+)$", result.stderr, re.M)}
        return elapsed, counters, result.stderr

    def stop_pantsd(self) -> None:
        pid_file = self.repo / ".pids" / "pantsd" / "pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), 15)
            except (ProcessLookupError, ValueError):
                pass
            time.sleep(2)


def started(log: str) -> list[str]:
    return re.findall(r"Starting: (.+)$", log, re.M)


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(s: dict[str, float], unit: str = "s") -> str:
    return f"{s['median']:.2f} {unit} ({s['min']:.2f}-{s['max']:.2f}, n={s['n']:.0f})"


def bench_builds(pants: Pants, runs: int, results: dict) -> None:
    cold = []
    for _ in range(runs):
        store = tempfile.mkdtemp(prefix="lkr-store-")
        t, c, _ = pants.run("package", IMAGE, store=store)
        cold.append(t)
        shutil.rmtree(store, ignore_errors=True)
    results["cold package (fresh store; ccache and .deb downloads warm)"] = (stats(cold), "report")

    pants.run("package", IMAGE)
    noop = []
    for _ in range(runs):
        t, c, log = pants.run("package", IMAGE)
        # No build step starts (Pants' host-tool probes, uncached by design, log no "Starting").
        assert not started(log), started(log)
        noop.append(t)
    results["no-op package, no pantsd"] = (stats(noop), "report")

    pants.run("package", IMAGE, pantsd=True)
    warm = []
    for _ in range(runs):
        t, _, _ = pants.run("package", IMAGE, pantsd=True)
        warm.append(t)
    results["no-op package, pantsd warm"] = (stats(warm), "< 2 s")

    edits, ran = [], []
    motd = pants.repo / "pkg" / "sshd" / "rootfs" / "etc" / "motd"
    for i in range(runs):
        motd.write_text(f"bench edit {i}\n")
        t, c, log = pants.run("package", IMAGE, pantsd=True)
        edits.append(t)
        ran = started(log)
    motd.unlink()
    pants.stop_pantsd()
    cold_median = results["cold package (fresh store; ccache and .deb downloads warm)"][0]["median"]
    s = stats(edits)
    s["ratio_to_cold"] = s["median"] / cold_median
    results["edit a file in pkg/sshd, rebuild (pantsd)"] = (s, f"< 10 % of cold; ran: {'; '.join(ran)}")


def bench_initrd(pants: Pants, runs: int, results: dict) -> None:
    pants.run("package", IMAGE)
    initrd = pants.repo / "dist" / "sshd-initrd.img"
    results["//images:sshd initrd size"] = ({"median": initrd.stat().st_size / 1e6, "min": 0, "max": 0, "n": 1}, "< 30 MB")
    work = Path(tempfile.mkdtemp(prefix="lkr-cpio-"))
    tree_dir = work / "tree"
    tree_dir.mkdir()
    subprocess.run(f"gzip -dc {initrd} | cpio -idm --quiet --no-absolute-filenames", shell=True, cwd=tree_dir, check=True)
    ours, theirs = [], []
    for _ in range(runs):
        start = time.monotonic()
        tree = Tree()
        tree.add_directory(tree_dir)
        with open(work / "ours.img", "wb") as f, gzip_writer(f) as gz:
            write_cpio_newc(tree.entries(), gz, 0)
        ours.append(time.monotonic() - start)
        start = time.monotonic()
        subprocess.run(f"find . | cpio -o -H newc --quiet | gzip > {work}/theirs.img", shell=True, cwd=tree_dir, check=True)
        theirs.append(time.monotonic() - start)
    mb = sum(p.stat().st_size for p in tree_dir.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    results["initrd writer (Tree + cpio + gzip)"] = (stats(ours), f"{mb:.0f} MB tree; at least as fast as find|cpio|gzip")
    results["find | cpio -o -H newc | gzip"] = (stats(theirs), "reference")
    shutil.rmtree(work, ignore_errors=True)


def bench_boot(pants: Pants, runs: int, results: dict) -> None:
    subprocess.run(["./pants", "--no-pantsd", "package", "//tests:sshd-test@arch=amd64"], cwd=pants.repo, capture_output=True, check=True)
    dist = pants.repo / "dist"
    key_src = pants.repo / "tests" / "keys" / "test_ed25519"
    work = Path(tempfile.mkdtemp(prefix="lkr-boot-"))
    key = work / "id"
    shutil.copy(key_src, key)
    key.chmod(0o600)
    vmlinux = extract_vmlinux((dist / "sshd-test-kernel").read_bytes())
    kernel = work / "vmlinux"
    kernel.write_bytes(vmlinux or (dist / "sshd-test-kernel").read_bytes())
    to_init, to_ssh = [], []
    for _ in range(runs):
        port = free_port()
        cfg = QemuConfig(kernel=str(kernel), initrd=str(dist / "sshd-test-initrd.img"),
                         cmdline=(dist / "sshd-test-cmdline").read_text().strip(), ssh_port=port)
        start = time.monotonic()
        with Vm(cfg, log_path=str(work / "console.log")) as vm:
            vm.wait_for(r"Run /init as init process|linuxkit-rules", timeout=120)
            to_init.append(time.monotonic() - start)
            wait_for_ssh(port, str(key), timeout=240)
            to_ssh.append(time.monotonic() - start)
    s = stats(to_ssh)
    s["ratio_to_init"] = s["median"] / statistics.median(to_init)
    results["QEMU start to /init (PVH vmlinux)"] = (stats(to_init), "reference")
    results["QEMU start to SSH login"] = (s, "< 1.5x QEMU start to /init")
    shutil.rmtree(work, ignore_errors=True)


# //kernel:linux is compiled for amd64 and arm64; the bench adds, in its scratch
# copy, the same kernel for amd64 alone, so each figure is one compile.
KERNEL = "//kernel:bench-amd64"
KERNEL_TARGET = '\nlinux_kernel(name="bench-amd64", config=":config", arches=["amd64"])\n'
# The option the toggle runs turn off and on again.
TOGGLE = ("xfs.config", "CONFIG_XFS_FS=y", "# CONFIG_XFS_FS is not set")


def load() -> str:
    return "load %.2f/%.2f/%.2f" % os.getloadavg()


def bench_kernel(pants: Pants, runs: int, results: dict) -> None:
    """Cold `linux_kernel` (fresh store and named caches: no ccache, no kept
    build directory), a comment-only fragment edit (no compile expected), one
    option toggled off and back on (make's incremental rebuild in the kept
    build directory, ccache warm; under a quarter of cold), and the kernel
    image's size. Every run uses the cold run's store and named caches."""
    with open(pants.repo / "kernel" / "BUILD", "a") as f:
        f.write(KERNEL_TARGET)
    store, caches = tempfile.mkdtemp(prefix="lkr-store-"), tempfile.mkdtemp(prefix="lkr-caches-")
    try:
        _bench_kernel(pants, runs, results, ["--named-caches-dir=" + caches, "--local-store-dir=" + store])
    finally:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(caches, ignore_errors=True)


def _bench_kernel(pants: Pants, runs: int, results: dict, where: list[str]) -> None:
    before = load()
    t, _, _ = pants.run(*where, "package", KERNEL)
    cold = stats([t])
    results["cold linux_kernel (fresh store, empty ccache and build directory)"] = (cold, f"report; {before}")

    frag_dir = pants.repo / "kernel" / "fragments"
    fragment = frag_dir / "devicemapper.config"
    original = fragment.read_text()
    comment, compiled = [], []
    for i in range(runs):
        fragment.write_text(f"# bench comment {i}\n" + original)
        t, _, log = pants.run(*where, "package", KERNEL)
        comment.append(t)
        compiled += [r for r in started(log) if r.startswith("Compiling kernel")]
    fragment.write_text(original)
    results["comment-only fragment edit, rebuild"] = (
        stats(comment), f"no kernel compile: {'none ran' if not compiled else 'COMPILED ' + str(len(compiled))}")

    name, on, off = TOGGLE
    path = frag_dir / name
    text = path.read_text()
    path.write_text(text.replace(on, off))
    before = load()
    t, _, _ = pants.run(*where, "package", KERNEL)
    s = stats([t])
    s["ratio_to_cold"] = t / cold["median"]
    results[f"one option toggled ({off})"] = (s, f"< 25 % of cold; {before}")
    dist = pants.repo / "dist" / "kernel" / "bench-amd64" / "kernel"
    size = dist.stat().st_size / 1e6 if dist.exists() else float("nan")

    # Toggled back: the store has this compile's result from the cold run, so
    # --no-local-cache makes it (and the config resolution) run again.
    path.write_text(text)
    before = load()
    t, _, _ = pants.run(*where, "--no-local-cache", "package", KERNEL)
    s = stats([t])
    s["ratio_to_cold"] = t / cold["median"]
    results[f"toggled back ({on})"] = (s, f"< 25 % of cold; {before}")
    results["kernel image size (bzImage, with the option off)"] = (stats([size]), "report")


# ---------------------------------------------------------------- peer: mkosi

MKOSI_CONFIG = ROOT / "bench" / "mkosi"
COLD = "cold package (fresh store; ccache and .deb downloads warm)"
# mkosi's output names; next to them are image.cpio.zstd.manifest and the -i caches.
CPIO_SUFFIXES = (".cpio", ".cpio.zstd", ".cpio.zst", ".cpio.xz", ".cpio.gz")


def debian_mirror(suite: str = "bookworm") -> str | None:
    """The Debian mirror the machine's apt sources name for `suite` (main), so mkosi
    downloads from where our builds do; None if none is found."""
    stanzas: list[tuple[list[str], list[str], list[str]]] = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for block in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", block, re.M))
                if "deb" in fields.get("Types", "").split():
                    stanzas.append((fields.get("URIs", "").split(), fields.get("Suites", "").split(),
                                    fields.get("Components", "").split()))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 4 and words[0] == "deb":
                    stanzas.append(([words[1]], [words[2]], words[3:]))
    for uris, suites, components in stanzas:
        if suite in suites and "main" in components and uris:
            return uris[0]
    return None


def mkosi_build(state: Path, config: Path) -> tuple[float, int]:
    """One incremental `mkosi -i build` of `config` (a directory with mkosi.default) with
    its package cache and cached trees under `state`; returns (seconds, output bytes).
    An empty `state` is a cold build (which also writes the caches)."""
    out = state / "out"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.rglob("*"):  # mkosi writes out/<distribution>~<release>/image.cpio.zstd
        if old.is_file() and old.name.endswith(CPIO_SUFFIXES):
            old.unlink()
    argv = ["mkosi", "--incremental", "--force", f"--output-dir={out}", f"--cache={state / 'packages'}"]
    mirror = debian_mirror()
    if mirror:
        argv.append(f"--mirror={mirror}")
    start = time.monotonic()
    result = subprocess.run(argv + ["build"], cwd=config, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} build failed ({result.returncode}):\n{result.stderr[-3000:]}")
    images = [p for p in out.rglob("*") if p.is_file() and p.name.endswith(CPIO_SUFFIXES)]
    if not images:
        raise SystemExit(f"mkosi wrote no cpio archive into {out}: {sorted(str(p) for p in out.rglob('*'))}")
    return elapsed, images[0].stat().st_size


NOOP = "no-op package, no pantsd"
EDIT = "edit a file in pkg/sshd, rebuild (pantsd)"
SSH = "QEMU start to SSH login"


def bench_peer(pants: Pants, runs: int, results: dict) -> None:
    """This project and mkosi (Debian 12's) one after the other in this run: cold build,
    no-op rebuild, a one-file change, output size; ratios are mkosi / ours.

    Ours: `package //images:sshd` from a fresh store, again unchanged, again after
    an edit of pkg/sshd's motd (the builds section, run here unless it already ran),
    the kernel and initrd sizes and the boot to SSH (the boot section, likewise).
    mkosi: `mkosi -i build` of bench/mkosi cold (no package cache, no cached tree),
    again unchanged, again after an edit of a file in its mkosi.extra tree."""
    if shutil.which("mkosi") is None or os.geteuid() != 0:
        results["mkosi peer"] = ({"median": 0, "min": 0, "max": 0, "n": 0}, "skipped: needs root and `apt-get install mkosi`")
        return
    if COLD not in results:
        bench_builds(pants, runs, results)
    if SSH not in results:
        try:
            bench_boot(pants, runs, results)
        except (SystemExit, OSError, subprocess.SubprocessError) as e:
            results["boot: FAILED"] = ({"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}, repr(e)[:300])
    pants.run("package", IMAGE)
    dist = pants.repo / "dist"
    ours_size = sum((dist / f"sshd-{part}").stat().st_size for part in ("kernel", "initrd.img")) / 1e6
    results["our //images:sshd size (kernel + initrd)"] = (stats([ours_size]), "peer reference")

    work = Path(tempfile.mkdtemp(prefix="lkr-mkosi-"))
    config = work / "config"
    (config / "mkosi.extra" / "etc").mkdir(parents=True)
    shutil.copy(MKOSI_CONFIG / "mkosi.default", config / "mkosi.default")
    motd = config / "mkosi.extra" / "etc" / "motd"
    motd.write_text("bench\n")
    try:
        cold, noop, edit, sizes = [], [], [], []
        cold_load = load()
        for i in range(runs):
            t, size = mkosi_build(work / f"state-{i}", config)
            cold.append(t)
            sizes.append(size / 1e6)
        noop_load = load()
        for _ in range(runs):
            noop.append(mkosi_build(work / "state-0", config)[0])
        edit_load = load()
        for i in range(runs):
            motd.write_text(f"bench edit {i}\n")
            edit.append(mkosi_build(work / "state-0", config)[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ratio(s: dict[str, float], ours: str) -> dict[str, float]:
        if ours in results and results[ours][0].get("median"):
            s["ratio_to_ours"] = s["median"] / results[ours][0]["median"]
        return s

    results["mkosi -i build, cold (no package cache, no cached tree)"] = (
        ratio(stats(cold), COLD), f"peer; ratio = mkosi / our cold package; {cold_load}")
    results["mkosi -i build again, nothing changed"] = (
        ratio(stats(noop), NOOP), f"peer; ratio = mkosi / our no-op (no pantsd); {noop_load}")
    results["mkosi -i build after editing one file in mkosi.extra"] = (
        ratio(stats(edit), EDIT), f"peer; ratio = mkosi / our pkg/sshd edit; {edit_load}")
    s = stats(sizes)
    s["ratio_to_ours"] = s["median"] / ours_size
    results["mkosi output size (cpio.zstd, no kernel)"] = (s, "peer; ratio = mkosi / our kernel + initrd")
    results["mkosi time to SSH"] = (
        {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0},
        "not measured: its image has no kernel and no network or SSH key set-up (docs/limitations.md)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--only", default="builds,initrd,boot,kernel,peer")
    args = parser.parse_args()
    repo = scratch_copy()
    pants = Pants(repo)
    results: dict[str, tuple[dict[str, float], str]] = {}
    try:
        for name in args.only.split(","):
            try:
                {
                    "builds": bench_builds, "initrd": bench_initrd, "boot": bench_boot,
                    "kernel": bench_kernel, "peer": bench_peer,
                }[name](pants, args.runs, results)
            except (AssertionError, SystemExit, OSError, subprocess.SubprocessError) as e:
                # keep what the other sections measure; the table says this one failed
                results[f"{name}: FAILED"] = ({"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}, repr(e)[:300])
            write_json(args.json, results)  # what is measured so far survives a later failure
    finally:
        pants.stop_pantsd()
        shutil.rmtree(repo.parent, ignore_errors=True)
    print(f"Machine: {machine()}\n")
    print("| figure | measured (median, min-max) | target / note |")
    print("|---|---|---|")
    for name, (s, target) in results.items():
        unit = "MB" if "size" in name else "s"
        extra = "".join(f"; {k} {v:.2f}" for k, v in s.items() if k.startswith("ratio"))
        label = name.replace("|", "\\|")
        print(f"| {label} | {fmt(s, unit)}{extra} | {target} |")
    write_json(args.json, results)
    return 0


def write_json(path: str, results: dict[str, tuple[dict[str, float], str]]) -> None:
    data = {"machine": machine(), "results": {k: {"stats": s, "target": t} for k, (s, t) in results.items()}}
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
