"""Blocker analysis: which missing dependencies hold which queue entries back (pure).

Inputs are plain values (failure records, the queue, recipe identities, a dep mapping, weights);
nothing here reads files. The rules, and how they differ from the reference pipeline (§3.13, §4.5):

* **Records belong to queue entries**, found by the record's ``package_id`` against the entries'
  *sources* first (entry ``task`` fails as ``homebrew:go-task``), then, for per-platform lines that
  carry only a recipe name, by entry name. A ``package_id`` matching no source but an entry's name
  is *stale* (the entry was re-pointed to another source since) and says nothing about the current
  build. Records matching no entry are *unresolved*. Both are reported, never silently dropped.
* **Current blockers of an entry** are the ``blocked_by`` list of its latest record (by timestamp,
  then file, then line) that *carries* a ``blocked_by`` list. That list replaces earlier lists
  (tsuku reports the full missing set each time: a shrinking list means deps got recipes). A later
  record *without* ``blocked_by`` does not clear it: such records carry no dependency information
  (per-platform exit-8 lines never record the list; generation can fail before dependencies are
  resolved). The reference dashboard let them hide earlier blockers. What does clear a blocker is
  evidence about the present: the entry is ``success``/``excluded``, or the dependency now has a
  recipe whose identity matches (reported as *already satisfied*: requeue candidates).
* **Dependency identity.** A recorded dependency is ``<ecosystem>:<name>`` where the ecosystem is
  the blocked package's (tsuku reports Homebrew formula names for Homebrew packages). A recipe
  satisfies it when (in this order) its ``[metadata.satisfies]`` lists it for that ecosystem, its
  source *is* that package, it lists the name under ``satisfies.aliases``, the dep mapping
  (formula → recipe name) maps the name to the recipe, or the recipe has the same name *and* comes
  from a related source: the same ecosystem, or both outside the language-package registries
  (``npm``, ``pypi``, ``rubygems``, ``crates.io``, ``go``, ``cpan``). So an npm package named
  ``gmp`` never satisfies ``homebrew:gmp``, a curated GitHub-built ``gmp`` does.
* **Counts are of distinct packages.** A dependency's transitive set is every active entry it
  blocks directly, or through an entry it blocks that is itself a dependency of others; each
  package once (a diamond counts once), cycles are safe, and a dependency never counts itself.
  The weighted value is the sum of the weights of that set.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from automation.core.ecosystem_facts import all_facts, normalise_ecosystem, split_source
from automation.core.errors import DataError
from automation.core.timefmt import parse_timestamp
from automation.registry.failures import FailureRecord
from automation.registry.queue import Queue, QueueEntry


# Registries of language packages: a same-named package there is a different thing from a system
# library or tool of the same name.
def language_ecosystems() -> frozenset[str]:
    """Ecosystems declared as language package registries."""
    return frozenset(f.name for f in all_facts() if f.language)


def default_dependency_ecosystem() -> str:
    """The ecosystem of unprefixed per-platform dependency names (the reference default)."""
    return next((f.name for f in all_facts() if f.default_dependency), "")


# Entries in these states still want a recipe, so a dependency can block them.
ACTIVE_STATUSES = frozenset({"pending", "failed", "blocked", "requires_manual"})
TOP_BLOCKED = 5


@dataclass(frozen=True, slots=True, order=True)
class Dependency:
    """A recorded missing dependency: the name in ``blocked_by``, in its package's ecosystem."""

    ecosystem: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.ecosystem}:{self.name}"


def _related(a: str | None, b: str | None) -> bool:
    """Same ecosystem, or neither is a language-package registry (None = no known source)."""
    if a == b:
        return True
    languages = language_ecosystems()
    return a not in languages and b not in languages


@dataclass(frozen=True, slots=True)
class RecipeIdentity:
    """What a recipe can stand in for: its name, source, ``satisfies`` entries and kind."""

    name: str
    source: str | None = None  # "<ecosystem>:<identifier>", normalised, or None when unknown
    satisfies: frozenset[str] = frozenset()  # "<ecosystem>:<name>"
    aliases: frozenset[str] = frozenset()  # satisfies.aliases: ecosystem-independent names
    kind: str = "tool"  # "tool" or "library"

    @classmethod
    def build(
        cls,
        name: str,
        *,
        source: str | None = None,
        satisfies: Mapping[str, Sequence[str]] | None = None,
        kind: str | None = None,
    ) -> RecipeIdentity:
        """Normalise ecosystem prefixes and names (lowercase) once."""
        normalised_source = None
        if source:
            try:
                eco, ident = split_source(source)
                normalised_source = f"{eco}:{ident.lower()}"
            except DataError:
                normalised_source = None
        entries: set[str] = set()
        aliases: set[str] = set()
        for eco, names in (satisfies or {}).items():
            for value in names:
                if eco == "aliases":
                    aliases.add(value.lower())
                else:
                    entries.add(f"{normalise_ecosystem(eco)}:{value.lower()}")
        return cls(
            name=name.lower(),
            source=normalised_source,
            satisfies=frozenset(entries),
            aliases=frozenset(aliases),
            kind=kind or "tool",
        )

    @property
    def source_ecosystem(self) -> str | None:
        return self.source.split(":", 1)[0] if self.source else None

    def match(self, dep: Dependency, mapped: str | None = None) -> str | None:
        """How this recipe satisfies ``dep`` ("satisfies", "source", "alias", "dep-mapping",
        "name"), or None. ``mapped`` is the dep mapping's recipe name for ``dep.name``."""
        name = dep.name.lower()
        if f"{dep.ecosystem}:{name}" in self.satisfies:
            return "satisfies"
        if self.source == f"{dep.ecosystem}:{name}":
            return "source"
        if name in self.aliases:
            return "alias"
        if mapped is not None and mapped.lower() == self.name:
            return "dep-mapping"
        if name == self.name and _related(self.source_ecosystem, dep.ecosystem):
            return "name"
        return None


@dataclass(frozen=True, slots=True)
class Satisfaction:
    recipe: str
    how: str


@dataclass(frozen=True)
class IdentityIndex:
    """Recipes on disk (as identities) plus the dep mapping: answers "is this dep satisfied?".

    Lookups are by dictionary (satisfies entry, source, alias, name), so a registry of 10,000
    recipes answers each dependency in constant time; the answer is the one a scan of every
    recipe with ``RecipeIdentity.match`` gives (strongest evidence, then recipe name).
    """

    recipes: tuple[RecipeIdentity, ...] = ()
    dep_mapping: Mapping[str, str] = field(default_factory=dict)
    _by_satisfies: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    _by_source: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    _by_alias: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    _by_name: dict[str, list[RecipeIdentity]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_satisfies: dict[str, list[str]] = defaultdict(list)
        by_source: dict[str, list[str]] = defaultdict(list)
        by_alias: dict[str, list[str]] = defaultdict(list)
        by_name: dict[str, list[RecipeIdentity]] = defaultdict(list)
        for recipe in self.recipes:
            for key in recipe.satisfies:
                by_satisfies[key].append(recipe.name)
            if recipe.source:
                by_source[recipe.source].append(recipe.name)
            for alias in recipe.aliases:
                by_alias[alias].append(recipe.name)
            by_name[recipe.name].append(recipe)
        object.__setattr__(self, "_by_satisfies", dict(by_satisfies))
        object.__setattr__(self, "_by_source", dict(by_source))
        object.__setattr__(self, "_by_alias", dict(by_alias))
        object.__setattr__(self, "_by_name", dict(by_name))

    def mapped(self, dep_name: str) -> str | None:
        value = self.dep_mapping.get(dep_name)
        if value is None:
            value = self.dep_mapping.get(dep_name.lower())
        return value.lower() if value else None

    def satisfier(self, dep: Dependency) -> Satisfaction | None:
        """The best-matching recipe for ``dep`` (strongest evidence, then recipe name)."""
        name = dep.name.lower()
        key = f"{dep.ecosystem}:{name}"
        for how, names in (
            ("satisfies", self._by_satisfies.get(key)),
            ("source", self._by_source.get(key)),
            ("alias", self._by_alias.get(name)),
        ):
            if names:
                return Satisfaction(min(names), how)
        mapped = self.mapped(dep.name)
        if mapped is not None and mapped in self._by_name:
            return Satisfaction(mapped, "dep-mapping")
        related = [
            r.name
            for r in self._by_name.get(name, ())
            if _related(r.source_ecosystem, dep.ecosystem)
        ]
        return Satisfaction(min(related), "name") if related else None

    def with_recipes(self, extra: Iterable[RecipeIdentity]) -> IdentityIndex:
        return IdentityIndex(self.recipes + tuple(extra), self.dep_mapping)


# ---------------------------------------------------------------------------------------------
# Records -> entries -> current blockers


@dataclass(frozen=True)
class EntryLookup:
    """Queue entries by normalised source and by lowercased name."""

    by_source: Mapping[str, QueueEntry]
    by_name: Mapping[str, QueueEntry]

    @classmethod
    def of(cls, queue: Queue) -> EntryLookup:
        by_source: dict[str, QueueEntry] = {}
        for entry in queue.entries:
            key = _normalised_source(entry.source)
            if key is not None:
                by_source.setdefault(key, entry)
        return cls(by_source, queue.by_name())

    def entry_for(self, record: FailureRecord) -> tuple[QueueEntry | None, str]:
        """(entry, how): how is "source", "name", "stale" or "unresolved"."""
        return self.resolve(record.package_id, record.name)

    def resolve(self, package_id: str | None, name: str) -> tuple[QueueEntry | None, str]:
        """``entry_for`` on a record's package id and name."""
        if package_id:
            key = _normalised_source(package_id)
            if key is not None and key in self.by_source:
                return self.by_source[key], "source"
            entry = self.by_name.get(name.lower())
            return (entry, "stale") if entry is not None else (None, "unresolved")
        entry = self.by_name.get(name.lower())
        return (entry, "name") if entry is not None else (None, "unresolved")


@functools.lru_cache(maxsize=1024)
def _normalised_prefix(prefix: str) -> str | None:
    """The ecosystem of a source prefix, None when ``split_source`` would refuse it."""
    try:
        return split_source(f"{prefix}:x")[0]
    except DataError:
        return None


def _normalised_source(source: str) -> str | None:
    """``<ecosystem>:<identifier lowercased>``; None for a source ``split_source`` refuses."""
    prefix, colon, ident = source.partition(":")
    eco = _normalised_prefix(prefix) if colon else None
    return None if eco is None else f"{eco}:{ident.lower()}"


@functools.lru_cache(maxsize=65536)
def dependency(ecosystem: str, name: str) -> Dependency:
    """A shared ``Dependency`` value (the same few thousand recur across 100,000 entries)."""
    return Dependency(ecosystem, name)


@dataclass(frozen=True, slots=True)
class PackageBlockers:
    """The current blockers of one queue entry and the record that says so."""

    entry: str  # entry name, lowercased
    dependencies: tuple[Dependency, ...]  # sorted, distinct
    evidence: str  # "<file>:<line>" of the deciding record
    timestamp: str

    @classmethod
    def decided_by(
        cls,
        entry: QueueEntry,
        record_ecosystem: str | None,
        blocked_by: Iterable[str],
        evidence: str,
        timestamp: str,
    ) -> PackageBlockers:
        """The blockers an entry's deciding record lists, in the record's ecosystem."""
        dep_eco = record_ecosystem or entry.ecosystem or default_dependency_ecosystem()
        deps = tuple(sorted({dependency(dep_eco, d.strip()) for d in blocked_by if d}))
        return cls(entry.name.lower(), deps, evidence, timestamp)


@dataclass(frozen=True)
class CurrentBlockers:
    """Current blockers per entry, and what could not be attributed to an entry."""

    by_entry: Mapping[str, PackageBlockers]
    records: int  # records considered (after filters)
    unresolved: Mapping[str, int]  # package id / recipe name -> records (not in the queue)
    stale: Mapping[str, int]  # package id -> records (the entry's source changed since)
    bad_timestamps: int = 0


def _order_key(record: FailureRecord) -> tuple[datetime, str, int]:
    try:
        when = parse_timestamp(record.timestamp)
    except ValueError:
        when = datetime.min.replace(tzinfo=UTC)
    return (when, record.file, record.line)


def current_blockers(
    records: Iterable[FailureRecord],
    queue: Queue,
    *,
    ecosystem: str | None = None,
    environment: str | None = None,
) -> CurrentBlockers:
    """Decide each entry's current blockers from its records (rule in the module docstring).

    ``ecosystem`` keeps only entries of that ecosystem; ``environment`` only records from it.
    """
    lookup = EntryLookup.of(queue)
    wanted_eco = normalise_ecosystem(ecosystem) if ecosystem else None
    per_entry: dict[str, list[FailureRecord]] = defaultdict(list)
    unresolved: dict[str, int] = defaultdict(int)
    stale: dict[str, int] = defaultdict(int)
    considered = 0
    bad_timestamps = 0
    for record in records:
        if environment is not None and record.environment != environment:
            continue
        entry, how = lookup.entry_for(record)
        record_eco = record.ecosystem or (entry.ecosystem if entry else None)
        if wanted_eco is not None and record_eco != wanted_eco:
            continue
        considered += 1
        if entry is None:
            unresolved[record.package_id or record.name] += 1
            continue
        if how == "stale":
            stale[record.package_id or record.name] += 1
            continue
        try:
            parse_timestamp(record.timestamp)
        except ValueError:
            bad_timestamps += 1
        per_entry[entry.name.lower()].append(record)
    by_entry: dict[str, PackageBlockers] = {}
    for name, entry_records in per_entry.items():
        ordered = sorted(entry_records, key=_order_key)
        deciding_index = None
        for index in range(len(ordered) - 1, -1, -1):
            if ordered[index].blocked_by:
                deciding_index = index
                break
        if deciding_index is None:
            continue
        deciding = ordered[deciding_index]
        by_entry[name] = PackageBlockers.decided_by(
            lookup.by_name[name],
            deciding.ecosystem,
            deciding.blocked_by,
            f"{deciding.file}:{deciding.line}",
            deciding.timestamp,
        )
    return CurrentBlockers(
        by_entry=by_entry,
        records=considered,
        unresolved=dict(sorted(unresolved.items())),
        stale=dict(sorted(stale.items())),
        bad_timestamps=bad_timestamps,
    )


# ---------------------------------------------------------------------------------------------
# Weights


@dataclass(frozen=True, slots=True)
class Popularity:
    """One package's line of ``data/queues/popularity.json``."""

    ecosystem: str | None
    downloads: int | None
    percentile: float | None  # 0-100 within its own ecosystem
    period: str | None


@dataclass(frozen=True)
class Weights:
    """Per-entry weights on one 1-3 scale, whatever their source.

    * popularity known: ``1 + 2 * percentile / 100`` (percentiles are per ecosystem, so npm weekly
      and Homebrew yearly downloads are never compared raw);
    * else, queue priority: priority 1 → 3, 2 → 2, 3 → 1 (the reference data has no popularity
      file; its priority tiers are the only popularity signal it keeps);
    * ``uniform=True`` (or an entry not in the queue): 1.
    """

    by_entry: Mapping[str, float]
    default: float = 1.0
    source: str = "uniform"

    def of(self, name: str) -> float:
        return self.by_entry.get(name.lower(), self.default)

    @classmethod
    def build(
        cls,
        queue: Queue,
        popularity: Mapping[str, Popularity] | None = None,
        *,
        uniform: bool = False,
    ) -> Weights:
        by_entry: dict[str, float] = {}
        used: set[str] = set()
        popularity = {k.lower(): v for k, v in (popularity or {}).items()}
        for entry in queue.entries:
            key = entry.name.lower()
            info = popularity.get(key)
            if info is not None and info.percentile is not None:
                pct = min(max(float(info.percentile), 0.0), 100.0)
                by_entry[key] = 1.0 + 2.0 * pct / 100.0
                used.add("popularity")
            elif uniform:
                by_entry[key] = 1.0
                used.add("uniform")
            else:
                by_entry[key] = float(4 - min(max(entry.priority, 1), 3))
                used.add("priority")
        return cls(by_entry, 1.0, "+".join(sorted(used)) or "uniform")


# ---------------------------------------------------------------------------------------------
# The graph


@dataclass(frozen=True, slots=True)
class Blocker:
    """A missing dependency and the distinct active packages it holds back."""

    key: str  # graph key: the queue entry name it resolves to, else the dependency name
    dependencies: tuple[str, ...]  # recorded ids that resolved here ("homebrew:openssl@3")
    queue_entry: str | None  # the queue entry this dependency is, if any
    queue_status: str | None
    direct: tuple[str, ...]  # entry names, sorted
    transitive: tuple[str, ...]  # entry names, sorted (includes direct)
    weighted: float
    top: tuple[str, ...]  # the most important blocked packages: weight desc, name asc

    def to_json(self) -> dict[str, object]:
        return {
            "dependency": self.key,
            "recorded_as": list(self.dependencies),
            "queue_entry": self.queue_entry,
            "queue_status": self.queue_status,
            "direct_count": len(self.direct),
            "transitive_count": len(self.transitive),
            "weighted_value": round(self.weighted, 3),
            "top_blocked": list(self.top),
            "direct": list(self.direct),
            "transitive": list(self.transitive),
        }


@dataclass(frozen=True, slots=True)
class SatisfiedDependency:
    """A recorded blocker that an existing recipe already satisfies: its packages can requeue."""

    dependency: str  # "<ecosystem>:<name>"
    recipe: str
    how: str
    blocked: tuple[str, ...]  # active entries that still record it

    def to_json(self) -> dict[str, object]:
        return {
            "dependency": self.dependency,
            "satisfied_by": self.recipe,
            "how": self.how,
            "blocked": list(self.blocked),
        }


@dataclass(frozen=True)
class BlockerAnalysis:
    blockers: tuple[Blocker, ...]  # weighted desc, transitive count desc, key asc
    satisfied: tuple[SatisfiedDependency, ...]
    weights_source: str

    def by_key(self) -> dict[str, Blocker]:
        return {b.key: b for b in self.blockers}

    def impact(self, entry_name: str) -> float:
        """Weighted transitive value of an entry as a blocker (0 when it blocks nothing)."""
        blocker = self.by_key().get(entry_name.lower())
        return blocker.weighted if blocker else 0.0


def resolve_dependency(
    dep: Dependency, lookup: EntryLookup, identities: IdentityIndex
) -> tuple[str, Satisfaction | None]:
    """(graph key, satisfaction) for one recorded dependency.

    The key is the queue entry the dependency *is* (same source, the dep mapping's name, or the same
    name from a related source), else the mapped or recorded name; a name that would collide with an
    unrelated entry keeps its ecosystem prefix.
    """
    satisfied = identities.satisfier(dep)
    name = dep.name.lower()
    mapped = identities.mapped(dep.name)
    by_source = lookup.by_source.get(f"{dep.ecosystem}:{name}")
    if by_source is not None:
        return by_source.name.lower(), satisfied
    for candidate in (mapped, name):
        if candidate is None:
            continue
        entry = lookup.by_name.get(candidate)
        if entry is not None and (candidate == mapped or _related(entry.ecosystem, dep.ecosystem)):
            return candidate, satisfied
    key = mapped or name
    if key in lookup.by_name:  # an unrelated entry owns the bare name
        key = f"{dep.ecosystem}:{key}"
    return key, satisfied


def _closure(start: str, edges: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = sorted(edges.get(start, ()))
    while stack:
        vertex = stack.pop()
        if vertex in seen or vertex == start:
            continue
        seen.add(vertex)
        stack.extend(edges.get(vertex, ()))
    return seen


def analyse_blockers(
    current: CurrentBlockers,
    queue: Queue,
    identities: IdentityIndex,
    weights: Weights,
) -> BlockerAnalysis:
    """Build dependency → distinct blocked packages, with transitive sets and weighted values.

    Only active entries (pending, failed, blocked, requires_manual) count as blocked.
    """
    lookup = EntryLookup.of(queue)
    edges: dict[str, set[str]] = defaultdict(set)
    recorded: dict[str, set[str]] = defaultdict(set)
    satisfied: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for name, blockers in current.by_entry.items():
        entry = lookup.by_name.get(name)
        if entry is None or entry.status not in ACTIVE_STATUSES:
            continue
        for dep in blockers.dependencies:
            key, satisfaction = resolve_dependency(dep, lookup, identities)
            if satisfaction is not None:
                satisfied[(dep.id, satisfaction.recipe, satisfaction.how)].add(name)
                continue
            if key == name:  # a package cannot block itself
                continue
            edges[key].add(name)
            recorded[key].add(dep.id)

    def rank(names: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(names, key=lambda n: (-weights.of(n), n))[:TOP_BLOCKED])

    result = []
    for key in edges:
        transitive = _closure(key, edges)
        entry = lookup.by_name.get(key)
        result.append(
            Blocker(
                key=key,
                dependencies=tuple(sorted(recorded[key])),
                queue_entry=entry.name if entry else None,
                queue_status=entry.status if entry else None,
                direct=tuple(sorted(edges[key] - {key})),
                transitive=tuple(sorted(transitive)),
                weighted=sum(weights.of(n) for n in transitive),
                top=rank(transitive),
            )
        )
    result.sort(key=lambda b: (-b.weighted, -len(b.transitive), b.key))
    satisfied_list = tuple(
        SatisfiedDependency(dep_id, recipe, how, tuple(sorted(names)))
        for (dep_id, recipe, how), names in sorted(satisfied.items())
    )
    return BlockerAnalysis(tuple(result), satisfied_list, weights.source)
