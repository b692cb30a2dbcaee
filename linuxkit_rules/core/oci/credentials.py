"""Registry credentials, never from the repository: the Docker config file
(`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
`auths.<registry>.auth` or `username`/`password`) or `REGISTRY_AUTH`
(`registry=user:password`, several separated by spaces or commas).
"""
from __future__ import annotations

import base64
import json
import os
import re
from typing import Any, Mapping

from linuxkit_rules.core.errors import RegistryError


def _docker_config(env: Mapping[str, str]) -> dict[str, Any]:
    directory = env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME", ""), ".docker")
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise RegistryError(f"{path}: cannot read the Docker config: {e}") from None
    return doc if isinstance(doc, dict) else {}


def credentials_for(registry: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(user, password) for `registry` from REGISTRY_AUTH or the Docker config, else None."""
    for item in re.split(r"[\s,]+", env.get("REGISTRY_AUTH", "").strip()):
        host, eq, userpass = item.partition("=")
        if eq and host == registry:
            user, colon, password = userpass.partition(":")
            if not colon:
                raise RegistryError(
                    f"REGISTRY_AUTH: the entry for {registry} must be {registry}=USER:PASSWORD"
                )
            return user, password
    auths = _docker_config(env).get("auths") or {}
    for key in (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v2/"):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            return user, password
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
    return None
