"""Dependency resolution over Debian Packages indexes: the closure of the requested
roots (`resolve`), which `pants generate-lockfiles` writes as the lock.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from debian import deb822

from linuxkit_rules.core.debian.index import NAME_RE, DebPackage, deb_version
from linuxkit_rules.core.debian.lock import DebianLock, LockedPackage, close_matches
from linuxkit_rules.core.errors import DebianError

# dpkg still accepts the obsolete "<" and ">", meaning "<=" and ">=".
_OPERATORS = {
    "<<": "<<",
    "<=": "<=",
    "=": "=",
    ">=": ">=",
    ">>": ">>",
    "<": "<=",
    ">": ">=",
}
# Lower is more important; Debian's "extra" was merged into "optional".
_PRIORITY_RANK = {
    "required": 0,
    "important": 1,
    "standard": 2,
    "optional": 3,
    "extra": 4,
}


@dataclass(frozen=True)
class _Relation:
    name: str
    archqual: str | None
    op: str | None
    version: str | None


def resolve(
    roots: Iterable[str], index: Iterable[DebPackage], architecture: str, suite: str
) -> DebianLock:
    """The closure of `roots` over Pre-Depends and Depends, as a lock.

    Per relation group: an alternative already chosen, else the first
    alternative a real package satisfies, else a provider of a virtual name
    (already chosen, then most important priority, then name). One version
    per package name: the highest that satisfies the relation. Recommends,
    Conflicts and Breaks are ignored; Essential packages come in only when
    something depends on them.
    """
    resolver = _Resolver(index, architecture)
    chosen: dict[str, DebPackage] = {}
    parent: dict[str, str | None] = {}
    edges: dict[str, set[str]] = {}
    queue: deque[str] = deque()
    root_names = sorted(set(roots))
    for name in root_names:
        if not NAME_RE.match(name):
            raise DebianError(f"{name!r} is not a Debian package name")
        chosen[name] = resolver.root(name, suite)
        parent[name] = None
        queue.append(name)
    provided: dict[str, set[str]] = {}
    for package in chosen.values():
        resolver.note_provides(package, provided)
    while queue:
        package = chosen[queue.popleft()]
        edges[package.name] = set()
        for group_text, group in _relation_groups(package):
            pick = resolver.choose(group, chosen, provided)
            if pick is None:
                chain = _chain(package.name, parent)
                reasons = "; ".join(resolver.explain(alt, chosen) for alt in group)
                raise DebianError(
                    f"cannot resolve dependency {group_text!r} of {package.name} {package.version} "
                    f"({package.suite}) for {architecture}: {reasons}. "
                    f"Required by: {' -> '.join(chain)}"
                )
            if pick.name not in chosen:
                chosen[pick.name] = pick
                parent[pick.name] = package.name
                resolver.note_provides(pick, provided)
                queue.append(pick.name)
            if pick.name != package.name:
                edges[package.name].add(pick.name)
    locked = tuple(
        LockedPackage(
            name=p.name,
            version=p.version,
            architecture=p.architecture,
            size=p.size,
            sha256=p.sha256,
            filename=p.filename,
            source=p.source,
            suite=p.suite,
            depends=tuple(sorted(edges[p.name])),
        )
        for p in sorted(chosen.values(), key=lambda p: p.name)
    )
    return DebianLock(
        suite=suite, architecture=architecture, roots=tuple(root_names), packages=locked
    )


class _Resolver:
    """Lookups over one architecture's view of the indexes."""

    def __init__(self, index: Iterable[DebPackage], architecture: str) -> None:
        self.architecture = architecture
        self.by_name: dict[str, list[DebPackage]] = {}
        self.providers: dict[str, list[tuple[DebPackage, str | None]]] = {}
        self.other_arch: set[str] = set()
        for package in index:
            if package.architecture not in (architecture, "all"):
                self.other_arch.add(package.name)
                continue
            self.by_name.setdefault(package.name, []).append(package)
            for provide in _parse_provides(package):
                self.providers.setdefault(provide.name, []).append((package, provide.version))
        for versions in self.by_name.values():
            # Highest version first; equal versions from two suites: by suite name.
            versions.sort(key=lambda p: p.suite)
            versions.sort(key=lambda p: deb_version(p.version), reverse=True)

    def root(self, name: str, suite: str) -> DebPackage:
        if name in self.by_name:
            return self.by_name[name][0]
        where = f"the {suite}/{self.architecture} Debian indexes"
        if name in self.providers:
            names = sorted({p.name for p, _ in self.providers[name]})
            raise DebianError(
                f"{name!r} is a virtual package in {where}; name one that provides it: {', '.join(names)}"
            )
        if name in self.other_arch:
            raise DebianError(f"package {name!r} is not built for {self.architecture} in {where}")
        raise DebianError(f"package {name!r} is not in {where}" + close_matches(name, self.by_name))

    def note_provides(self, package: DebPackage, provided: dict[str, set[str]]) -> None:
        for provide in _parse_provides(package):
            provided.setdefault(provide.name, set()).add(package.name)

    def arch_ok(self, relation: _Relation, package: DebPackage) -> bool:
        # One architecture per lock: ":any" and ":native" both mean this one.
        if relation.archqual not in (None, "any", "native", self.architecture):
            return False
        return package.architecture in (self.architecture, "all")

    def satisfies(self, relation: _Relation, package: DebPackage) -> bool:
        """Whether `package` satisfies `relation`, by its own name or a Provides."""
        if not self.arch_ok(relation, package):
            return False
        if package.name == relation.name and _version_ok(package.version, relation):
            return True
        for provide in _parse_provides(package):
            if provide.name == relation.name:
                if relation.op is None:
                    return True
                if provide.version is not None and _version_ok(provide.version, relation):
                    return True
        return False

    def choose(
        self,
        group: Sequence[_Relation],
        chosen: Mapping[str, DebPackage],
        provided: Mapping[str, set[str]],
    ) -> DebPackage | None:
        for relation in group:
            for name in [relation.name] + sorted(provided.get(relation.name, ())):
                if name in chosen and self.satisfies(relation, chosen[name]):
                    return chosen[name]
        for relation in group:
            real = self._real(relation, chosen)
            if real is not None:
                return real
        for relation in group:
            best: dict[str, DebPackage] = {}
            for package, _ in self.providers.get(relation.name, ()):
                if package.name in chosen or not self.satisfies(relation, package):
                    continue
                current = best.get(package.name)
                if current is None or deb_version(package.version) > deb_version(current.version):
                    best[package.name] = package
            if best:
                return min(
                    best.values(),
                    key=lambda p: (_PRIORITY_RANK.get(p.priority, 5), p.name),
                )
        return None

    def _real(self, relation: _Relation, chosen: Mapping[str, DebPackage]) -> DebPackage | None:
        if relation.name in chosen:
            return None  # chosen with a version that does not satisfy: one version per name
        for package in self.by_name.get(relation.name, ()):
            if (
                package.name == relation.name
                and self.arch_ok(relation, package)
                and _version_ok(package.version, relation)
            ):
                return package
        return None

    def explain(self, relation: _Relation, chosen: Mapping[str, DebPackage]) -> str:
        """Why no package satisfies `relation`, for an error message."""
        label = _relation_text(relation)
        if relation.archqual not in (None, "any", "native", self.architecture):
            return f"{label}: architecture {relation.archqual} is not in this {self.architecture} resolve"
        if relation.name in chosen:
            return f"{label}: {chosen[relation.name].version} is already chosen"
        versions = self.by_name.get(relation.name)
        if versions:
            have = ", ".join(f"{p.version} ({p.suite})" for p in versions)
            return f"{label}: only {have} available"
        if relation.name in self.providers:
            names = sorted({p.name for p, _ in self.providers[relation.name]})
            return f"{label}: no provider matches (virtual, provided by {', '.join(names)})"
        if relation.name in self.other_arch:
            return f"{label}: not built for {self.architecture}"
        return f"{label}: no such package"


def _relation_groups(package: DebPackage) -> list[tuple[str, list[_Relation]]]:
    groups = []
    for group_text in (g.strip() for g in package.depends.split(",")):
        if group_text:
            groups.append((group_text, _parse_group(group_text, package)))
    return groups


@lru_cache(maxsize=None)
def _parse_group_cached(text: str) -> tuple[_Relation, ...] | None:
    relations = []
    parsed = deb822.PkgRelation.parse_relations(text)
    if len(parsed) != 1:
        return None
    for alt in parsed[0]:
        name = alt["name"]
        version = alt.get("version")
        if not NAME_RE.match(name) or (version is not None and version[0] not in _OPERATORS):
            return None
        relations.append(
            _Relation(
                name=name,
                archqual=alt.get("archqual"),
                op=_OPERATORS[version[0]] if version else None,
                version=version[1] if version else None,
            )
        )
    return tuple(relations)


def _parse_group(text: str, package: DebPackage) -> list[_Relation]:
    relations = _parse_group_cached(text)
    if relations is None:
        raise DebianError(
            f"cannot parse dependency {text!r} of {package.name} {package.version} ({package.suite})"
        )
    return list(relations)


def _parse_provides(package: DebPackage) -> list[_Relation]:
    if not package.provides:
        return []
    relations: list[_Relation] = []
    for text in package.provides.split(","):
        if text.strip():
            relations.extend(_parse_group(text.strip(), package))
    return relations


def _version_ok(version: str, relation: _Relation) -> bool:
    if relation.op is None or relation.version is None:
        return True
    have, want = deb_version(version), deb_version(relation.version)
    if relation.op == "<<":
        return have < want
    if relation.op == "<=":
        return have <= want
    if relation.op == "=":
        return have == want
    if relation.op == ">=":
        return have >= want
    return have > want


def _relation_text(relation: _Relation) -> str:
    text = relation.name + (f":{relation.archqual}" if relation.archqual else "")
    return text + (f" ({relation.op} {relation.version})" if relation.op else "")


def _chain(name: str, parent: Mapping[str, str | None]) -> list[str]:
    chain = [name]
    step = parent.get(name)
    while step is not None:
        chain.append(step)
        step = parent.get(step)
    return list(reversed(chain))
