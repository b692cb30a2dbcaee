"""Typed errors raised by `core`; rules turn them into Pants errors at the edge."""
from __future__ import annotations


def short_repr(value: object, budget: int = 200) -> str:
    """`repr(value)` cut to about `budget` characters, without building the whole
    repr first: a value from YAML aliases can be far larger printed than in memory."""
    out: list[str] = []
    left = [budget]

    def put(text: str) -> bool:
        if left[0] <= 0:
            return False
        out.append(text[: left[0]])
        left[0] -= len(text)
        return left[0] > 0

    def walk(v: object) -> bool:
        if isinstance(v, dict):
            if not put("{"):
                return False
            for i, (k, item) in enumerate(v.items()):
                if (i and not put(", ")) or not walk(k) or not put(": "):
                    return False
                if not walk(item):
                    return False
            return put("}")
        if isinstance(v, (list, tuple)):
            if not put("["):
                return False
            for i, item in enumerate(v):
                if (i and not put(", ")) or not walk(item):
                    return False
            return put("]")
        if isinstance(v, str):
            return put(repr(v[: left[0] + 2]))
        return put(repr(v)[: left[0] + 1] if not isinstance(v, (int, float, bool)) else repr(v))

    walk(value)
    text = "".join(out)
    if left[0] <= 0:
        text = text[:budget] + "..."
    return text


class LinuxkitError(Exception):
    """Base error: `str(e)` is the whole message a user sees."""


class SchemaError(LinuxkitError):
    """A value in a user's file (image YAML, build.yml, fragment...) is not allowed."""

    def __init__(
        self, file: str, line: int | None, field: str, value: object, allowed: str
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.value = value
        self.allowed = allowed
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {field}: {short_repr(value)} is not allowed; {allowed}")


class DebianError(LinuxkitError):
    """A Debian lock, resolve or fetch problem."""


class ArchiveError(LinuxkitError):
    """A malformed archive or a path that would escape its root."""


class RegistryError(LinuxkitError):
    """A registry refused a request, could not be reached, or sent bad data."""
