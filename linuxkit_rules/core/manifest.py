"""The typed manifest of a tool command, shared by both sides of the process boundary.

A rule builds the command's `Manifest` subclass and sends `to_json()`; the command
reads it back with `from_json()`. Both sides name the fields once, in the dataclass.
Fields hold JSON values: str, int, bool, None, lists (as tuples) and mappings.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Mapping, Type, TypeVar

from linuxkit_rules.core.errors import LinuxkitError

M = TypeVar("M", bound="Manifest")


class BadManifest(LinuxkitError):
    pass


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return value


@dataclass(frozen=True)
class Manifest:
    """Base of every command's manifest; `command` is the tool command that reads it."""

    command: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls: Type[M], data: Mapping[str, Any]) -> M:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise BadManifest(f"tool {cls.command}: unknown manifest keys {unknown}")
        try:
            return cls(**{k: _from_json(v) for k, v in data.items()})
        except TypeError as e:
            raise BadManifest(f"tool {cls.command}: {e}") from None
