"""Builds LinuxKit's kernel layout from a Debian linux-image .deb."""
from __future__ import annotations

import io
import os
import posixpath
import re
import tarfile
from dataclasses import dataclass
from typing import Any, Mapping

from linuxkit_rules.core.arch import Arch
from linuxkit_rules.core.archive.deb import read_deb
from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.kernels.kconfig import check_required, parse_config
from linuxkit_rules.core.kernels.kmod import (
    Module,
    ModuleError,
    builtin_names,
    closure,
    decompress_module,
    make_module,
    modules_alias,
    modules_dep,
)
from linuxkit_rules.core.manifest import Manifest

# Debian 13 ships modules under usr/lib/modules (merged /usr), earlier releases under lib/modules.
_MODULE_RE = re.compile(r"^(?:usr/)?lib/modules/([^/]+)/(.+\.ko(?:\.xz|\.gz|\.zst)?)$")


def _norm(name: str) -> str:
    return name[2:] if name.startswith("./") else name


@dataclass(frozen=True)
class KernelManifest(Manifest):
    """`tool kernel`: LinuxKit's kernel layout from a Debian linux-image .deb."""

    command = "kernel"

    deb: str
    name: str  # the target, for messages
    arch: str
    modules: tuple[str, ...]  # modules kept (with their dependencies), loaded at boot
    required_options: tuple[str, ...]  # CONFIG_X=y lines the kernel's config must hold
    output: str  # directory of the layout


def build_kernel(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = KernelManifest.from_json(manifest)
    mtime = int(os.environ["SOURCE_DATE_EPOCH"])
    with open(m.deb, "rb") as f:
        deb = read_deb(f)
    boot: dict[str, bytes] = {}
    kos: dict[str, bytes] = {}
    modules: dict[str, Module] = {}
    extra: dict[str, bytes] = {}
    version = ""
    with tarfile.open(fileobj=io.BytesIO(deb.data), mode="r|*") as tar:
        for member in tar:
            name = _norm(member.name)
            if not member.isfile():
                continue
            if name.startswith("boot/"):
                base = posixpath.basename(name)
                for prefix, key in (
                    ("vmlinuz-", "kernel"),
                    ("System.map-", "System.map"),
                    ("config-", "config"),
                ):
                    if base.startswith(prefix):
                        boot[key] = tar.extractfile(member).read()  # type: ignore[union-attr]
                        version = base[len(prefix) :]
                continue
            match = _MODULE_RE.match(name)
            if match:
                path, data = decompress_module(match.group(2), tar.extractfile(member).read())  # type: ignore[union-attr]
                mod = make_module(path, data)
                modules[mod.name] = mod
                kos[mod.name] = data
            elif re.match(r"^(?:usr/)?lib/modules/[^/]+/modules\.(builtin|order)$", name):
                extra[posixpath.basename(name)] = tar.extractfile(member).read()  # type: ignore[union-attr]
    missing = [k for k in ("kernel", "System.map", "config") if k not in boot]
    if missing:
        raise ModuleError(f"{m.deb}: not a kernel package (no {', '.join(missing)} under /boot)")
    check_required(m.name, m.required_options, parse_config(boot["config"].decode()))
    try:
        chosen = closure(modules, m.modules, builtin_names(extra.get("modules.builtin", b"")))
    except ModuleError as e:
        raise ModuleError(f"{m.name}: modules: {e} ({version})") from None
    base = f"lib/modules/{version}"
    tree = Tree()
    for mod in chosen:
        tree.add(Entry(f"{base}/{mod.path}", "file", 0o644, data=kos[mod.name]))
    tree.add(
        Entry(f"{base}/modules.dep", "file", 0o644, data=modules_dep(chosen, modules).encode())
    )
    tree.add(Entry(f"{base}/modules.alias", "file", 0o644, data=modules_alias(chosen).encode()))
    if "modules.builtin" in extra:
        tree.add(Entry(f"{base}/modules.builtin", "file", 0o644, data=extra["modules.builtin"]))
    wanted = "".join(f"{name}\n" for name in m.modules)
    tree.add(Entry("etc/modules", "file", 0o644, data=wanted.encode()))
    boot["kernel"] = Arch.parse(m.arch, m.deb).bootable_kernel(boot["kernel"])
    out = m.output
    os.makedirs(out, exist_ok=True)
    for key in ("kernel", "System.map", "config"):
        with open(os.path.join(out, key), "wb") as f:
            f.write(boot[key])
    with open(os.path.join(out, "kernel.tar"), "wb") as f:
        write_tar(tree.entries(), f, mtime)
    return {"version": version, "modules": [mod.name for mod in chosen]}
