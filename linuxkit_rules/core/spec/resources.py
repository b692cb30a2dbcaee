"""The `resources:` setting: an OCI LinuxResources object, checked key by key
against its schema (LinuxKit's spellings accepted)."""
from __future__ import annotations

from typing import Any, Mapping

from linuxkit_rules.core.spec.strict_yaml import (
    Loc,
    MapReader,
    as_bool,
    as_int,
    as_scalar_str,
    as_str,
    items_of,
    type_name,
)

# OCI LinuxResources, as accepted in `resources:`; leaves are types, lists hold one item schema.
_THROTTLE: Any = [{"major": int, "minor": int, "rate": int}]
_RESOURCES_SCHEMA: Mapping[str, Any] = {
    "devices": [{"allow": bool, "type": str, "major": int, "minor": int, "access": str}],
    "memory": {
        "limit": int,
        "reservation": int,
        "swap": int,
        "kernel": int,
        "kernelTCP": int,
        "swappiness": int,
        "disableOOMKiller": bool,
    },
    "cpu": {
        "shares": int,
        "quota": int,
        "period": int,
        "realtimeRuntime": int,
        "realtimePeriod": int,
        "cpus": str,
        "mems": str,
    },
    "pids": {"limit": int},
    "blockIO": {
        "weight": int,
        "leafWeight": int,
        "weightDevice": [{"major": int, "minor": int, "weight": int, "leafWeight": int}],
        "throttleReadBpsDevice": _THROTTLE,
        "throttleWriteBpsDevice": _THROTTLE,
        "throttleReadIOPSDevice": _THROTTLE,
        "throttleWriteIOPSDevice": _THROTTLE,
    },
    "hugepageLimits": [{"pageSize": str, "limit": int}],
    "network": {"classID": int, "priorities": [{"name": str, "priority": int}]},
    "unified": dict,
}
# LinuxKit's schema spells some keys differently from the OCI JSON.
_RESOURCES_ALIASES = {"blockio": "blockIO"}


def _check_schema(value: object, schema: Any, loc: Loc) -> Any:
    if schema is int:
        return as_int(value, loc)
    if schema is bool:
        return as_bool(value, loc)
    if schema is str:
        return as_str(value, loc)
    if schema is dict:  # string -> string map (cgroup v2 "unified")
        if not isinstance(value, Mapping):
            raise loc.error(value, f"must be a mapping of strings, not a {type_name(value)}")
        lines = getattr(value, "key_lines", {})
        return {k: as_scalar_str(v, loc.key(k, lines.get(k))) for k, v in value.items()}
    if isinstance(schema, list):
        return [_check_schema(v, schema[0], iloc) for iloc, v in items_of(value, loc)]
    keys = tuple(schema) + tuple(a for a, k in _RESOURCES_ALIASES.items() if k in schema)
    r = MapReader(value, loc, keys)
    out = {}
    for k, v in r.value.items():
        name = _RESOURCES_ALIASES.get(k, k)
        if name in out:
            raise r.at(k).error(k, f"{name!r} is set twice")
        out[name] = _check_schema(v, schema[name], r.at(k))
    return out


def check_resources(value: object, loc: Loc) -> Any:
    """`resources:` as OCI LinuxResources JSON, each key checked against its type."""
    return _check_schema(value, _RESOURCES_SCHEMA, loc)
