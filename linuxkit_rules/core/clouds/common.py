"""What the three cloud publishers share: errors, content ids, the report."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Mapping

from linuxkit_rules.core.errors import LinuxkitError

CHUNK = 4 << 20


class CloudError(LinuxkitError):
    """One line: the cloud, the target, what happened and what to do."""

    def __init__(self, cloud: str, target: str, problem: str, fix: str) -> None:
        super().__init__(f"{cloud}: {target}: {problem}; {fix}")


@dataclass
class Published:
    """Where an image went and what came of it; `uploaded` is False when the
    destination already held the same bytes."""

    cloud: str
    target: str
    file: str
    destination: str
    image: str = ""
    uploaded: bool = False
    created: list[str] = field(default_factory=list)

    def line(self) -> str:
        what = "uploaded" if self.uploaded else "unchanged, nothing uploaded"
        image = f" -> {self.image}" if self.image else ""
        return f"{self.cloud}: {self.target}: {self.destination} ({what}){image}"


def file_digests(path: str) -> tuple[str, str]:
    """(sha256 hex, md5 hex) of a file, read once."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def image_name(base: str, sha256: str, limit: int = 63) -> str:
    """A cloud image name from the target name and the content: lowercase
    letters, digits and dashes, starting with a letter (what GCE allows, and
    AWS and Azure accept)."""
    clean = "".join(c if c.isalnum() else "-" for c in base.lower()).strip("-") or "image"
    if not clean[0].isalpha():
        clean = "lk-" + clean
    suffix = "-" + sha256[:16]
    return clean[: limit - len(suffix)].rstrip("-") + suffix


def data_ranges(path: str, align: int, max_len: int) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of the parts of a file that are not all zero, in
    `align`-sized units, each at most `max_len` long."""
    with open(path, "rb") as f:
        start, buf = 0, bytearray()
        offset = 0
        for unit in iter(lambda: f.read(align), b""):
            if unit.count(0) == len(unit):
                if buf:
                    yield start, bytes(buf)
                    buf = bytearray()
            else:
                if not buf:
                    start = offset
                buf += unit
                if len(buf) >= max_len:
                    yield start, bytes(buf)
                    buf = bytearray()
            offset += len(unit)
        if buf:
            yield start, bytes(buf)


def write_report(path: str, results: list[Published]) -> None:
    """The JSON file under dist/: one entry per destination."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    entries = [{k: v for k, v in asdict(r).items() if k != "created"} for r in results]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def cleanup(undo: list[Callable[[], Any]]) -> list[str]:
    """Run the undo steps newest first; return what could not be undone."""
    failed = []
    for step in reversed(undo):
        try:
            step()
        except Exception as e:  # keep undoing the rest
            failed.append(f"{getattr(step, '__doc__', None) or step}: {type(e).__name__}")
    return failed


def required(m: Mapping[str, Any], key: str, cloud: str, target: str, option: str) -> str:
    value = m.get(key)
    if not value:
        raise CloudError(cloud, target, f"no {key} is set", f"set {option} (pants.toml or flag)")
    return str(value)


def unexpected_error(cloud: str, target: str, step: str, e: Exception, kept: str) -> CloudError:
    """The one line for an error no cloud-specific case names: the step, the
    exception's type and the first line of its text."""
    detail = str(e).splitlines()[0][:200] if str(e) else ""
    return CloudError(
        cloud,
        target,
        f"failed while {step}: {type(e).__name__}: {detail}{kept}",
        "nothing half-made was kept; run `pants publish` again",
    )
