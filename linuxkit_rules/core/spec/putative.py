"""Which YAML files `pants tailor` makes `linuxkit_image` targets for."""
from __future__ import annotations

import yaml

# Top-level keys of a LinuxKit image YAML; a package's build.yml has `image:` instead.
IMAGE_KEYS = frozenset({"kernel", "init", "onboot", "onshutdown", "services", "files", "volumes"})


def is_image_yaml(text: bytes | str) -> bool:
    """True for a YAML mapping with an image's keys (kernel, init, onboot, services...)
    and no `image:` key; False for anything else, including YAML that does not parse
    (the build reports that, with its line, once a target names the file)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and "image" not in doc and bool(IMAGE_KEYS & set(doc))


def target_name(filename: str) -> str:
    """`redis-os.yml` -> `redis-os`: a target named after its file."""
    stem, dot, _ = filename.rpartition(".")
    return stem if dot else filename
