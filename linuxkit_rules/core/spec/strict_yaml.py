"""Strict YAML reading with line numbers, shared by the image YAML and build.yml models.

`load_yaml` parses with PyYAML's safe loader but keeps, for every mapping key and
list item, the line it was written on, rejects duplicate keys, and keeps the
source text of integers (so `mode: 0600` can be read as octal digits).
`MapReader` reads one mapping strictly: unknown keys and wrong types raise
`SchemaError` naming the file, the line, the field path and what is allowed.
The same readers accept plain dicts/lists (for example a JSON label), in which
case lines are `None`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import yaml

from linuxkit_rules.core.errors import SchemaError


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping from YAML, with the line (1-based) of the mapping and of each key."""

    line: int | None = None
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}


class LineList(list):  # type: ignore[type-arg]
    """A sequence from YAML, with the line of the sequence and of each item."""

    line: int | None = None
    item_lines: list[int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines = []


class YamlInt(int):
    """An integer from YAML that remembers how it was written (`0600`, `42`)."""

    raw: str

    def __new__(cls, value: int, raw: str) -> YamlInt:
        obj = super().__new__(cls, value)
        obj.raw = raw
        return obj


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> LineDict:
    # Keys written in this mapping, as opposed to those a merge key (`<<: *base`)
    # brings in: an explicit key overrides a merged one, as YAML says; an explicit
    # key given twice is an error.
    explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - explicit
    result = LineDict()
    result.line = node.start_mark.line + 1
    from_merge: set[str] = set()
    for i, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise SchemaError(loader.name, line, "key", key, "mapping keys must be strings")
        if key in result and i >= merged and key not in from_merge:
            raise SchemaError(
                loader.name,
                line,
                key,
                key,
                f"duplicate key (first set on line {result.key_lines[key]})",
            )
        if i < merged:
            from_merge.add(key)
        else:
            from_merge.discard(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _StrictLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode) -> YamlInt:
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    return YamlInt(value, str(node.value))


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


# The most nodes a document may hold once its aliases are expanded: a few hundred
# bytes of nested aliases ("billion laughs") expand to more than memory holds
# when walked or printed.
MAX_EXPANDED_NODES = 200_000


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """The node count of `root` with every alias expanded, counted without expanding
    (each node's size once), capped at `limit + 1`; a node that contains itself
    counts as past the limit."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            sizes[id(node)] = 1
            continue
        if not children_done:
            if id(node) in visiting:
                return limit + 1
            visiting.add(id(node))
            stack.append((node, True))
            for c in children:
                if id(c) in visiting:
                    return limit + 1
                if id(c) not in sizes:
                    stack.append((c, False))
            continue
        visiting.discard(id(node))
        sizes[id(node)] = min(limit + 1, 1 + sum(sizes.get(id(c), 1) for c in children))
    return sizes[id(root)]


def decode_text(data: str | bytes, file: str) -> str:
    """The text of a UTF-8 file; anything else is a one-line SchemaError with the byte offset."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SchemaError(
            file,
            data.count(b"\n", 0, e.start) + 1,
            "encoding",
            f"byte 0x{data[e.start]:02x} at offset {e.start}",
            "the file must be UTF-8 text",
        ) from None


def load_yaml(text: str | bytes, file: str) -> Any:
    """Parse one YAML document; syntax errors become `SchemaError` with the line.
    Bytes must be UTF-8; a document that expands past MAX_EXPANDED_NODES nodes
    through aliases is refused."""
    loader = _StrictLoader(decode_text(text, file))
    loader.name = file
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, MAX_EXPANDED_NODES)
        if size > MAX_EXPANDED_NODES:
            raise SchemaError(
                file,
                None,
                "yaml",
                f"more than {MAX_EXPANDED_NODES} nodes once aliases are expanded",
                "aliases may not multiply a document's size this much",
            )
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SchemaError(
            file, line, "yaml", e.problem or str(e), "the file must be valid YAML"
        ) from None
    except yaml.YAMLError as e:
        raise SchemaError(file, None, "yaml", str(e), "the file must be valid YAML") from None
    finally:
        loader.dispose()


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


@dataclass(frozen=True)
class Loc:
    """Where a value sits: file, field path (`services[1].binds[0]`) and line."""

    file: str
    path: str
    line: int | None

    def key(self, key: str, line: int | None) -> Loc:
        path = f"{self.path}.{key}" if self.path else key
        return Loc(self.file, path, line if line is not None else self.line)

    def index(self, i: int, line: int | None) -> Loc:
        return Loc(self.file, f"{self.path}[{i}]", line if line is not None else self.line)

    def error(self, value: object, allowed: str) -> SchemaError:
        return SchemaError(self.file, self.line, self.path or "<document>", value, allowed)


def items_of(value: object, loc: Loc) -> Iterator[tuple[Loc, Any]]:
    """The items of a YAML list with their locations; anything else is an error."""
    if not isinstance(value, list):
        raise loc.error(value, f"must be a list, not a {type_name(value)}")
    lines = getattr(value, "item_lines", None)
    for i, item in enumerate(value):
        yield loc.index(i, lines[i] if lines else None), item


def as_str(value: object, loc: Loc) -> str:
    if not isinstance(value, str):
        raise loc.error(value, f"must be a string, not a {type_name(value)}")
    return value


def as_int(value: object, loc: Loc) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise loc.error(value, f"must be an integer, not a {type_name(value)}")
    return int(value)


def as_bool(value: object, loc: Loc) -> bool:
    if not isinstance(value, bool):
        raise loc.error(value, f"must be true or false, not a {type_name(value)}")
    return value


def as_octal(value: object, loc: Loc) -> int:
    """A file mode written as octal digits: "0600", 0600 (unquoted) or "0o600"."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise loc.error(value, 'must be an octal mode string such as "0644"')
    text = value.raw if isinstance(value, YamlInt) else str(value)
    digits = text.strip()
    if digits.lower().startswith("0o"):
        digits = digits[2:]
    if not digits or any(c not in "01234567" for c in digits) or int(digits, 8) > 0o7777:
        raise loc.error(value, 'must be an octal mode such as "0644" (digits 0-7, at most 07777)')
    return int(digits, 8)


def as_scalar_str(value: object, loc: Loc) -> str:
    """A string, or an integer written in YAML (kept as written); booleans are refused."""
    if isinstance(value, YamlInt):
        return value.raw
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    raise loc.error(value, f"must be a string (quote it), not a {type_name(value)}")


class MapReader:
    """Strict reader for one mapping: unknown keys fail at construction.

    `refused` maps keys that are known but not supported to the reason, which
    is the error's text; they are checked first, in `refused`'s order."""

    def __init__(
        self,
        value: object,
        loc: Loc,
        allowed: Iterable[str],
        *,
        what: str = "",
        refused: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(value, Mapping):
            raise loc.error(
                value,
                f"must be a mapping{' (' + what + ')' if what else ''}, not a {type_name(value)}",
            )
        self.value: Mapping[str, Any] = value
        self.loc = loc
        self.allowed = tuple(allowed)
        key_lines = getattr(value, "key_lines", {})
        self._lines: Mapping[str, int] = key_lines
        for key, why in (refused or {}).items():
            if key in value:
                raise self.at(key).error(value[key], why)
        for key in value:
            if key not in self.allowed:
                raise self.at(key).error(key, "allowed keys: " + ", ".join(self.allowed))

    def at(self, key: str) -> Loc:
        return self.loc.key(key, self._lines.get(key))

    def has(self, key: str) -> bool:
        return key in self.value

    def raw(self, key: str) -> Any:
        return self.value.get(key)

    def get_str(self, key: str) -> str | None:
        if key not in self.value:
            return None
        return as_str(self.value[key], self.at(key))

    def required_str(self, key: str) -> str:
        if key not in self.value:
            raise self.loc.error(None, f"the key {key!r} is required")
        s = as_str(self.value[key], self.at(key))
        if not s:
            raise self.at(key).error(s, "must not be empty")
        return s

    def require(self, *keys: str) -> None:
        """Each of `keys` must be present (with any value)."""
        for key in keys:
            if key not in self.value:
                raise self.at(key).error(None, f"the key {key!r} is required")

    def get_bool(self, key: str) -> bool | None:
        if key not in self.value:
            return None
        return as_bool(self.value[key], self.at(key))

    def get_int(self, key: str) -> int | None:
        if key not in self.value:
            return None
        return as_int(self.value[key], self.at(key))

    def get_octal(self, key: str) -> int | None:
        if key not in self.value:
            return None
        return as_octal(self.value[key], self.at(key))

    def get_strs(self, key: str) -> tuple[str, ...] | None:
        if key not in self.value:
            return None
        return tuple(as_str(v, loc) for loc, v in items_of(self.value[key], self.at(key)))

    def items(self, key: str) -> list[tuple[Loc, Any]] | None:
        if key not in self.value:
            return None
        return list(items_of(self.value[key], self.at(key)))

    def str_map(self, key: str) -> tuple[tuple[str, str], ...] | None:
        """A mapping of string to string, as sorted pairs."""
        if key not in self.value:
            return None
        loc = self.at(key)
        value = self.value[key]
        if not isinstance(value, Mapping):
            raise loc.error(value, f"must be a mapping of strings, not a {type_name(value)}")
        lines = getattr(value, "key_lines", {})
        return tuple(
            sorted((k, as_scalar_str(v, loc.key(k, lines.get(k)))) for k, v in value.items())
        )

    def map(self, key: str, allowed: Sequence[str]) -> MapReader | None:
        if key not in self.value:
            return None
        return MapReader(self.value[key], self.at(key), allowed)
