"""Gap analysis: which missing dependencies block the most queue entries (``invoke gaps``).

Reads the queue, the failure index (``automation.failure_index``), the recipes (identities), the
dep mapping (``data/dep-mapping.json``) and the popularity side file
(``data/queues/popularity.json``); the analysis itself is ``automation.blockers``.

Weights: popularity percentile when the side file lists the entry, else the entry's queue priority
(the reference snapshot has no popularity file), see ``blockers.Weights``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation import blockers as bl
from automation.errors import DataError, ExitCode, UsageError
from automation.failure_index import IndexStats, load_failure_records
from automation.layout import RegistryLayout
from automation.queue import Queue, load_queue
from automation.recipes import load_recipe_model, recipe_source
from automation.report import Problem

DEP_MAPPING = Path("data") / "dep-mapping.json"
POPULARITY = Path("data") / "queues" / "popularity.json"
SAMPLE = 10  # how many unresolved names a report lists


# ---------------------------------------------------------------------------------------------
# Inputs (I/O)


def _read_json_object(path: Path, rel: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", path=rel) from None
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
    """Identity (name, source, satisfies, kind) of every recipe; unreadable ones are reported."""
    identities = []
    problems = []
    for path in layout.recipe_files():
        rel = str(path.relative_to(layout.root))
        try:
            recipe = load_recipe_model(path, strict=False)
        except DataError as exc:
            problems.append(Problem(rel, exc.where or "", exc.detail, "warning"))
            continue
        identities.append(
            bl.RecipeIdentity.build(
                recipe.name,
                source=recipe_source(recipe),
                satisfies=recipe.satisfies,
                kind="library" if recipe.is_library else "tool",
            )
        )
    return RecipeScan(tuple(identities), tuple(problems))


@dataclass(frozen=True)
class Inputs:
    """Everything an analysis run reads, loaded once."""

    layout: RegistryLayout
    queue: Queue
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
) -> Inputs:
    """Load queue, failure records (through the index), recipes, dep mapping and popularity."""
    queue = load_queue(layout.queue)
    records, problems, stats = load_failure_records(layout, index_path=index_path)
    recipes = read_recipe_identities(layout)
    popularity = read_popularity(layout)
    return Inputs(
        layout=layout,
        queue=queue,
        records=tuple(records),
        record_problems=tuple(problems),
        index=stats,
        identities=bl.IdentityIndex(recipes.identities, read_dep_mapping(layout)),
        recipe_problems=recipes.problems,
        popularity=popularity,
        weights=bl.Weights.build(queue, popularity, uniform=uniform_weights),
    )


def analyse(
    inputs: Inputs, *, ecosystem: str | None = None, environment: str | None = None
) -> tuple[bl.CurrentBlockers, bl.BlockerAnalysis]:
    current = bl.current_blockers(
        inputs.records, inputs.queue, ecosystem=ecosystem, environment=environment
    )
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
            "blockers": [b.to_json() for b in self.blockers[: self.top]],
            "already_satisfied": [s.to_json() for s in self.satisfied],
            "uninterpreted": self._uninterpreted(),
            "index": self.index.to_json(),
            "notes": list(self.notes),
            "problems": [p.to_json() for p in self.problems],
        }

    def to_text(self) -> str:
        lines = [
            f"Gap analysis: {len(self.blockers)} missing dependencies block "
            f"{len({n for b in self.blockers for n in b.direct})} active packages "
            f"(weights: {self.weights_source})"
        ]
        if self.ecosystem or self.environment:
            lines.append(f"filters: ecosystem={self.ecosystem} environment={self.environment}")
        lines.append("")
        header = f"{'dependency':<24} {'direct':>6} {'trans':>6} {'weight':>8}  top blocked"
        lines += [header, "-" * len(header)]
        for b in self.blockers[: self.top]:
            lines.append(
                f"{b.key:<24} {len(b.direct):>6} {len(b.transitive):>6} {b.weighted:>8.1f}  "
                + ", ".join(b.top)
            )
        if self.satisfied:
            lines += ["", "Already satisfied (requeue candidates):"]
            for s in self.satisfied:
                lines.append(
                    f"  {s.dependency} <- recipe {s.recipe} ({s.how}): " + ", ".join(s.blocked)
                )
        u = self._uninterpreted()
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
        idx = self.index
        lines.append(
            f"Index: {idx.location} ({idx.files_read} files read, {idx.files_unchanged} "
            f"unchanged, {idx.files_removed} removed, {idx.seconds:.2f} s)"
        )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def gap_report(
    root: str | Path,
    *,
    top: int = 10,
    ecosystem: str | None = None,
    environment: str | None = None,
    index_path: Path | str | None = "default",
) -> GapReport:
    """Rank missing dependencies by the popularity-weighted distinct packages they block."""
    if top < 1:
        raise UsageError("--top must be at least 1")
    layout = RegistryLayout.at(root)
    inputs = load_inputs(layout, index_path=index_path)
    current, analysis = analyse(inputs, ecosystem=ecosystem, environment=environment)
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
