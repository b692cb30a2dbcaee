"""What changed in an image between two builds: packages, kernel config, cmdline, outputs.

Inputs are what a build writes: the image's SPDX SBOM (`NAME.spdx.json`), its
cmdline file, the kernel's `config`, and the sha256 of every output file.
`build-support/image-report.py` builds two git refs and calls `compare_images`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from linuxkit_rules.core.arch import DEFAULT_ARCH, Arch


@dataclass(frozen=True)
class ImageSnapshot:
    """One build of one image."""

    packages: Mapping[str, str]  # "deb:NAME" or "package:NAME" -> version
    kernel_config: tuple[str, ...] = ()  # CONFIG_ lines (and "# CONFIG_X is not set")
    cmdline: str = ""
    digests: Mapping[str, str] = field(default_factory=dict)  # output file -> sha256


def packages_from_spdx(document: Mapping[str, Any]) -> dict[str, str]:
    """Name -> version for every package of an image SBOM (core/reports/sbom.py's layout)."""
    out = {}
    for p in document.get("packages", ()):
        sid = p.get("SPDXID", "")
        if sid.startswith("SPDXRef-Deb-"):
            out[f"deb:{p['name']}"] = p.get("versionInfo", "")
        elif sid.startswith(("SPDXRef-Package-", "SPDXRef-Kernel-")):
            out[f"package:{p['name']}"] = p.get("versionInfo", "")
    return out


def config_lines(text: str) -> tuple[str, ...]:
    """The settings of a kernel .config: `CONFIG_X=...` and `# CONFIG_X is not set`."""
    lines = [line.strip() for line in text.splitlines()]
    return tuple(
        sorted(
            line
            for line in lines
            if line.startswith("CONFIG_")
            or (line.startswith("# CONFIG_") and line.endswith(" is not set"))
        )
    )


def _config_map(lines: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for line in lines:
        if line.startswith("# "):
            out[line[2:].split()[0]] = "is not set"
        else:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def compare_images(before: ImageSnapshot | None, after: ImageSnapshot | None) -> dict[str, Any]:
    """A JSON-able report; `None` means the image does not exist on that side."""
    if before is None or after is None:
        return {"status": "added" if before is None else "removed"}
    report: dict[str, Any] = {"status": "unchanged"}
    b, a = before.packages, after.packages
    report["packages"] = {
        "added": {k: a[k] for k in sorted(set(a) - set(b))},
        "removed": {k: b[k] for k in sorted(set(b) - set(a))},
        "changed": {
            k: {"before": b[k], "after": a[k]} for k in sorted(set(a) & set(b)) if a[k] != b[k]
        },
    }
    bc, ac = _config_map(before.kernel_config), _config_map(after.kernel_config)
    report["kernel_config"] = {
        k: {"before": bc.get(k), "after": ac.get(k)}
        for k in sorted(set(bc) | set(ac))
        if bc.get(k) != ac.get(k)
    }
    report["cmdline"] = (
        None
        if before.cmdline == after.cmdline
        else {"before": before.cmdline, "after": after.cmdline}
    )
    report["digests"] = {
        k: {"before": before.digests.get(k), "after": after.digests.get(k)}
        for k in sorted(set(before.digests) | set(after.digests))
        if before.digests.get(k) != after.digests.get(k)
    }
    if (
        any(report["packages"].values())
        or report["kernel_config"]
        or report["cmdline"]
        or report["digests"]
    ):
        report["status"] = "changed"
    return report


def _short(value: str | None) -> str:
    if value is None:
        return "-"
    return value[:12] if len(value) == 64 else value


def format_table(reports: Mapping[str, Mapping[str, Any]]) -> str:
    """A plain-text table: one row per change, grouped by image."""
    rows = [("image", "what", "name", "before", "after")]
    for image in sorted(reports):
        r = reports[image]
        if r["status"] != "changed":
            rows.append((image, r["status"], "", "", ""))
            continue
        p = r["packages"]
        rows += [(image, "package added", k, "-", v) for k, v in p["added"].items()]
        rows += [(image, "package removed", k, v, "-") for k, v in p["removed"].items()]
        rows += [
            (image, "package changed", k, v["before"], v["after"]) for k, v in p["changed"].items()
        ]
        rows += [
            (image, "kernel config", k, _short(v["before"]), _short(v["after"]))
            for k, v in r["kernel_config"].items()
        ]
        if r["cmdline"]:
            rows.append((image, "cmdline", "", r["cmdline"]["before"], r["cmdline"]["after"]))
        rows += [
            (image, "output", k, _short(v["before"]), _short(v["after"]))
            for k, v in r["digests"].items()
        ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def dump_report(reports: Mapping[str, Mapping[str, Any]]) -> str:
    return json.dumps({"images": reports}, indent=2, sort_keys=True) + "\n"


def output_name(address: str) -> tuple[str, str]:
    """(output name base, architecture suffix) of an image address: `images:sshd` and
    `//images:sshd@arch=amd64` -> ("sshd", ""), `images:sshd@arch=arm64` -> ("sshd-arm64",
    "-arm64"), as the image rule names outputs (core/arch.py `Arch.suffix`)."""
    name, _, params = address.rsplit(":", 1)[-1].partition("@")
    values = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
    arch = Arch.parse(values.get("arch", DEFAULT_ARCH.value), address)
    return name + arch.suffix(), arch.suffix()


def is_output_of(filename: str, base: str) -> bool:
    """Whether `filename` is an output of the image whose outputs start with `base`
    (and not of the same image for another architecture, `base-ARCH...`)."""
    if (
        filename != f"{base}.spdx.json"
        and not filename.startswith(f"{base}-")
        and not filename.startswith(f"{base}.")
    ):
        return False
    return not any(
        filename.startswith(f"{base}{a.suffix()}")
        for a in Arch
        if a.suffix() and not base.endswith(a.suffix())
    )
