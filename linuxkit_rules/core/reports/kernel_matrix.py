"""The kernel matrix table: test result lines in, Markdown and JSON out.

The matrix suite (tests/kernels/matrixtest) prints one console line per check,
`matrix: CHECK: pass`, `matrix: CHECK: fail: WHY` or `matrix: CHECK: not
supported by this kernel: CONFIG_X`, then `matrix: done RELEASE`. `pants test
--test-output=all` shows each test's output after a line naming its target
(`tests/kernels:matrix-boot@image=KEY`), from its cache when nothing changed.
`parse_test_output` groups the lines by that key; `render_markdown` and
`render_json` write one row per kernel.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_TARGET_RE = re.compile(r"(\S+:matrix-boot@image=([A-Za-z0-9_.-]+))")
_CHECK_RE = re.compile(
    r"matrix: ([a-z0-9-]+): (pass|fail: .*|not supported by this kernel: \S+)\s*$"
)
_DONE_RE = re.compile(r"matrix: done (\S+)")


@dataclass
class KernelRow:
    key: str  # the test's parametrization: "trixie", "linux-arm64"
    kernel: str = ""  # the kernel target's address
    kind: str = ""  # "source" (linux_kernel) or "prebuilt" (debian_kernel)
    release: str = ""  # the Debian suite of its package or source
    flavour: str = ""  # Debian's flavour ("amd64", "cloud-amd64") or the config target
    arch: str = ""
    version: str = ""  # `uname -r` in the guest
    checks: dict[str, str] = field(default_factory=dict)  # check -> pass | fail | not supported
    details: dict[str, str] = field(default_factory=dict)  # check -> the line's reason


def parse_test_output(text: str) -> dict[str, KernelRow]:
    """Rows by test key, from `pants test --test-output=all` output."""
    rows: dict[str, KernelRow] = {}
    current: KernelRow | None = None
    for line in text.splitlines():
        target = _TARGET_RE.search(line)
        if target and "matrix: " not in line:
            current = rows.setdefault(target.group(2), KernelRow(target.group(2)))
            continue
        if current is None:
            continue
        check = _CHECK_RE.search(line)
        if check:
            result = check.group(2)
            if result == "pass":
                current.checks[check.group(1)] = "pass"
            elif result.startswith("fail"):
                current.checks[check.group(1)] = "fail"
                current.details[check.group(1)] = result[len("fail: ") :]
            else:
                current.checks[check.group(1)] = "not supported"
                current.details[check.group(1)] = result.rsplit(" ", 1)[1]
            continue
        done = _DONE_RE.search(line)
        if done:
            current.version = done.group(1)
    return rows


def flavour_of(package: str) -> str:
    """Debian's flavour from a linux-image package name: "...-56-cloud-amd64" -> "cloud-amd64"."""
    match = re.match(r"linux-image-[0-9][^-]*(?:-[0-9]+)?-(.+)$", package)
    return match.group(1) if match else package


def columns(rows: list[KernelRow]) -> list[str]:
    """Every check, in the order the suite first printed it."""
    seen: list[str] = []
    for row in rows:
        for name in row.checks:
            if name not in seen:
                seen.append(name)
    return seen


def _cell(row: KernelRow, check: str) -> str:
    state = row.checks.get(check)
    if state is None:
        return "no result"
    if state == "not supported":
        return f"not supported ({row.details[check]})"
    return state


def render_markdown(rows: list[KernelRow]) -> str:
    checks = columns(rows)
    head = ["kernel", "arch", "release", "version", "flavour", "built"] + checks
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.key, row.arch, row.release, row.version, row.flavour, row.kind]
        lines.append("| " + " | ".join(cells + [_cell(row, c) for c in checks]) + " |")
    return "\n".join(lines) + "\n"


def render_json(rows: list[KernelRow]) -> str:
    checks = columns(rows)
    document = {
        "checks": checks,
        "kernels": [
            {
                "key": r.key,
                "kernel": r.kernel,
                "arch": r.arch,
                "release": r.release,
                "version": r.version,
                "flavour": r.flavour,
                "built": r.kind,
                "results": {c: r.checks.get(c, "no result") for c in checks},
                "details": dict(sorted(r.details.items())),
            }
            for r in rows
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
