"""Kernels from Debian's `linux-source-*` package: resolve a config, compile it.

Two tool commands, so that a fragment edit which leaves the resolved `.config`
unchanged stops before the compile (the compile's only config input is the
resolved file):

Both take `arch` (amd64 or arm64; arm64 cross-compiles with Debian's
`aarch64-linux-gnu-` toolchain, as `ARCH=arm64 CROSS_COMPILE=...`).

- `kconfig`: base (`tinyconfig`, `defconfig`... or a file) + fragments ->
  `make olddefconfig` -> the resolved `.config`, checked against the fragments.
- `linux`: source + resolved `.config` -> `make -j` -> LinuxKit's kernel layout
  (`kernel`, `kernel.tar`, `System.map`, `config`), through ccache when the
  manifest names a cache directory.

Both read the source from a tree unpacked once per .deb (kbuild_cache.py) and
never write to it (`make O=`). `linux` compiles in a build directory kept
there between runs, so `make` rebuilds only what a config change touched.
The kernel is reproducible (`KBUILD_BUILD_TIMESTAMP`, `_USER`, `_HOST` and
`_VERSION` fixed, relative source paths), so its bytes do not depend on the
state the build directory was in.
"""
from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from linuxkit_rules.core.arch import Arch
from linuxkit_rules.core.archive.deb import read_deb
from linuxkit_rules.core.archive.tree import Entry, Tree
from linuxkit_rules.core.archive.writers import write_tar
from linuxkit_rules.core.errors import LinuxkitError
from linuxkit_rules.core.kernels.kbuild_cache import build_dir, file_sha256, source_tree
from linuxkit_rules.core.kernels.kconfig import (
    check_resolved,
    check_unknown,
    kconfig_symbols,
    merge,
    parse_config,
    parse_fragment,
    render,
)
from linuxkit_rules.core.manifest import Manifest, optional
from linuxkit_rules.core.sandbox import SANDBOX_PATH, Toolchain, resolve_in_root

MAKE_BASES = ("tinyconfig", "defconfig", "allnoconfig")
# The toolchain's fingerprint (set by the rule: its root's digest and the
# sandbox launcher's version): a build directory belongs to one toolchain.
TOOLCHAIN_ENV = "LKR_KERNEL_TOOLCHAIN"
HEADERS = {"/usr/include/gelf.h": "libelf-dev", "/usr/include/openssl/ssl.h": "libssl-dev"}


class KernelBuildError(LinuxkitError):
    """The kernel's own build failed (make's output tail is in the message)."""


def extract_source(deb_path: str, dest: str, env: Mapping[str, str], toolchain: Toolchain) -> None:
    """Unpack the kernel tree of a `linux-source-*` .deb into `dest`."""
    with open(deb_path, "rb") as f:
        deb = read_deb(f)
    tarball = os.path.abspath("__linux_source.tar.xz")
    with tarfile.open(fileobj=io.BytesIO(deb.data), mode="r|*") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            if (
                name.startswith("usr/src/linux-source-")
                and name.endswith(".tar.xz")
                and member.isfile()
            ):
                with open(tarball, "wb") as out:
                    shutil.copyfileobj(tar.extractfile(member), out)  # type: ignore[arg-type]
                break
        else:
            raise KernelBuildError(
                f"{deb_path}: no usr/src/linux-source-*.tar.xz (not a linux-source package)"
            )
    os.makedirs(dest, exist_ok=True)
    _run(
        toolchain,
        ["tar", "-xJf", tarball, "-C", dest, "--strip-components=1"],
        ".",
        "unpacking the kernel source",
        env,
    )
    os.unlink(tarball)


@dataclass(frozen=True)
class KconfigManifest(Manifest):
    """`tool kconfig`: a base config plus fragments, resolved by the source's Kconfig."""

    command = "kconfig"

    deb: str  # the linux-source .deb
    arch: str
    base: str  # a make target (tinyconfig, defconfig...), unless `base_file` is set
    base_file: str  # a full .config to start from, or ""
    fragments: tuple[str, ...]  # fragment files, merged in order
    toolchain: Mapping[str, Any]  # core/sandbox.py `Toolchain` JSON
    kbuild_dir: str  # where unpacked source trees are kept (a named cache), or ""
    output: str


@dataclass(frozen=True)
class LinuxManifest(Manifest):
    """`tool linux`: compile the source with a resolved config."""

    command = "linux"

    deb: str  # the linux-source .deb
    arch: str
    config: str  # the resolved .config
    toolchain: Mapping[str, Any]  # core/sandbox.py `Toolchain` JSON
    ccache_dir: str  # the compiler cache, or "" for none
    kbuild_dir: str  # source trees and build directories kept between runs, or ""
    build_id: str  # whose build directory (a target address)
    jobs: int  # make -j; 0 for one per CPU
    output: str  # directory of LinuxKit's kernel layout
    ccache_max_size: str | None = optional()  # CCACHE_MAXSIZE; 5G when unset


def _env(arch: Arch) -> dict[str, str]:
    epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    env = dict(os.environ)
    env.update(
        {
            "PATH": ":".join(SANDBOX_PATH),
            "ARCH": arch.kernel_arch(),
            "CROSS_COMPILE": arch.cross_compile(),
            "KBUILD_BUILD_TIMESTAMP": f"@{epoch}",
            "KBUILD_BUILD_USER": "linuxkit",
            "KBUILD_BUILD_HOST": "linuxkit",
            "KBUILD_BUILD_VERSION": "1",
        }
    )
    return env


def _run(
    toolchain: Toolchain, argv: Sequence[str], cwd: str, what: str, env: Mapping[str, str]
) -> str:
    """Run `argv` from the toolchain; its output goes to a log, whose tail is the
    error on failure."""
    command = [*toolchain.command(argv[0], cwd), *argv[1:]]
    proc = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    text = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(text.splitlines()[-40:])
        raise KernelBuildError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{tail}")
    return text


def _check_headers(toolchain: Toolchain) -> None:
    root = os.path.realpath(toolchain.root)
    missing = [pkg for path, pkg in HEADERS.items() if resolve_in_root(root, path) is None]
    if missing:
        raise KernelBuildError(
            f"the toolchain {toolchain.target} lacks kernel build headers; add the Debian "
            f"packages {', '.join(missing)} to its `packages`"
        )


def _tree(deb: str, kbuild_dir: str, env: Mapping[str, str], toolchain: Toolchain) -> str:
    """The unpacked source of `deb`, kept under `kbuild_dir` (a named cache) when
    given, else unpacked into a fresh directory of the sandbox."""
    root = os.path.realpath(kbuild_dir or "kbuild")
    return source_tree(
        root, file_sha256(deb), lambda dest: extract_source(deb, dest, env, toolchain)
    )


# What Kbuild runs (besides the shell and coreutils): each must be in the
# toolchain, checked before make starts so that the error names the tool.
KERNEL_TOOLS = ("make", "gcc", "ld", "flex", "bison", "bc", "perl", "tar", "xz")


def _check_tools(toolchain: Toolchain, arch: Arch, extra: Sequence[str] = ()) -> None:
    for tool in (*KERNEL_TOOLS, *arch.cross_tools(), *extra):
        toolchain.tool_path(tool)


def _toolchain(raw: Mapping[str, Any], *dirs: str) -> Toolchain:
    """The manifest's toolchain, with the named caches bound read-write (the
    sandbox holds them as links to the host's cache directories)."""
    toolchain = Toolchain.from_json(raw)
    binds = [os.path.realpath(d) for d in dirs if d]
    for d in binds:
        os.makedirs(d, exist_ok=True)
    return dataclasses.replace(toolchain, binds=(*toolchain.binds, *binds))


def resolve_config(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    m = KconfigManifest.from_json(manifest)
    fragments = []
    for path in m.fragments:
        with open(path, encoding="utf-8") as f:
            fragments.append(parse_fragment(path, f.read()))
    merged = merge(fragments)
    arch = Arch.parse(m.arch, "tool kconfig: arch")
    env = _env(arch)
    toolchain = _toolchain(m.toolchain, m.kbuild_dir)
    _check_tools(toolchain, arch)
    src = _tree(m.deb, m.kbuild_dir, env, toolchain)
    check_unknown(merged, kconfig_symbols(src))
    # The tree is shared and stays clean: the config is made in a build
    # directory of this sandbox.
    obj = os.path.abspath("kconfig-out")
    os.makedirs(obj, exist_ok=True)
    make = ["make", f"O={obj}"]
    if m.base_file:
        shutil.copyfile(m.base_file, os.path.join(obj, ".config"))
    else:
        _run(toolchain, [*make, m.base], src, f"make {m.base}", env)
    with open(os.path.join(obj, ".config"), "a", encoding="utf-8") as f:
        f.write("\n# linuxkit_rules fragments\n" + render(merged))
    _run(toolchain, [*make, "olddefconfig"], src, "make olddefconfig", env)
    with open(os.path.join(obj, ".config"), encoding="utf-8") as f:
        text = f.read()
    if "# Automatically generated file" not in text.split("\n# linuxkit_rules fragments")[0]:
        raise KernelBuildError(
            f"make olddefconfig left {obj}/.config as it was written (no Kconfig header): "
            "the configuration was not resolved"
        )
    check_resolved(merged, parse_config(text))
    with open(m.output, "w", encoding="utf-8") as f:
        f.write(text)
    return {"options": len(parse_config(text)), "requested": len(merged)}


def build_linux(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    """With `kbuild_dir`, the build directory is kept there between runs
    (core/kernels/kbuild_cache.py) and `make` rebuilds only what the config
    change touched; the kernel is reproducible, so the bytes do not depend on
    whether the directory was cold."""
    m = LinuxManifest.from_json(manifest)
    toolchain = _toolchain(m.toolchain, m.kbuild_dir, m.ccache_dir)
    _check_headers(toolchain)
    arch = Arch.parse(m.arch, "tool linux: arch")
    _check_tools(toolchain, arch, ("ccache",) if m.ccache_dir else ())
    env = _env(arch)
    src = _tree(m.deb, m.kbuild_dir, env, toolchain)
    identity = {
        "build": m.build_id,
        "arch": arch.value,
        "toolchain": os.environ.get(TOOLCHAIN_ENV, ""),
    }
    with build_dir(src, identity) as obj:
        obj.building()
        report = _compile(m, arch, env, src, os.path.basename(obj.path), toolchain)
        obj.valid()
    return {**report, "build_dir": "reused" if obj.reused else "cold"}


def _compile(
    m: LinuxManifest, arch: Arch, env: dict[str, str], src: str, obj: str, toolchain: Toolchain
) -> Mapping[str, Any]:
    """`make O=obj` in the tree `src` (obj is a directory directly inside it)."""
    image_target, image_path = arch.kernel_target()
    objdir = os.path.join(src, obj)
    shutil.copyfile(m.config, os.path.join(objdir, ".config"))
    make = ["make", f"O={obj}", f"-j{m.jobs or os.cpu_count() or 1}"]
    if m.ccache_dir:
        # Kbuild names the tree `..` from the build directory, so compile
        # commands hold relative paths and every tree shares the cache entries.
        env.update(
            {
                # The bound directory itself: a link to it may lie outside the sandbox.
                "CCACHE_DIR": os.path.realpath(m.ccache_dir),
                "CCACHE_BASEDIR": src,
                "CCACHE_NOHASHDIR": "1",
                "CCACHE_SLOPPINESS": "include_file_mtime,include_file_ctime,time_macros",
                "CCACHE_MAXSIZE": m.ccache_max_size or "5G",
                # The toolchain root is materialized afresh (new mtimes) for each
                # run: name the compiler by the root's fingerprint, not its mtime.
                "CCACHE_COMPILERCHECK": "string:" + os.environ.get(TOOLCHAIN_ENV, "none"),
            }
        )
        make.append(f"CC=ccache {arch.cross_compile()}gcc")
        _run(toolchain, ["ccache", "--zero-stats"], src, "ccache --zero-stats", env)
    # The config was resolved by the same tree: olddefconfig must not change it.
    _run(toolchain, [*make, "olddefconfig"], src, "make olddefconfig", env)
    with open(os.path.join(objdir, ".config"), encoding="utf-8") as f:
        config = f.read()
    values = parse_config(config)
    targets = [image_target] + (["modules"] if values.get("CONFIG_MODULES") == "y" else [])
    _run(toolchain, [*make, *targets], src, "make " + " ".join(targets), env)
    release = (
        _run(toolchain, ["make", f"O={obj}", "-s", "kernelrelease"], src, "make kernelrelease", env)
        .strip()
        .splitlines()[-1]
    )
    stats = ""
    if m.ccache_dir:
        stats = _run(toolchain, ["ccache", "--print-stats"], src, "ccache --print-stats", env)
    out = m.output
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(objdir, image_path), os.path.join(out, "kernel"))
    shutil.copyfile(os.path.join(objdir, "System.map"), os.path.join(out, "System.map"))
    with open(os.path.join(out, "config"), "w", encoding="utf-8") as f:
        f.write(config)
    tree = Tree()
    if "modules" in targets:
        mods = os.path.abspath("modroot")
        _run(
            toolchain,
            [*make, "modules_install", f"INSTALL_MOD_PATH={mods}", "INSTALL_MOD_STRIP=1"],
            src,
            "make modules_install",
            env,
        )
        _add_dir(tree, mods, "")
    with open(os.path.join(out, "kernel.tar"), "wb") as f:
        write_tar(tree.entries(), f, int(os.environ["SOURCE_DATE_EPOCH"]))
    return {
        "version": release,
        "kernel_size": os.path.getsize(os.path.join(out, "kernel")),
        "ccache": _ccache_counts(stats),
    }


def _add_dir(tree: Tree, root: str, prefix: str) -> None:
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(directory, root)
        for name in sorted(files):
            path = os.path.join(directory, name)
            if os.path.islink(path):
                continue  # modules_install's build/source links point into the sandbox
            with open(path, "rb") as f:
                tree.add(
                    Entry(
                        os.path.normpath(os.path.join(prefix, rel, name)),
                        "file",
                        0o644,
                        data=f.read(),
                    )
                )


def _ccache_counts(stats: str) -> dict[str, int]:
    """`ccache --print-stats` (key<TAB>value lines) -> the hit and miss counters."""
    counts: dict[str, int] = {}
    for line in stats.splitlines():
        key, _, value = line.partition("\t")
        if (
            key in ("direct_cache_hit", "preprocessed_cache_hit", "cache_miss")
            and value.strip().isdigit()
        ):
            counts[key] = int(value)
    return counts
