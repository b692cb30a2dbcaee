"""`pants linuxkit-graph ADDRESS...`: what images, packages and kernels are made of.

Writes `<dir>/<address>.dot` and `<address>.html` per target and prints every
cycle among packages (Pants dependencies between `linuxkit_package`s, and
Debian `Depends` in the lock) with all of its members.
"""
from __future__ import annotations

from dataclasses import dataclass

from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.internals.selectors import MultiGet
from pants.engine.rules import Get, collect_rules, goal_rule, rule
from pants.engine.target import AllTargets, DependenciesRequest, Target, Targets
from pants.option.option_types import StrOption
from pants.util.logging import LogLevel

from linuxkit_rules.core.arch import for_arch
from linuxkit_rules.core.media.image_build import source_path
from linuxkit_rules.core.reports.graph import (
    Node,
    build_graph,
    describe_cycle,
    package_cycles,
    to_dot,
    to_html,
)
from linuxkit_rules.image.rules import LinuxkitTargets, ref_maps, resolve_refs
from linuxkit_rules.image.sources import ImageYamlRequest, ParsedImage
from linuxkit_rules.kernel.target_types import DebianKernelPackageField, DebianKernelTarget
from linuxkit_rules.package.rules import (
    LinuxkitPackageFieldSet,
    PackageDebClosure,
    PackageDebsRequest,
)
from linuxkit_rules.subsystems.debian import DebianSubsystem
from linuxkit_rules.subsystems.linuxkit import LinuxkitSubsystem
from linuxkit_rules.target_types import (
    LinuxkitImageExtendsField,
    LinuxkitImageSourceField,
    LinuxkitImageTarget,
    LinuxkitPackageDependenciesField,
    LinuxkitPackageSourcesField,
    LinuxkitPackageTarget,
)
from linuxkit_rules.util_rules.debian import DebianLockfile, DebianLockRequest
from linuxkit_rules.util_rules.outputs import output_folder


class LinuxkitGraphSubsystem(GoalSubsystem):
    name = "linuxkit-graph"
    help = (
        "Draw what LinuxKit images, packages and kernels are made of (packages, kernels, "
        "Debian packages, files) as Graphviz DOT and a self-contained HTML/SVG page, and "
        "report cycles among packages. Example: `pants linuxkit-graph //images:sshd`."
    )

    output_dir = StrOption(
        default="dist/linuxkit-graph",
        help="Directory (relative to the build root) for the `.dot` and `.html` files.",
    )


class LinuxkitGraph(Goal):
    subsystem_cls = LinuxkitGraphSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@dataclass(frozen=True)
class GraphPart:
    """Nodes and edges contributed by one target (and what it reaches)."""

    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]


def node_id(target: Target) -> str:
    return f"//{target.address.spec_path}:{target.address.target_name}"


def _label(target: Target) -> str:
    return str(target.address)


@dataclass(frozen=True)
class GraphPartRequest:
    """Any image, package or kernel target."""

    target: Target


@dataclass(frozen=True)
class PackageGraphPartRequest:
    target: Target


@rule(desc="Collect a LinuxKit package's graph", level=LogLevel.DEBUG)
async def package_graph_part(
    request: PackageGraphPartRequest, debian: DebianSubsystem
) -> GraphPart:
    target = request.target
    me = node_id(target)
    nodes = [Node(me, "package", _label(target))]
    edges: list[tuple[str, str]] = []
    field_set = LinuxkitPackageFieldSet.create(target)
    closure, files = await MultiGet(
        Get(PackageDebClosure, PackageDebsRequest(field_set, debian.architectures[0])),
        Get(SourceFiles, SourceFilesRequest([target[LinuxkitPackageSourcesField]])),
    )
    roots = set(field_set.debian_packages.value or ())
    in_closure = {p.name for p in closure.packages}
    for p in closure.packages:
        nodes.append(Node(f"deb:{p.name}", "deb", f"{p.name} {p.version}"))
        if p.name in roots:
            edges.append((me, f"deb:{p.name}"))
        edges.extend((f"deb:{p.name}", f"deb:{d}") for d in p.depends if d in in_closure)
    for f in files.snapshot.files:
        nodes.append(Node(f"file:{f}", "file", f))
        edges.append((me, f"file:{f}"))
    return GraphPart(tuple(nodes), tuple(edges))


@dataclass(frozen=True)
class KernelGraphPartRequest:
    target: Target


@rule(desc="Collect a kernel's graph", level=LogLevel.DEBUG)
async def kernel_graph_part(request: KernelGraphPartRequest, debian: DebianSubsystem) -> GraphPart:
    target = request.target
    me = node_id(target)
    lockfile = await Get(DebianLockfile, DebianLockRequest(debian.architectures[0]))
    p = lockfile.lock.get(
        for_arch(target[DebianKernelPackageField].value or "", debian.architectures[0])
    )
    return GraphPart(
        (Node(me, "kernel", _label(target)), Node(f"deb:{p.name}", "deb", f"{p.name} {p.version}")),
        ((me, f"deb:{p.name}"),),
    )


@dataclass(frozen=True)
class ImageGraphPartRequest:
    target: Target


@rule(desc="Collect an image's graph", level=LogLevel.DEBUG)
async def image_graph_part(
    request: ImageGraphPartRequest, linuxkit: LinuxkitSubsystem
) -> GraphPart:
    target = request.target
    me = node_id(target)
    parsed, targets = await MultiGet(
        Get(
            ParsedImage,
            ImageYamlRequest(target[LinuxkitImageSourceField], target[LinuxkitImageExtendsField]),
        ),
        Get(LinuxkitTargets),
    )
    resolved = resolve_refs(parsed, targets, ref_maps(linuxkit))
    nodes = [Node(me, "image", _label(target)), Node(f"file:{parsed.path}", "file", parsed.path)]
    edges = [(me, f"file:{parsed.path}")]
    for path in sorted(
        {source_path(f) for f in parsed.spec.files if f.source and not f.source.startswith("~")}
    ):
        nodes.append(Node(f"file:{path}", "file", path))
        edges.append((me, f"file:{path}"))
    children = sorted({t.address: t for t in resolved.values()}.values(), key=lambda t: t.address)
    parts = await MultiGet(Get(GraphPart, GraphPartRequest(t)) for t in children)
    for t, part in zip(children, parts):
        edges.append((me, node_id(t)))
        nodes.extend(part.nodes)
        edges.extend(part.edges)
    return GraphPart(tuple(nodes), tuple(edges))


@rule(level=LogLevel.DEBUG)
async def any_graph_part(request: GraphPartRequest) -> GraphPart:
    """Dispatch on the target's type (the three rules above take distinct request types)."""
    target = request.target
    if isinstance(target, LinuxkitImageTarget):
        return await Get(GraphPart, ImageGraphPartRequest(target))
    if isinstance(target, DebianKernelTarget):
        return await Get(GraphPart, KernelGraphPartRequest(target))
    return await Get(GraphPart, PackageGraphPartRequest(target))


@dataclass(frozen=True)
class PackageDependencyEdges:
    """`linuxkit_package` -> `linuxkit_package` edges from explicit `dependencies`,
    one level per target (so a cycle among them cannot recurse in the engine)."""

    labels: tuple[tuple[str, str], ...]
    edges: tuple[tuple[str, str], ...]


@rule(desc="Find dependencies between LinuxKit packages", level=LogLevel.DEBUG)
async def package_dependency_edges(all_targets: AllTargets) -> PackageDependencyEdges:
    packages = [t for t in all_targets if isinstance(t, LinuxkitPackageTarget)]
    deps = await MultiGet(
        Get(Targets, DependenciesRequest(t[LinuxkitPackageDependenciesField])) for t in packages
    )
    edges = sorted(
        (node_id(t), node_id(d))
        for t, ds in zip(packages, deps)
        for d in ds
        if isinstance(d, LinuxkitPackageTarget)
    )
    return PackageDependencyEdges(
        tuple(sorted((node_id(t), _label(t)) for t in packages)), tuple(edges)
    )


def with_package_dependencies(part: GraphPart, deps: PackageDependencyEdges) -> GraphPart:
    """`part` plus every package reachable from its packages through `dependencies`."""
    labels = dict(deps.labels)
    adjacency: dict[str, list[str]] = {}
    for a, b in deps.edges:
        adjacency.setdefault(a, []).append(b)
    nodes = list(part.nodes)
    edges = list(part.edges)
    seen = {n.id for n in part.nodes}
    todo = [n.id for n in part.nodes if n.kind == "package"]
    while todo:
        a = todo.pop()
        for b in adjacency.get(a, ()):
            edges.append((a, b))
            if b not in seen:
                seen.add(b)
                nodes.append(Node(b, "package", labels[b]))
                todo.append(b)
    return GraphPart(tuple(nodes), tuple(edges))


def output_name(target: Target) -> str:
    return f"{output_folder(target.address)}.{target.address.target_name}"


@goal_rule
async def linuxkit_graph(
    console: Console, targets: Targets, subsystem: LinuxkitGraphSubsystem, workspace: Workspace
) -> LinuxkitGraph:
    wanted = [
        t
        for t in targets
        if isinstance(t, (LinuxkitImageTarget, LinuxkitPackageTarget, DebianKernelTarget))
    ]
    if not wanted:
        console.print_stderr(
            "linuxkit-graph: no linuxkit_image, linuxkit_package or debian_kernel target given"
        )
        return LinuxkitGraph(exit_code=1)
    parts = await MultiGet(Get(GraphPart, GraphPartRequest(t)) for t in wanted)
    package_deps = await Get(PackageDependencyEdges)
    files = []
    for target, part in zip(wanted, parts):
        part = with_package_dependencies(part, package_deps)
        graph = build_graph(part.nodes, part.edges)
        cycles = package_cycles(graph)
        base = f"{subsystem.output_dir}/{output_name(target)}"
        files += [
            FileContent(f"{base}.dot", to_dot(graph, cycles, str(target.address)).encode()),
            FileContent(f"{base}.html", to_html(graph, cycles, str(target.address)).encode()),
        ]
        kinds: dict[str, int] = {}
        for _, d in graph.nodes(data=True):
            kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        console.print_stdout(f"{target.address}: {summary}; wrote {base}.dot and {base}.html")
        for cycle in cycles:
            console.print_stdout(f"  cycle: {describe_cycle(graph, cycle)}")
    workspace.write_digest(await Get(Digest, CreateDigest(files)))
    return LinuxkitGraph(exit_code=0)


def rules():
    return collect_rules()
