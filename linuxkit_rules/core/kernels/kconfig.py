"""Kernel config fragments: parse, merge, and check what the kernel's Kconfig kept.

A fragment holds lines `CONFIG_X=y|m|n|"string"|number` and `# CONFIG_X is
not set` (the same as `=n`); other `#` lines and blank lines are comments. The
merge of several fragments is applied on top of a base `.config` and resolved
by the kernel's own `make olddefconfig`; `check_resolved` then compares the
result with what was asked.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from linuxkit_rules.core.errors import LinuxkitError, SchemaError

_SET_RE = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET_RE = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
_VALUE_RE = re.compile(r'^(?:[ymn]|"(?:[^"\\]|\\.)*"|-?[0-9]+|0x[0-9a-fA-F]+)$')
_KCONFIG_SYMBOL_RE = re.compile(r"^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$", re.M)

LINE_FORMAT = 'lines are `CONFIG_X=y|m|n|"string"|number`, `# CONFIG_X is not set` or comments'


class KconfigError(LinuxkitError):
    """A resolved kernel configuration does not hold what the fragments asked."""


@dataclass(frozen=True)
class Setting:
    """One requested option: `name` is `CONFIG_X`, `value` is `y`, `n`, `"text"`, `42`..."""

    name: str
    value: str
    file: str
    line: int

    def render(self) -> str:
        if self.value == "n":
            return f"# {self.name} is not set"
        return f"{self.name}={self.value}"


def parse_fragment(file: str, text: str) -> tuple[Setting, ...]:
    """The settings of one fragment, in order; a bad line or an option set twice
    to different values is a `SchemaError` naming `file` and the line."""
    settings: list[Setting] = []
    seen: dict[str, Setting] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        unset = _UNSET_RE.match(line)
        if unset:
            setting = Setting(unset.group(1), "n", file, number)
        elif not line or line.startswith("#"):
            continue
        else:
            match = _SET_RE.match(line)
            if not match or not _VALUE_RE.match(match.group(2)):
                raise SchemaError(file, number, "kernel config line", raw, LINE_FORMAT)
            setting = Setting(match.group(1), match.group(2), file, number)
        previous = seen.get(setting.name)
        if previous is not None and previous.value != setting.value:
            raise _conflict(previous, setting)
        seen[setting.name] = setting
        settings.append(setting)
    return tuple(settings)


def _conflict(first: Setting, second: Setting) -> SchemaError:
    return SchemaError(
        second.file,
        second.line,
        second.name,
        second.value,
        f"{first.file}:{first.line} sets it to {first.value}; a fragment may not override another",
    )


def merge(fragments: Iterable[Sequence[Setting]]) -> dict[str, Setting]:
    """name -> setting over all fragments; two fragments that disagree on an
    option are a `SchemaError` naming both places."""
    merged: dict[str, Setting] = {}
    for settings in fragments:
        for setting in settings:
            previous = merged.get(setting.name)
            if previous is not None and previous.value != setting.value:
                raise _conflict(previous, setting)
            merged.setdefault(setting.name, setting)
    return merged


def render(merged: Mapping[str, Setting]) -> str:
    """The merged settings as `.config` lines, sorted by option name."""
    return "".join(merged[name].render() + "\n" for name in sorted(merged))


def parse_config(text: str) -> dict[str, str]:
    """A resolved `.config`: name -> value, with `is not set` as `n`."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        unset = _UNSET_RE.match(line)
        if unset:
            values[unset.group(1)] = "n"
            continue
        match = _SET_RE.match(line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def kconfig_symbols(source_root: str) -> set[str]:
    """Every `CONFIG_X` some Kconfig file under `source_root` declares."""
    symbols: set[str] = set()
    for directory, dirs, files in os.walk(source_root):
        dirs.sort()
        for name in files:
            if name.startswith("Kconfig"):
                with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
                    symbols.update("CONFIG_" + s for s in _KCONFIG_SYMBOL_RE.findall(f.read()))
    return symbols


def check_unknown(merged: Mapping[str, Setting], symbols: set[str]) -> None:
    """A requested option no Kconfig declares is an error naming file and line."""
    unknown = [s for s in merged.values() if s.name not in symbols]
    if unknown:
        first = min(unknown, key=lambda s: (s.file, s.line))
        more = "".join(
            f"\n{s.file}:{s.line}: {s.name} is not an option of this kernel"
            for s in unknown
            if s != first
        )
        raise SchemaError(
            first.file,
            first.line,
            "kernel option",
            first.name,
            "this kernel's Kconfig does not declare it" + more,
        )


def dropped(
    merged: Mapping[str, Setting], resolved: Mapping[str, str]
) -> list[tuple[Setting, str]]:
    """Each requested setting the resolved config does not hold, with the value it got."""
    out = []
    for name in sorted(merged):
        setting = merged[name]
        got = resolved.get(name, "n")
        if got != setting.value:
            out.append((setting, got))
    return out


def check_resolved(merged: Mapping[str, Setting], resolved: Mapping[str, str]) -> None:
    """Raise `KconfigError` listing every dropped option with the fragment it came from."""
    lost = dropped(merged, resolved)
    if lost:
        lines = [
            f"{s.file}:{s.line}: {s.name}={s.value} did not survive olddefconfig "
            f"(resolved: {'not set' if got == 'n' else got}); a dependency is missing"
            for s, got in lost
        ]
        raise KconfigError(f"{len(lost)} kernel option(s) dropped:\n" + "\n".join(lines))


def check_required(config_name: str, required: Sequence[str], resolved: Mapping[str, str]) -> None:
    """Each of `required` (`CONFIG_X`, or `CONFIG_X=value`) must hold in `resolved`;
    `=y` is implied and `m` also satisfies it."""
    missing = []
    for item in required:
        name, _, want = item.partition("=")
        got = resolved.get(name, "n")
        ok = got == want if want else got in ("y", "m")
        if not ok:
            missing.append(
                f"{name}{'=' + want if want else ''} (is {'not set' if got == 'n' else got})"
            )
    if missing:
        raise KconfigError(f"{config_name}: required kernel options missing: " + ", ".join(missing))
