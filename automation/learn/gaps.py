"""Gap analysis: which missing dependencies block the most queue entries (``invoke gaps``).

Reads the queue, the failure index (``automation.learn.failure_index``), the recipes (identities),
the
dep mapping (``data/dep-mapping.json``) and the popularity side file
(``data/queues/popularity.json``); the analysis itself is ``automation.learn.blockers``.

Weights: popularity percentile when the side file lists the entry, else the entry's queue priority
(the reference snapshot has no popularity file), see ``blockers.Weights``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation import __version__
from automation.core.atomic import atomic_write_text
from automation.core.errors import DataError, ExitCode, UsageError
from automation.core.jsondata import loads, read_json, read_text
from automation.core.layout import RegistryLayout
from automation.core.parallel import Background
from automation.core.report import Problem
from automation.core.timefmt import format_timestamp, now
from automation.learn import blockers as bl
from automation.learn.failure_index import (
    IndexStats,
    default_index_path,
    indexed_current_blockers,
    indexed_problems,
    indexed_records,
    open_index,
)
from automation.registry.queue import Queue, load_queue
from automation.registry.recipes import read_recipe_identity

DEP_MAPPING = Path("data") / "dep-mapping.json"
POPULARITY = Path("data") / "queues" / "popularity.json"
SAMPLE = 10  # how many unresolved names a report lists


# ---------------------------------------------------------------------------------------------
# Inputs (I/O)


def _read_json_object(path: Path, rel: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    text, problem = read_text(path, rel)
    if text is not None:
        document, problem = loads(text, rel)  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(f"cannot read: {problem.message}", path=rel, where=problem.where)
    if not isinstance(document, dict):
        raise DataError("expected a JSON object", path=rel)
    return document


def read_dep_mapping(layout: RegistryLayout) -> dict[str, str]:
    """``data/dep-mapping.json`` (formula dependency name → recipe name); {} when absent.

    Read directly (the shared data-contract loader was not available when this was written);
    non-string values are rejected with the key named.
    """
    document = _read_json_object(layout.root / DEP_MAPPING, str(DEP_MAPPING))
    if document is None:
        return {}
    out: dict[str, str] = {}
    for key, value in document.items():
        if key.startswith("$") or key in ("schema_version", "comment", "_comment"):
            continue
        if not isinstance(value, str):
            raise DataError(
                f"value must be a recipe name string, got {value!r}",
                path=str(DEP_MAPPING),
                where=key,
            )
        out[key] = value
    return out


def read_popularity(layout: RegistryLayout) -> dict[str, bl.Popularity]:
    """``data/queues/popularity.json`` (name → {ecosystem, downloads, percentile, period})."""
    document = _read_json_object(layout.root / POPULARITY, str(POPULARITY))
    if document is None:
        return {}
    packages = document.get("packages")
    table: dict[str, Any] = packages if isinstance(packages, dict) else document
    out: dict[str, bl.Popularity] = {}
    for name, info in table.items():
        if not isinstance(info, dict):
            continue
        downloads = info.get("downloads")
        percentile = info.get("percentile")
        out[name.lower()] = bl.Popularity(
            ecosystem=info.get("ecosystem") if isinstance(info.get("ecosystem"), str) else None,
            downloads=downloads if isinstance(downloads, int) else None,
            percentile=float(percentile) if isinstance(percentile, int | float) else None,
            period=info.get("period") if isinstance(info.get("period"), str) else None,
        )
    return out


@dataclass(frozen=True)
class RecipeScan:
    identities: tuple[bl.RecipeIdentity, ...]
    problems: tuple[Problem, ...]


def read_recipe_identities(layout: RegistryLayout) -> RecipeScan:
    """Identity (name, source, satisfies, kind) of every recipe; unreadable ones are reported.

    Only the identity fields are read (``recipes.read_recipe_identity``): a recipe with some
    unrelated defect still satisfies dependencies here; ``invoke check-data`` reports the defect.
    """
    identities = []
    problems = []
    for path in layout.recipe_files():
        rel = str(path.relative_to(layout.root))
        try:
            found = read_recipe_identity(path)
        except DataError as exc:
            problems.append(Problem(rel, exc.where or "", exc.detail, "warning"))
            continue
        identities.append(
            bl.RecipeIdentity.build(
                found.name,
                source=found.source,
                satisfies=found.satisfies,
                kind="library" if found.is_library else "tool",
            )
        )
    return RecipeScan(tuple(identities), tuple(problems))


@dataclass(frozen=True)
class Inputs:
    """Everything an analysis run reads, loaded once.

    ``current`` holds each entry's current blockers under the load's filters, computed in the
    failure index; ``records`` (every record, materialised) only when asked for.
    """

    layout: RegistryLayout
    queue: Queue
    current: bl.CurrentBlockers
    records: tuple[Any, ...]
    record_problems: tuple[tuple[str, str, str], ...]
    index: IndexStats
    identities: bl.IdentityIndex
    recipe_problems: tuple[Problem, ...]
    popularity: Mapping[str, bl.Popularity]
    weights: bl.Weights


def load_inputs(
    layout: RegistryLayout,
    *,
    index_path: Path | str | None = "default",
    uniform_weights: bool = False,
    ecosystem: str | None = None,
    environment: str | None = None,
    with_records: bool = False,
) -> Inputs:
    """Load queue, current blockers (through the index), recipes, dep mapping and popularity.

    ``ecosystem`` keeps only entries of that ecosystem, ``environment`` only records from it.
    """
    # Recipe identities are independent of the rest: read them on the other core meanwhile.
    many = layout.recipes_dir.is_dir() and sum(1 for _ in os.scandir(layout.recipes_dir)) > 8
    recipes_job = Background(read_recipe_identities, layout, worth_it=many)
    queue = load_queue(layout.queue)
    with open_index(layout, path=index_path) as (conn, stats):
        current = indexed_current_blockers(
            conn, queue, ecosystem=ecosystem, environment=environment
        )
        records = tuple(indexed_records(conn)) if with_records else ()
        problems = tuple(indexed_problems(conn))
    recipes = recipes_job.result()
    popularity = read_popularity(layout)
    return Inputs(
        layout=layout,
        queue=queue,
        current=current,
        records=records,
        record_problems=problems,
        index=stats,
        identities=bl.IdentityIndex(recipes.identities, read_dep_mapping(layout)),
        recipe_problems=recipes.problems,
        popularity=popularity,
        weights=bl.Weights.build(queue, popularity, uniform=uniform_weights),
    )


def analyse(inputs: Inputs) -> tuple[bl.CurrentBlockers, bl.BlockerAnalysis]:
    """The blocker graph over the inputs' current blockers."""
    current = inputs.current
    return current, bl.analyse_blockers(current, inputs.queue, inputs.identities, inputs.weights)


# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class GapReport:
    """Top blockers, already-satisfied dependencies, and what could not be interpreted."""

    top: int
    ecosystem: str | None
    environment: str | None
    blockers: tuple[bl.Blocker, ...]  # all, ranked; ``top`` limits the rendering
    satisfied: tuple[bl.SatisfiedDependency, ...]
    current: bl.CurrentBlockers
    index: IndexStats
    weights_source: str
    notes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = field(default=())
    result_cache: Mapping[str, Any] | None = None  # {"hit": false, "computed_at": ...} when kept

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def _uninterpreted(self) -> dict[str, Any]:
        return {
            "records_not_in_queue": sum(self.current.unresolved.values()),
            "packages_not_in_queue": len(self.current.unresolved),
            "sample_not_in_queue": list(self.current.unresolved)[:SAMPLE],
            "records_stale_source": sum(self.current.stale.values()),
            "packages_stale_source": sorted(self.current.stale)[:SAMPLE],
            "records_bad_timestamp": self.current.bad_timestamps,
            "unreadable_lines": self.index.problems,
            "recipes_unreadable": len(self.problems),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "filters": {"ecosystem": self.ecosystem, "environment": self.environment},
            "weights": self.weights_source,
            "records": self.current.records,
            "blocked_packages": len(self.current.by_entry),
            "missing_dependencies": len(self.blockers),
            "blocked_active_packages": len({n for b in self.blockers for n in b.direct}),
            "blockers": [b.to_json() for b in self.blockers[: self.top]],
            "already_satisfied": [s.to_json() for s in self.satisfied],
            "uninterpreted": self._uninterpreted(),
            "index": self.index.to_json(),
            "notes": list(self.notes),
            "problems": [p.to_json() for p in self.problems],
            **({"result_cache": dict(self.result_cache)} if self.result_cache else {}),
        }

    def to_text(self) -> str:
        return render_text(self.to_json())


def render_text(data: Mapping[str, Any]) -> str:
    """The text form of a gap report, from its JSON form (fresh and cached reports alike)."""
    blockers = data["blockers"]
    lines = [
        f"Gap analysis: {data['missing_dependencies']} missing dependencies block "
        f"{data['blocked_active_packages']} active packages (weights: {data['weights']})"
    ]
    filters = data["filters"]
    if filters["ecosystem"] or filters["environment"]:
        lines.append(
            f"filters: ecosystem={filters['ecosystem']} environment={filters['environment']}"
        )
    lines.append("")
    header = f"{'dependency':<24} {'direct':>6} {'trans':>6} {'weight':>8}  top blocked"
    lines += [header, "-" * len(header)]
    for b in blockers:
        lines.append(
            f"{b['dependency']:<24} {b['direct_count']:>6} {b['transitive_count']:>6} "
            f"{b['weighted_value']:>8.1f}  " + ", ".join(b["top_blocked"])
        )
    if data["already_satisfied"]:
        lines += ["", "Already satisfied (requeue candidates):"]
        for s in data["already_satisfied"]:
            lines.append(
                f"  {s['dependency']} <- recipe {s['satisfied_by']} ({s['how']}): "
                + ", ".join(s["blocked"])
            )
    u = data["uninterpreted"]
    lines += [
        "",
        "Not interpreted: "
        f"{u['records_not_in_queue']} records of {u['packages_not_in_queue']} packages not in "
        f"the queue; {u['records_stale_source']} records of a source the entry no longer "
        f"uses; {u['unreadable_lines']} unreadable lines; {u['recipes_unreadable']} "
        "unreadable recipes",
    ]
    if u["sample_not_in_queue"]:
        lines.append("  e.g. " + ", ".join(u["sample_not_in_queue"]))
    idx = data["index"]
    lines.append(
        f"Index: {idx['location']} ({idx['files_read']} files read, {idx['files_unchanged']} "
        f"unchanged, {idx['files_removed']} removed, {idx['seconds']:.2f} s)"
    )
    cache = data.get("result_cache")
    if cache and cache.get("hit"):
        lines.append(f"Result: cached (inputs unchanged since {cache['computed_at']})")
    lines += [f"note: {n}" for n in data["notes"]]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The result cache: an unchanged registry answers from the last run's report.

RESULT_CACHE_VERSION = 1
# The modules whose code decides a report: editing one invalidates cached reports.
_ANALYSIS_MODULES = (
    "learn/gaps",
    "learn/blockers",
    "learn/failure_index",
    "registry/failures",
    "registry/recipes",
    "registry/queue",
)


def _stat_line(path: Path, label: str) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{label} absent"
    return f"{label} {st.st_size} {st.st_mtime_ns}"


def input_fingerprint(layout: RegistryLayout) -> tuple[str, int]:
    """A digest of every input's (path, size, mtime in ns) and the analysis code; also the
    number of failure files (for the report's index line).

    The same rule the failure index trusts: a file whose size and mtime are unchanged is
    unchanged. About 10,000 ``stat`` calls at 10,000 recipes.
    """
    digest = hashlib.sha256(f"gaps-result v{RESULT_CACHE_VERSION} {__version__}\n".encode())
    package = Path(__file__).parents[1]
    for module in _ANALYSIS_MODULES:
        digest.update((_stat_line(package / f"{module}.py", module) + "\n").encode())
    for path, label in ((layout.queue, "queue"), (layout.root / DEP_MAPPING, "dep-mapping"),
                        (layout.root / POPULARITY, "popularity")):  # fmt: skip
        digest.update((_stat_line(path, label) + "\n").encode())
    failures = 0
    for folder, pattern in ((layout.failures_dir, None), (layout.recipes_dir, "recipes")):
        if not folder.is_dir():
            digest.update(f"{folder.name} absent\n".encode())
            continue
        stack = (
            [folder]
            if pattern is None
            else sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir() and len(e.name) == 1)
        )
        for directory in stack:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
            for entry in entries:
                suffix = ".jsonl" if pattern is None else ".toml"
                if not entry.name.endswith(suffix) or not entry.is_file():
                    continue
                st = entry.stat()
                failures += pattern is None
                digest.update(f"{entry.path} {st.st_size} {st.st_mtime_ns}\n".encode())
    return digest.hexdigest(), failures


@dataclass(frozen=True)
class CachedGapReport:
    """A report served from the result cache (inputs unchanged since it was computed)."""

    data: Mapping[str, Any]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)

    def to_text(self) -> str:
        return render_text(self.data)

    @property
    def index(self) -> IndexStats:
        idx = self.data["index"]
        return IndexStats(**{k: idx[k] for k in IndexStats.__dataclass_fields__})


def gap_report(
    root: str | Path,
    *,
    top: int = 10,
    ecosystem: str | None = None,
    environment: str | None = None,
    index_path: Path | str | None = "default",
    use_cache: bool = True,
) -> GapReport | CachedGapReport:
    """Rank missing dependencies by the popularity-weighted distinct packages they block.

    With a persisted failure index, the report is also kept next to it, keyed by a fingerprint
    of every input (``input_fingerprint``) and the arguments: a rerun on an unchanged registry
    answers from it (``result_cache.hit`` in the JSON) without reading anything else.
    """
    if top < 1:
        raise UsageError("--top must be at least 1")
    started = time.perf_counter()
    layout = RegistryLayout.at(root)
    location = default_index_path(layout) if index_path == "default" else index_path
    cache_file = None
    fingerprint = ""
    if use_cache and location is not None:
        fingerprint, failure_files = input_fingerprint(layout)
        arguments = json.dumps([top, ecosystem, environment, str(location)])
        key = hashlib.sha256(arguments.encode()).hexdigest()[:24]
        cache_file = Path(location).parent / "gap-reports" / f"{key}.json"
        cached = _read_cached(cache_file, fingerprint)
        if cached is not None:
            cached["index"] = {
                **cached["index"],
                "files": failure_files,
                "files_read": 0,
                "files_unchanged": failure_files,
                "files_removed": 0,
                "seconds": round(time.perf_counter() - started, 3),
            }
            cached["result_cache"] = {**cached["result_cache"], "hit": True}
            return CachedGapReport(cached)
    report = _compute(layout, top, ecosystem, environment, index_path)
    if cache_file is not None:
        report = dataclasses.replace(
            report, result_cache={"hit": False, "computed_at": format_timestamp(now())}
        )
        data = report.to_json()
        with contextlib.suppress(OSError):  # a cache: failing to keep it never fails the report
            atomic_write_text(
                cache_file, json.dumps({"fingerprint": fingerprint, "report": data}) + "\n"
            )
    return report


def _read_cached(path: Path, fingerprint: str) -> dict[str, Any] | None:
    # A cache: unreadable or out of the data bounds just means computing the report again.
    document, problem = read_json(path, str(path))
    if problem is not None:
        return None
    if not isinstance(document, dict) or document.get("fingerprint") != fingerprint:
        return None
    report = document.get("report")
    return report if isinstance(report, dict) and "result_cache" in report else None


def _compute(
    layout: RegistryLayout,
    top: int,
    ecosystem: str | None,
    environment: str | None,
    index_path: Path | str | None,
) -> GapReport:
    inputs = load_inputs(
        layout, index_path=index_path, ecosystem=ecosystem, environment=environment
    )
    current, analysis = analyse(inputs)
    notes = []
    if not inputs.index.persisted:
        notes.append("failure index kept in memory (cache location not writable)")
    if not inputs.popularity:
        notes.append(f"{POPULARITY} absent: weights from queue priority (1 -> 3, 2 -> 2, 3 -> 1)")
    if not inputs.identities.dep_mapping:
        notes.append(f"{DEP_MAPPING} absent: dependencies resolve by name and satisfies only")
    return GapReport(
        top=top,
        ecosystem=ecosystem,
        environment=environment,
        blockers=analysis.blockers,
        satisfied=analysis.satisfied,
        current=current,
        index=inputs.index,
        weights_source=analysis.weights_source,
        notes=tuple(notes),
        problems=inputs.recipe_problems,
    )
