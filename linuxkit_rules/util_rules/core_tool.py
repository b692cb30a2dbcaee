"""Running `linuxkit_rules.core` as a Pants process.

Every artefact is written by `python -m linuxkit_rules.core.tool COMMAND
manifest.json` in a sandbox: the rule writes a small JSON manifest, the pure
`core` code writes the artefact. The core sources are an input of every such
process, so changing them invalidates exactly what they build.
"""
from __future__ import annotations

import ast
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestSubset,
    FileContent,
    GlobMatchErrorBehavior,
    MergeDigests,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

from linuxkit_rules.core.manifest import Manifest
from linuxkit_rules.core.tool import COMMANDS
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem

_CORE_DIR = Path(__file__).resolve().parent.parent / "core"
_PACKAGE = "linuxkit_rules.core"
MANIFEST = "__lkr_manifest.json"
# With a remote cache, Pants starts a process locally at the same time as the
# cache lookup unless told to wait (`remote_cache_speculation_delay_millis`,
# default 0). A hit then cancels the local run, but only after it has already
# fetched its inputs (from the remote store when the local store is empty) and
# counted as a local execution. Build steps here take seconds to minutes, so
# the lookup (including the download of a hit's outputs) gets this long alone;
# a miss or a read error ends the wait at once.
REMOTE_CACHE_SPECULATION_DELAY_MS = 120_000


def _module_name(relative: Path) -> str:
    """`spec/image_yaml.py` -> `spec.image_yaml`; `spec/__init__.py` -> `spec`; core's own is ""."""
    parts = relative.with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _core_files() -> dict[str, Path]:
    """Every non-test module of core and its subpackages: dotted name -> file."""
    return {
        _module_name(path.relative_to(_CORE_DIR)): path
        for path in sorted(_CORE_DIR.rglob("*.py"))
        if not path.name.endswith("_test.py")
        and "testdata" not in path.relative_to(_CORE_DIR).parts
    }


def _core_sources() -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in _core_files().items()}


def _core_name(module: str) -> str | None:
    """`linuxkit_rules.core.spec.image_yaml` -> `spec.image_yaml`; None outside core."""
    if module == _PACKAGE:
        return ""
    if module.startswith(_PACKAGE + "."):
        return module[len(_PACKAGE) + 1 :]
    return None


def _parents(name: str) -> list[str]:
    """The packages Python imports before module `name`: "" (core), then each subpackage."""
    parts = name.split(".") if name else []
    return [".".join(parts[:i]) for i in range(len(parts))]


def core_imports(sources: Mapping[str, bytes]) -> dict[str, set[str]]:
    """module -> the core modules it imports (at any depth in its code) and their packages.

    Core uses absolute imports only (layers_test checks it), so the import
    statements name every module a module loads.
    """
    graph: dict[str, set[str]] = {}
    for name, source in sources.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                target = _core_name(node.module or "")
                if target is not None:
                    deps.add(target)
                    # `from linuxkit_rules.core.spec import image_yaml` loads a submodule.
                    deps.update(f"{target}.{a.name}".lstrip(".") for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(n for n in (_core_name(a.name) for a in node.names) if n is not None)
        with_packages = deps | {p for dep in deps for p in _parents(dep)}
        graph[name] = (with_packages & set(sources)) - {name}
    return graph


def command_modules(command: str, graph: Mapping[str, set[str]]) -> list[str]:
    """The core modules a tool command runs: tool.py, its entry module, the
    packages they sit in and their imports."""
    todo = ["tool", COMMANDS[command][0]]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
            todo.extend(p for p in _parents(module) if p in graph)
    return sorted(seen)


@dataclass(frozen=True)
class CoreTool:
    """The interpreter and the `core` sources that run inside build processes."""

    python: str
    digest: Digest
    source_date_epoch: int
    imports: FrozenDict[str, tuple[str, ...]]
    # dotted module name -> its path in the sandbox
    paths: FrozenDict[str, str]


@rule(desc="Prepare the linuxkit_rules core tool", level=LogLevel.DEBUG)
async def prepare_core_tool(linuxkit: LinuxkitSubsystem) -> CoreTool:
    files = _core_files()
    sources = {name: path.read_bytes() for name, path in files.items()}
    paths = {
        name: f"linuxkit_rules/core/{path.relative_to(_CORE_DIR).as_posix()}"
        for name, path in files.items()
    }
    contents = [FileContent("linuxkit_rules/__init__.py", b"")]
    contents += [FileContent(paths[m], data) for m, data in sources.items()]
    digest = await Get(Digest, CreateDigest(contents))
    imports = FrozenDict({m: tuple(sorted(d)) for m, d in core_imports(sources).items()})
    # The launcher venv's interpreter: a fixed path outside the checkout, whose
    # name carries the hash of its pinned requirements.
    return CoreTool(
        python=sys.executable,
        digest=digest,
        source_date_epoch=linuxkit.source_date_epoch,
        imports=imports,
        paths=FrozenDict(paths),
    )


@dataclass(frozen=True)
class CoreProcessRequest:
    """A `core.tool` run: `command` with `manifest`, extra inputs and outputs."""

    command: str
    manifest: str  # JSON text
    input_digest: Digest
    description: str
    output_files: tuple[str, ...] = ()
    output_directories: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cache_scope: ProcessCacheScope = ProcessCacheScope.SUCCESSFUL
    timeout_seconds: int | None = None
    level: LogLevel = LogLevel.INFO
    # name -> path in the sandbox of a Pants append-only named cache (ccache)
    append_only_caches: tuple[tuple[str, str], ...] = ()
    # path in the sandbox -> a digest Pants materializes once, read-only, and
    # links into each sandbox (a toolchain root)
    immutable_input_digests: tuple[tuple[str, Digest], ...] = ()

    @classmethod
    def for_manifest(
        cls,
        manifest: Manifest,
        input_digest: Digest,
        description: str,
        *,
        verify_sha256: Mapping[str, str] | None = None,
        host_tools: Any = None,
        **kwargs: Any,
    ) -> CoreProcessRequest:
        """A run of the command that reads `manifest` (its typed `Manifest`), with the
        tool's own envelope keys (core/tool.py `ENVELOPE_KEYS`): locked inputs to
        re-check before the command runs, and host tool versions for the cache key.
        Each envelope key is written when given, even empty; None leaves it out."""
        body = manifest.to_json()
        if verify_sha256 is not None:
            body["verify_sha256"] = dict(verify_sha256)
        if host_tools is not None:
            body["host_tools"] = host_tools
        return cls.create(manifest.command, body, input_digest, description, **kwargs)

    @classmethod
    def create(
        cls,
        command: str,
        manifest: Mapping[str, Any],
        input_digest: Digest,
        description: str,
        *,
        output_files: Iterable[str] = (),
        output_directories: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        cache_scope: ProcessCacheScope = ProcessCacheScope.SUCCESSFUL,
        timeout_seconds: int | None = None,
        level: LogLevel = LogLevel.INFO,
        append_only_caches: Mapping[str, str] | None = None,
        immutable_input_digests: Mapping[str, Digest] | None = None,
    ) -> CoreProcessRequest:
        return cls(
            command=command,
            manifest=json.dumps(manifest, sort_keys=True, separators=(",", ":")),
            input_digest=input_digest,
            description=description,
            output_files=tuple(output_files),
            output_directories=tuple(output_directories),
            env=tuple(sorted((env or {}).items())),
            cache_scope=cache_scope,
            timeout_seconds=timeout_seconds,
            level=level,
            append_only_caches=tuple(sorted((append_only_caches or {}).items())),
            immutable_input_digests=tuple(sorted((immutable_input_digests or {}).items())),
        )


@dataclass(frozen=True)
class CoreCommand:
    """One `core.tool` command, whose modules are asked for."""

    name: str


@dataclass(frozen=True)
class CoreCommandSources:
    """The core modules one command runs: an edit elsewhere in core changes nothing of it."""

    digest: Digest


@rule(level=LogLevel.DEBUG)
async def core_command_sources(command: CoreCommand, tool: CoreTool) -> CoreCommandSources:
    modules = command_modules(command.name, {m: set(d) for m, d in tool.imports.items()})
    digest = await Get(
        Digest,
        DigestSubset(
            tool.digest,
            PathGlobs(
                ["linuxkit_rules/__init__.py", *(tool.paths[m] for m in modules)],
                glob_match_error_behavior=GlobMatchErrorBehavior.error,
                description_of_origin=f"the core modules of `tool {command.name}`",
            ),
        ),
    )
    return CoreCommandSources(digest)


@rule(level=LogLevel.DEBUG)
async def core_process(request: CoreProcessRequest, tool: CoreTool) -> Process:
    manifest = await Get(Digest, CreateDigest([FileContent(MANIFEST, request.manifest.encode())]))
    # Only the core modules this command runs: an edit elsewhere in core
    # re-runs nothing (a kernel extraction does not depend on the image writer).
    core = await Get(CoreCommandSources, CoreCommand(request.command))
    digest = await Get(Digest, MergeDigests([core.digest, manifest, request.input_digest]))
    return Process(
        argv=(tool.python, "-m", "linuxkit_rules.core.tool", request.command, MANIFEST),
        input_digest=digest,
        description=request.description,
        output_files=request.output_files,
        output_directories=request.output_directories,
        env={
            "PYTHONPATH": ".",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "SOURCE_DATE_EPOCH": str(tool.source_date_epoch),
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            **dict(request.env),
        },
        cache_scope=request.cache_scope,
        timeout_seconds=request.timeout_seconds,
        level=request.level,
        append_only_caches=FrozenDict(request.append_only_caches),
        immutable_input_digests=FrozenDict(request.immutable_input_digests),
        remote_cache_speculation_delay_millis=REMOTE_CACHE_SPECULATION_DELAY_MS,
    )


class CoreToolError(Exception):
    """A core tool run failed; the message is the tool's own error text."""


@dataclass(frozen=True)
class CoreProcessResult:
    output_digest: Digest
    stdout: bytes
    stderr: bytes


@rule(level=LogLevel.DEBUG)
async def execute_core_process(request: CoreProcessRequest) -> CoreProcessResult:
    process = await Get(Process, CoreProcessRequest, request)
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        raise CoreToolError(_failure_message(request, result.exit_code, result.stderr))
    return CoreProcessResult(result.output_digest, result.stdout, result.stderr)


def _failure_message(request: CoreProcessRequest, exit_code: int, stderr: bytes) -> str:
    text = stderr.decode(errors="replace").strip()
    errors = [line[len("error: ") :] for line in text.splitlines() if line.startswith("error: ")]
    if errors:
        return "\n".join(errors)
    return f"{request.description} failed (exit {exit_code}):\n{text[-4000:]}"


def rules():
    return collect_rules()
