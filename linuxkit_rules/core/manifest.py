"""The typed manifest of a tool command, shared by both sides of the process boundary.

A rule builds the command's `Manifest` subclass and sends `to_json()`; the command
reads it back with `from_json()`, which checks every key against the field's type.
Both sides name the fields once, in the dataclass, which sits beside the command.
Fields hold JSON values: str, int, float, bool, None, lists (as tuples) and mappings.
A field declared with `optional()` is left out of the JSON while it is None.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Mapping, Type, TypeVar

from linuxkit_rules.core.errors import LinuxkitError

M = TypeVar("M", bound="Manifest")

_OMIT_NONE = "manifest_omit_none"


class BadManifest(LinuxkitError):
    pass


def optional() -> Any:
    """A field whose key the JSON holds only when it is set (not None)."""
    return field(default=None, metadata={_OMIT_NONE: True})


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


def _split(text: str, sep: str) -> list[str]:
    """`text` split at `sep` outside brackets: "a[b, c], d" at "," -> ["a[b, c]", " d"]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


_SCALARS: dict[str, Any] = {
    "Any": lambda v: True,
    "None": lambda v: v is None,
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def matches(annotation: str, value: Any) -> bool:
    """Whether a JSON-decoded `value` fits a field annotation written as text
    (`str | None`, `tuple[str, ...]`, `Mapping[str, str]`...). A list fits a
    tuple type, since JSON inside a mapping keeps its lists."""
    alternatives = _split(annotation, "|")
    if len(alternatives) > 1:
        return any(matches(a, value) for a in alternatives)
    annotation = annotation.strip()
    if annotation in _SCALARS:
        return bool(_SCALARS[annotation](value))
    head, _, rest = annotation.partition("[")
    args = [a.strip() for a in _split(rest[:-1], ",")] if rest else []
    if head == "tuple":
        if not isinstance(value, (tuple, list)):
            return False
        if len(args) == 2 and args[1] == "...":
            return all(matches(args[0], v) for v in value)
        return len(value) == len(args) and all(matches(a, v) for a, v in zip(args, value))
    if head in ("Mapping", "dict"):
        if not isinstance(value, Mapping):
            return False
        return not args or all(
            matches(args[0], k) and matches(args[1], v) for k, v in value.items()
        )
    raise TypeError(f"manifest field type {annotation!r} is not a JSON type")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Manifest:
    """Base of every command's manifest; `command` is the tool command that reads it."""

    command: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: _to_json(getattr(self, f.name))
            for f in fields(self)
            if not (f.metadata.get(_OMIT_NONE) and getattr(self, f.name) is None)
        }

    @classmethod
    def from_json(cls: Type[M], data: Mapping[str, Any]) -> M:
        """The manifest in `data`, or one `BadManifest` naming the command and the key."""
        if not isinstance(data, Mapping):
            raise BadManifest(f"tool {cls.command}: the manifest is {_shown(data)}, not a mapping")
        declared = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(declared))
        if unknown:
            raise BadManifest(f"tool {cls.command}: unknown manifest keys {unknown}")
        missing = sorted(
            name
            for name, f in declared.items()
            if name not in data and f.default is MISSING and f.default_factory is MISSING
        )
        if missing:
            raise BadManifest(f"tool {cls.command}: missing manifest keys {missing}")
        for name, value in data.items():
            annotation = str(declared[name].type)
            if not matches(annotation, value):
                raise BadManifest(
                    f"tool {cls.command}: manifest key {name!r} is {_shown(value)}, "
                    f"not {annotation}"
                )
        return cls(**{k: _from_json(v) for k, v in data.items()})
