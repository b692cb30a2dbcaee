"""Running `linuxkit_rules.core` as a Pants process.

Every artefact is written by `python -m linuxkit_rules.core.tool COMMAND
manifest.json` in a sandbox: the rule writes a small JSON manifest, the pure
`core` code writes the artefact. The core sources are an input of every such
process, so changing them invalidates exactly what they build.
"""
from __future__ import annotations

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
from pants.util.logging import LogLevel

from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem

_CORE_DIR = Path(__file__).resolve().parent.parent / "core"
MANIFEST = "__lkr_manifest.json"


def _core_files() -> tuple[FileContent, ...]:
    files = [FileContent("linuxkit_rules/__init__.py", b"")]
    for path in sorted(_CORE_DIR.glob("*.py")):
        if path.name.endswith("_test.py"):
            continue
        files.append(FileContent(f"linuxkit_rules/core/{path.name}", path.read_bytes()))
    return tuple(files)


@dataclass(frozen=True)
class CoreTool:
    """The interpreter and the `core` sources that run inside build processes."""

    python: str
    digest: Digest
    source_date_epoch: int


@rule(desc="Prepare the linuxkit_rules core tool", level=LogLevel.DEBUG)
async def prepare_core_tool(linuxkit: LinuxkitSubsystem) -> CoreTool:
    digest = await Get(Digest, CreateDigest(_core_files()))
    # The launcher venv's interpreter: a fixed path outside the checkout, whose
    # name carries the hash of its pinned requirements.
    return CoreTool(python=sys.executable, digest=digest, source_date_epoch=linuxkit.source_date_epoch)


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
    # The core modules the command imports (besides tool and errors); None for
    # all. Naming them keeps a change elsewhere in core from re-running it.
    modules: tuple[str, ...] | None = None

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
        modules: Iterable[str] | None = None,
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
            modules=tuple(sorted(modules)) if modules is not None else None,
        )


@rule(level=LogLevel.DEBUG)
async def core_process(request: CoreProcessRequest, tool: CoreTool) -> Process:
    manifest = await Get(Digest, CreateDigest([FileContent(MANIFEST, request.manifest.encode())]))
    core = tool.digest
    if request.modules is not None:
        wanted = ("__init__", "tool", "errors", *request.modules)
        core = await Get(
            Digest,
            DigestSubset(
                tool.digest,
                PathGlobs(
                    ["linuxkit_rules/__init__.py", *(f"linuxkit_rules/core/{m}.py" for m in wanted)],
                    glob_match_error_behavior=GlobMatchErrorBehavior.error,
                    description_of_origin="the core modules of a build command",
                ),
            ),
        )
    digest = await Get(Digest, MergeDigests([core, manifest, request.input_digest]))
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
