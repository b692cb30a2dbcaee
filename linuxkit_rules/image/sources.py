"""An image's YAML files (`source` + `extends`) and the files its `files:` entries read."""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

from pants.base.build_root import BuildRoot
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    FileContent,
    GlobMatchErrorBehavior,
    MergeDigests,
    PathGlobs,
    Snapshot,
)
from pants.engine.internals.selectors import MultiGet
from pants.engine.process import ProcessCacheScope
from pants.engine.rules import Get, _uncacheable_rule, collect_rules, rule
from pants.engine.target import HydratedSources, HydrateSourcesRequest
from pants.util.logging import LogLevel

from linuxkit_rules.core.errors import SchemaError
from linuxkit_rules.core.media.image_build import HOME_DIR, source_path
from linuxkit_rules.core.spec.image_yaml import ImageSpec, load_image_yaml, merge_images
from linuxkit_rules.target_types import LinuxkitImageExtendsField, LinuxkitImageSourceField


@dataclass(frozen=True)
class ImageYamlRequest:
    source: LinuxkitImageSourceField
    extends: LinuxkitImageExtendsField


@dataclass(frozen=True)
class ParsedImage:
    """The merged spec; `paths` are the YAML files in the order they were combined."""

    paths: tuple[str, ...]
    spec: ImageSpec
    digest: Digest

    @property
    def path(self) -> str:
        return self.paths[-1]


@rule(desc="Read an image YAML", level=LogLevel.DEBUG)
async def parse_image_yaml(request: ImageYamlRequest) -> ParsedImage:
    base = request.source.address.spec_path
    extends = [posixpath.normpath(posixpath.join(base, p)) for p in request.extends.value or ()]
    sources, *extra = await MultiGet(
        Get(HydratedSources, HydrateSourcesRequest(request.source)),
        *(
            Get(
                Snapshot,
                PathGlobs(
                    [p],
                    glob_match_error_behavior=GlobMatchErrorBehavior.error,
                    description_of_origin=f"the `extends` field of {request.source.address}",
                ),
            )
            for p in extends
        ),
    )
    snapshots = [*extra, sources.snapshot]
    digest = await Get(Digest, MergeDigests(s.digest for s in snapshots))
    contents = {fc.path: fc.content for fc in await Get(DigestContents, Digest, digest)}
    paths = tuple([*extends, sources.snapshot.files[0]])
    specs = [load_image_yaml(contents[p], p) for p in paths]
    spec = merge_images(specs) if len(specs) > 1 else specs[0]
    return ParsedImage(paths, spec, digest)


@dataclass(frozen=True)
class FileSources:
    """The `files:` sources that exist, in the sandbox layout `core.image_build` expects."""

    digest: Digest
    present: tuple[str, ...]
    from_home: bool = False  # some bytes come from `~/` sources (SSH keys, LUKS keys...)

    def cache_scope(self) -> ProcessCacheScope:
        """Where the image process's result may be cached. With `~/` sources the
        outputs hold the user's own files: they stay in this pantsd's memory (and
        in the local store, which holds every output's bytes), never in the local
        process cache on disk nor in the remote cache shared with others."""
        if self.from_home:
            return ProcessCacheScope.PER_RESTART_SUCCESSFUL
        return ProcessCacheScope.SUCCESSFUL


class EscapingSource(SchemaError):
    pass


def _repo_source(spec_file: str, line: int | None, source: str, path: str, build_root: str) -> None:
    """Refuse a source that leaves the repository through a symlink."""
    full = os.path.join(build_root, path)
    if os.path.lexists(full):
        real = os.path.realpath(full)
        root = os.path.realpath(build_root)
        if os.path.commonpath([real, root]) != root:
            raise EscapingSource(
                spec_file,
                line,
                "files.source",
                source,
                f"it resolves (through a symlink) to {real}, outside the repository; "
                "copy the file into the repository or use a '~/' source",
            )


@_uncacheable_rule(desc="Read the files an image YAML names", level=LogLevel.DEBUG)
async def read_file_sources(parsed: ParsedImage, build_root: BuildRoot) -> FileSources:
    # Uncacheable: `~/` files live outside the repository, so the engine cannot watch them;
    # their bytes go into the image process's input digest, hence into its cache key.
    repo: list[str] = []
    home: list[FileContent] = []
    for f in parsed.spec.files:
        if not f.source:
            continue
        path = source_path(f)
        if f.source.startswith("~/"):
            full = os.path.expanduser(f.source)
            if os.path.isfile(full):
                with open(full, "rb") as fh:
                    home.append(FileContent(path, fh.read()))
            continue
        _repo_source(f.file or parsed.path, f.line, f.source, path, build_root.path)
        repo.append(path)
    snapshot, home_snapshot = await MultiGet(
        Get(
            Snapshot, PathGlobs(repo)
        ),  # missing files: reported (or skipped if optional) by the image tool
        Get(Snapshot, CreateDigest(home)),
    )
    digest = await Get(Digest, MergeDigests([snapshot.digest, home_snapshot.digest]))
    assert all(p.startswith(HOME_DIR + "/") for p in home_snapshot.files)
    return FileSources(
        digest,
        tuple(sorted({*snapshot.files, *home_snapshot.files})),
        from_home=any(f.source.startswith("~/") for f in parsed.spec.files),
    )


def rules():
    return collect_rules()
