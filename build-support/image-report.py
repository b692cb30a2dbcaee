#!/usr/bin/env python3
"""What changed per affected image between two git refs.

    build-support/image-report.py --base origin/main [--head REF] [--json report.json] [IMAGE...]

Builds the images at BASE and at HEAD (default: the work tree) in separate
git worktrees with `./pants package`, together with their kernels, and
compares: Debian and project packages added, removed or changed (from each
image's SPDX SBOM), kernel config lines, cmdline, and the sha256 of every
output. Prints a table; writes JSON with --json. Without IMAGE arguments the
images are those affected since BASE (all of them when the plugin, lock or
build configuration changed).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "build-support"))

from affected import changed_files, needs_everything  # noqa: E402

from linuxkit_rules.core.reports.image_report import (  # noqa: E402
    ImageSnapshot,
    compare_images,
    config_lines,
    dump_report,
    format_table,
    is_output_of,
    output_name,
    packages_from_spdx,
)

_KERNEL_TARGET = re.compile(r"built from the Pants target //(\S+)")


def pants(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["./pants", "--no-pantsd", "--no-dynamic-ui", *args], cwd=repo, text=True, capture_output=True,
        env={**os.environ, "NO_SCIE_WARNING": "1"},
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"image-report: `pants {' '.join(args)}` failed in {repo}")
    return result.stdout


def select_images(base: str) -> list[str]:
    selection = ["::"] if needs_everything(changed_files(base)) else [
        f"--changed-since={base}", "--changed-dependents=transitive"
    ]
    return pants(ROOT, "--filter-target-type=linuxkit_image", *selection, "list").split()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot_side(repo: Path, images: list[str], dist_name: str) -> dict[str, ImageSnapshot | None]:
    # --pants-distdir must be inside the build root.
    dist = repo / "dist" / dist_name
    shutil.rmtree(dist, ignore_errors=True)
    existing = set(pants(repo, "--filter-target-type=linuxkit_image", "list", "::").split())
    present = [i for i in images if i in existing]
    out: dict[str, ImageSnapshot | None] = {i: None for i in images}
    if not present:
        return out
    pants(repo, f"--pants-distdir=dist/{dist_name}", "package", *present)
    kernels: dict[str, str] = {}
    sboms = {}
    for image in present:
        name, _ = output_name(image)
        sboms[image] = json.loads((dist / f"{name}.spdx.json").read_text())
        for p in sboms[image]["packages"]:
            m = _KERNEL_TARGET.search(p.get("comment", ""))
            if p["SPDXID"].startswith("SPDXRef-Kernel-") and m:
                kernels[image] = m.group(1)
    if kernels:
        pants(repo, f"--pants-distdir=dist/{dist_name}", "package", *sorted({f"//{k}" for k in kernels.values()}))
    for image in present:
        name, arch_suffix = output_name(image)
        outputs = sorted(p for p in dist.iterdir() if p.is_file() and is_output_of(p.name, name))
        config: tuple[str, ...] = ()
        if image in kernels:
            spec, _, target = kernels[image].partition(":")
            config_file = dist / (spec.replace("/", ".") or "root") / (target + arch_suffix) / "config"
            if config_file.exists():
                config = config_lines(config_file.read_text(errors="replace"))
        cmdline_file = dist / f"{name}-cmdline"
        out[image] = ImageSnapshot(
            packages=packages_from_spdx(sboms[image]),
            kernel_config=config,
            cmdline=cmdline_file.read_text() if cmdline_file.exists() else "",
            digests={p.name: sha256(p) for p in outputs},
        )
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git ref to compare with")
    parser.add_argument("--head", help="git ref to compare (default: the work tree)")
    parser.add_argument("--json", help="write the report as JSON to this file")
    parser.add_argument("images", nargs="*", help="image addresses (default: the affected ones)")
    args = parser.parse_args(argv)
    images = args.images or select_images(args.base)
    if not images:
        print("no image is affected")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="lkr-image-report."))
    worktrees = []
    try:
        sides = {}
        for side, ref in (("base", args.base), ("head", args.head)):
            repo = ROOT
            if ref:
                repo = tmp / side
                subprocess.run(["git", "worktree", "add", "-q", "--detach", str(repo), ref], cwd=ROOT, check=True)
                worktrees.append(repo)
            sides[side] = snapshot_side(repo, images, f"image-report-{side}")
            shutil.rmtree(repo / "dist" / f"image-report-{side}", ignore_errors=True)
        reports = {i: compare_images(sides["base"][i], sides["head"][i]) for i in images}
    finally:
        for repo in worktrees:
            subprocess.run(["git", "worktree", "remove", "--force", str(repo)], cwd=ROOT, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.write(format_table(reports))
    if args.json:
        Path(args.json).write_text(dump_report(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
