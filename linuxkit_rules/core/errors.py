"""Typed errors raised by `core`; rules turn them into Pants errors at the edge."""
from __future__ import annotations


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
        super().__init__(f"{where}: {field}: {value!r} is not allowed; {allowed}")


class DebianError(LinuxkitError):
    """A Debian lock, resolve or fetch problem."""


class ArchiveError(LinuxkitError):
    """A malformed archive or a path that would escape its root."""


class RegistryError(LinuxkitError):
    """A registry refused a request, could not be reached, or sent bad data."""
