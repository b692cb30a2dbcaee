"""A package's `build.yml` (LinuxKit's package metadata), read strictly.

`BUILD_YML_KEYS` lists the accepted keys with their help; `_REFUSED` the
Docker-build settings that have no meaning for packages built from Debian
packages without Docker, with the reason shown to the user.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from linuxkit_rules.core.spec.container import config_to_json, parse_container_config
from linuxkit_rules.core.spec.container_keys import ContainerDefaults
from linuxkit_rules.core.spec.strict_yaml import Loc, MapReader, load_yaml

KNOWN_ARCHES = ("amd64", "arm64", "riscv64", "s390x")
DEFAULT_ARCHES = ("amd64", "arm64")

_REFUSED = {
    "dockerfile": "packages are built from Debian packages and files, not from a Dockerfile",
    "buildArgs": "packages are built without Docker, there are no build arguments",
    "depends": "packages are built without Docker, images cannot be saved into the build context",
}
# Every accepted key, with the help `pants help linuxkit_package` shows.
BUILD_YML_KEYS: Mapping[str, str] = {
    "image": "the package's name (required)",
    "org": "its organisation; default linuxkit",
    "tag": "its tag, where {{.Hash}} is the hash of the package's inputs; default {{.Hash}}",
    "arches": f"architectures it is built for ({', '.join(KNOWN_ARCHES)}); default "
    + ", ".join(DEFAULT_ARCHES),
    "config": "the container defaults, the org.mobyproject.config label",
    "extra-sources": "'path/relative/to/package:/destination' files copied into the package",
    "gitrepo": "the org.opencontainers.image.source label",
    "labels": "further OCI labels",
    "network": "false only: builds have no network access",
    "disable-cache": "false only: every build step is cached by content",
}


def build_yml_keys_help() -> str:
    """The accepted keys, one `key: what` per line."""
    return "\n".join(f"{k}: {v}" for k, v in BUILD_YML_KEYS.items())


_TAG_TEMPLATE = re.compile(r"{{\s*\.Hash\s*}}")
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass(frozen=True)
class BuildYml:
    """The fields of one build.yml. `config_json` is the `org.mobyproject.config` label value."""

    file: str
    image: str
    org: str = "linuxkit"
    tag: str = "{{.Hash}}"
    arches: tuple[str, ...] = DEFAULT_ARCHES
    config: ContainerDefaults = (
        ContainerDefaults()
    )  # the `config:` section, parsed like a container
    extra_sources: tuple[
        tuple[str, str], ...
    ] = ()  # (source relative to the package dir, destination)
    gitrepo: str = ""
    labels: tuple[tuple[str, str], ...] = ()  # sorted pairs, extra OCI labels

    @property
    def config_json(self) -> dict[str, Any]:
        """The `org.mobyproject.config` label value, JSON-ready, LinuxKit's key spelling
        (a new dict each time, so BuildYml stays hashable); {} without a `config:`."""
        return config_to_json(self.config)

    def render_tag(self, hash: str) -> str:
        """The tag, with every `{{.Hash}}` replaced."""
        return _TAG_TEMPLATE.sub(hash, self.tag)

    def reference(self, hash: str) -> str:
        """`org/image:tag`, as LinuxKit names the package."""
        return f"{self.org}/{self.image}:{self.render_tag(hash)}"

    def oci_labels(self) -> dict[str, str]:
        """Labels the package image carries (without org.mobyproject.config)."""
        out = dict(self.labels)
        if self.gitrepo:
            out.setdefault("org.opencontainers.image.source", self.gitrepo)
        return out


def load_build_yml(text: str | bytes, file: str) -> BuildYml:
    doc = load_yaml(text, file)
    top = Loc(file, "", 1)
    r = MapReader(
        doc,
        top,
        tuple(BUILD_YML_KEYS),
        what="a build.yml",
        refused={key: f"not supported: {why}" for key, why in _REFUSED.items()},
    )
    image = r.required_str("image")
    if not _NAME.match(image):
        raise r.at("image").error(
            image, "an image name uses lower-case letters, digits and '.', '_' or '-'"
        )
    org = r.get_str("org")
    if org is not None and not _NAME.match(org):
        raise r.at("org").error(org, "an org uses lower-case letters, digits and '.', '_' or '-'")
    tag = r.get_str("tag")
    if tag is not None:
        rest = _TAG_TEMPLATE.sub("x", tag)
        if (
            not tag
            or "{{" in rest
            or "}}" in rest
            or not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", rest)
        ):
            raise r.at("tag").error(
                tag, "a tag is a Docker tag where '{{.Hash}}' is the only template"
            )
    arches = r.get_strs("arches")
    if arches is not None:
        if not arches:
            raise r.at("arches").error([], "list at least one architecture")
        for i, a in enumerate(arches):
            if a not in KNOWN_ARCHES:
                raise r.at("arches").index(i, None).error(a, "allowed: " + ", ".join(KNOWN_ARCHES))
    for key in ("network", "disable-cache"):
        if r.get_bool(key):
            why = (
                "builds have no network access"
                if key == "network"
                else "every build step is cached by content"
            )
            raise r.at(key).error(True, f"only false is supported: {why}")
    extra = []
    for loc, value in r.items("extra-sources") or ():
        parts = value.split(":") if isinstance(value, str) else []
        if len(parts) != 2 or not parts[0] or not parts[1].startswith("/"):
            raise loc.error(value, "an extra source is 'path/relative/to/package:/destination'")
        if parts[0].startswith(("/", "~")):
            raise loc.error(
                value, "the source of an extra source is relative to the package directory"
            )
        extra.append((parts[0], parts[1]))
    config = ContainerDefaults()
    if r.has("config"):
        config, _ = parse_container_config(r.raw("config"), r.at("config"))
    gitrepo = r.get_str("gitrepo") or ""
    labels = r.str_map("labels") or ()
    for k, _ in labels:
        if k == "org.mobyproject.config":
            raise r.at("labels").error(k, "set this label with 'config'")
    return BuildYml(
        file=file,
        image=image,
        org=org if org is not None else "linuxkit",
        tag=tag if tag is not None else "{{.Hash}}",
        arches=arches if arches is not None else DEFAULT_ARCHES,
        config=config,
        extra_sources=tuple(extra),
        gitrepo=gitrepo,
        labels=labels,
    )
