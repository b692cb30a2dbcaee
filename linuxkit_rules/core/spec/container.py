"""A container's settings as LinuxKit's YAML writes them: the strict parser.

The container fields are parsed by `parse_container_config`, which the image
YAML (`onboot`, `onshutdown`, `services`), `build_yml` (the `config:` of a
package) and `runtime_config` (the `org.mobyproject.config` label, as JSON)
all use, so all three accept exactly the same keys with the same checks. The
keys themselves are described once, in `container_keys`.
"""
from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import Any, Mapping, Sequence

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.spec.container_keys import (
    CONTAINER_KEY_SPECS,
    CONTAINER_KEYS,
    ContainerDefaults,
    ContainerSpec,
)
from linuxkit_rules.core.spec.strict_yaml import Loc, MapReader

# YAML keys LinuxKit has that this project refuses, with the reason shown to the user.
UNSUPPORTED_CONTAINER_KEYS: Mapping[str, str] = {
    "userns": "user namespaces are not supported (LinuxKit marks them experimental)",
    "uidMappings": "user namespaces are not supported (LinuxKit marks them experimental)",
    "gidMappings": "user namespaces are not supported (LinuxKit marks them experimental)",
}


def parse_container_config(
    value: object, loc: Loc, *, extra_keys: Sequence[str] = (), volumes: bool = False
) -> tuple[ContainerDefaults, MapReader]:
    """Parse the container settings of a mapping (YAML entry, build.yml `config`, or label).

    `extra_keys` are further keys the caller reads itself (e.g. name, image).
    Returns the settings and the reader, for the caller's own keys.
    """
    r = MapReader(
        value,
        loc,
        tuple(extra_keys) + tuple(CONTAINER_KEYS.values()),
        refused=UNSUPPORTED_CONTAINER_KEYS,
    )
    values = {a: k.parse(r, k.yaml, volumes) for a, k in CONTAINER_KEY_SPECS.items()}
    return ContainerDefaults(**values), r


def config_to_json(config: ContainerDefaults) -> dict[str, Any]:
    """The settings as LinuxKit spells them (label / YAML keys); unset fields are omitted."""
    out: dict[str, Any] = {}
    if isinstance(config, ContainerSpec):
        out["name"] = config.name
        out["image"] = config.image
    for attr, key in CONTAINER_KEY_SPECS.items():
        value = getattr(config, attr)
        if value is not None:
            out[key.yaml] = key.to_json(value)
    return out


def parse_label(
    label: Mapping[str, Any] | str, source: str = "org.mobyproject.config label"
) -> ContainerDefaults:
    """Parse an `org.mobyproject.config` label (JSON text or its decoded object)."""
    if isinstance(label, str):
        try:
            label = json.loads(label)
        except ValueError as e:
            raise SchemaError(
                source, None, "<label>", label, f"must be a JSON object ({e})"
            ) from None
    if not isinstance(label, Mapping):
        raise SchemaError(source, None, "<label>", label, "must be a JSON object")
    for key in ("name", "image"):
        if key in label:
            raise SchemaError(
                source, None, key, label[key], "name and image cannot be set in a label"
            )
    config, _ = parse_container_config(label, Loc(source, "", None))
    return config


def parse_container(value: object, loc: Loc) -> ContainerSpec:
    """One `onboot`/`onshutdown`/`services` entry."""
    config, r = parse_container_config(value, loc, extra_keys=("name", "image"), volumes=True)
    name = r.required_str("name")
    if not re.match(r"^[a-z0-9][a-z0-9_.-]*$", name):
        raise r.at("name").error(
            name, "a name uses a-z, 0-9, '_', '-' and '.', and starts with a letter or digit"
        )
    image = r.required_str("image")
    values = {f.name: getattr(config, f.name) for f in fields(ContainerDefaults)}
    return ContainerSpec(name=name, image=image, line=loc.line, file=loc.file, **values)
