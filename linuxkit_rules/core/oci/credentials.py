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
        # json's message quotes no content, only the position; keep it to one line.
        reason = " ".join(str(e).split())[:200]
        raise RegistryError(f"{path}: cannot read the Docker config: {reason}") from None
    return doc if isinstance(doc, dict) else {}


def _decode_auth(value: object, key: str, env: Mapping[str, str]) -> str:
    """The `user:password` an `auth` entry encodes; the error never shows the value."""
    directory = env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME", ""), ".docker")
    where = f"{os.path.join(directory, 'config.json')}: auths.{key}.auth"
    if not isinstance(value, str):
        raise RegistryError(f"{where}: must be a base64 string of USER:PASSWORD")
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise RegistryError(
            f"{where}: is not valid base64 of USER:PASSWORD (value not shown)"
        ) from None
    if ":" not in text:
        raise RegistryError(f"{where}: decodes to no USER:PASSWORD pair (value not shown)")
    return text


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
            user, _, password = _decode_auth(entry["auth"], key, env).partition(":")
            return user, password
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
    return None
