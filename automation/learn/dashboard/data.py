"""The dashboard's numbers, aggregated from already-loaded registry values (pure, no I/O).

Every number on the page comes from :class:`DashboardData`; ``dashboard.json`` is its
``to_json()``. Definitions (stated on the page too):

* **Funnel per ecosystem** (queue ecosystems, normalised prefixes):
  *seeded* = queue entries; *generated* = entries with evidence that a recipe was built: status
  ``success``, a validation result line, or an ``install_failed``/``verify_failed`` record (those
  come after generation); *validated in E* = entries whose latest result in environment E is
  ``pass`` (``data/results``; the reference registry has none); *merged* = status ``success``.
* **Runs** come from the metrics records (reference §1.7); an *empty run* attempted nothing
  (``total == 0``). Rates per day: merge rate ``merged / total`` and generation success
  ``generation.succeeded / generation.attempted`` (kit records only), ``None`` without data.
* **Failures** count every failure record (canonical categories, §1.6), all history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from automation.core.timefmt import format_timestamp, parse_timestamp
from automation.learn.blockers import Blocker, EntryLookup, SatisfiedDependency
from automation.learn.sli import SliReport
from automation.registry.breaker import BreakerConfig, effective
from automation.registry.budget import RUNNERS, BudgetConfig, Spend, used_minutes, week_start
from automation.registry.control import Control
from automation.registry.failures import CATEGORIES, FailureRecord
from automation.registry.manifest import BatchManifest
from automation.registry.metrics import MetricsRecord
from automation.registry.queue import STATUSES, Queue
from automation.registry.results import ResultLine, latest_results

GENERATED_CATEGORIES = frozenset({"install_failed", "verify_failed"})
RECENT_RUNS = 10
RECENT_BATCHES = 10
TOP_BLOCKERS = 10
TOP_LABELS = 15  # bars per failure breakdown before "other"
NO_SUBCATEGORY = "(none recorded)"


@dataclass(frozen=True, slots=True)
class FunnelRow:
    ecosystem: str
    seeded: int
    generated: int
    validated: Mapping[str, int]  # environment -> entries passing there
    merged: int
    statuses: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "seeded": self.seeded,
            "generated": self.generated,
            "validated": dict(self.validated),
            "merged": self.merged,
            "by_status": dict(self.statuses),
        }


@dataclass(frozen=True, slots=True)
class QueueSummary:
    total: int
    by_status: Mapping[str, int]  # every status, STATUSES order
    by_tier: Mapping[int, Mapping[str, int]]
    by_confidence: Mapping[str, int]
    updated_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_status": dict(self.by_status),
            "by_tier": {str(t): dict(s) for t, s in self.by_tier.items()},
            "by_confidence": dict(self.by_confidence),
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One day of runs (UTC date of the metrics records)."""

    date: str
    runs: int
    empty_runs: int
    total: int
    merged: int
    generation_attempted: int
    generation_succeeded: int

    @property
    def merge_rate(self) -> float | None:
        return self.merged / self.total if self.total else None

    @property
    def generation_rate(self) -> float | None:
        if not self.generation_attempted:
            return None
        return self.generation_succeeded / self.generation_attempted

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "runs": self.runs,
            "empty_runs": self.empty_runs,
            "total": self.total,
            "merged": self.merged,
            "merge_rate": _round(self.merge_rate),
            "generation_attempted": self.generation_attempted,
            "generation_succeeded": self.generation_succeeded,
            "generation_success_rate": _round(self.generation_rate),
        }


@dataclass(frozen=True, slots=True)
class PlatformTotals:
    bucket: str
    tested: int
    passed: int
    failed: int

    @property
    def pass_rate(self) -> float | None:
        done = self.passed + self.failed
        return self.passed / done if done else None

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "tested": self.tested,
            "passed": self.passed,
            "failed": self.failed,
            "pass_rate": _round(self.pass_rate),
        }


@dataclass(frozen=True, slots=True)
class RunRow:
    batch_id: str
    timestamp: str
    ecosystems: tuple[str, ...]
    total: int
    merged: int
    constrained: int
    duration_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "timestamp": self.timestamp,
            "ecosystems": list(self.ecosystems),
            "total": self.total,
            "merged": self.merged,
            "constrained": self.constrained,
            "rate": _round(self.merged / self.total if self.total else None),
            "duration_seconds": self.duration_seconds,
        }


@dataclass(frozen=True, slots=True)
class RunsSummary:
    records: int
    empty: int
    non_empty: int
    legacy: int
    merged: int
    first_run: str | None
    last_run: str | None
    last_successful_run: str | None
    runs_since_last_success: int
    days: tuple[DayPoint, ...]
    platforms: tuple[PlatformTotals, ...]
    recent: tuple[RunRow, ...]  # newest non-empty runs first

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "empty": self.empty,
            "non_empty": self.non_empty,
            "legacy": self.legacy,
            "merged": self.merged,
            "first_run": self.first_run,
            "last_run": self.last_run,
            "last_successful_run": self.last_successful_run,
            "runs_since_last_success": self.runs_since_last_success,
            "by_day": [d.to_json() for d in self.days],
            "platforms": [p.to_json() for p in self.platforms],
            "recent": [r.to_json() for r in self.recent],
        }


@dataclass(frozen=True, slots=True)
class FailureSummary:
    records: int
    by_category: Mapping[str, int]  # canonical, CATEGORIES order then others
    by_raw_category: Mapping[str, int]
    by_subcategory: Mapping[str, int]
    by_environment: Mapping[str, Mapping[str, int]]  # environment -> category -> n
    by_ecosystem: Mapping[str, int]
    distinct_packages: int

    def environment_totals(self) -> dict[str, int]:
        return {env: sum(c.values()) for env, c in self.by_environment.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "by_category": dict(self.by_category),
            "by_raw_category": dict(self.by_raw_category),
            "by_subcategory": dict(self.by_subcategory),
            "by_environment": {e: dict(c) for e, c in self.by_environment.items()},
            "by_ecosystem": dict(self.by_ecosystem),
            "distinct_packages": self.distinct_packages,
        }


@dataclass(frozen=True, slots=True)
class BreakerRow:
    ecosystem: str
    state: str  # as recorded
    effective_state: str  # at the dashboard's ``now`` (an expired open breaker is half-open)
    failures: int
    last_failure: str | None
    opens_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "state": self.state,
            "effective_state": self.effective_state,
            "failures": self.failures,
            "last_failure": self.last_failure,
            "opens_at": self.opens_at,
        }


@dataclass(frozen=True, slots=True)
class ControlSummary:
    enabled: bool
    disabled_ecosystems: tuple[str, ...]
    reason: str
    disabled_by: str
    disabled_at: str
    breakers: tuple[BreakerRow, ...]

    @property
    def open_breakers(self) -> tuple[str, ...]:
        return tuple(b.ecosystem for b in self.breakers if b.state == "open")

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "emergency_stop": not self.enabled,
            "disabled_ecosystems": list(self.disabled_ecosystems),
            "reason": self.reason,
            "disabled_by": self.disabled_by,
            "disabled_at": self.disabled_at,
            "open_breakers": list(self.open_breakers),
            "breakers": [b.to_json() for b in self.breakers],
        }


@dataclass(frozen=True, slots=True)
class BatchRow:
    batch_id: str
    status: str
    ecosystems: tuple[str, ...]
    created_at: str
    updated_at: str
    recipes_created: int
    recipes_modified: int
    files: int
    transitions: Mapping[str, int]  # queue status after the batch -> entries

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "ecosystems": list(self.ecosystems),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "recipes_created": self.recipes_created,
            "recipes_modified": self.recipes_modified,
            "files": self.files,
            "queue_transitions": dict(self.transitions),
        }


@dataclass(frozen=True, slots=True)
class BlockersSummary:
    blocked_packages: int
    missing_dependencies: int
    weights: str
    top: tuple[Blocker, ...]
    satisfied: tuple[SatisfiedDependency, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "blocked_packages": self.blocked_packages,
            "missing_dependencies": self.missing_dependencies,
            "weights": self.weights,
            "top": [
                {
                    "dependency": b.key,
                    "direct_count": len(b.direct),
                    "transitive_count": len(b.transitive),
                    "weighted_value": round(b.weighted, 3),
                    "top_blocked": list(b.top),
                }
                for b in self.top
            ],
            "already_satisfied": [s.to_json() for s in self.satisfied],
        }


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """One runner kind's minutes this week."""

    runner: str
    used: int
    limit: int
    environments: Mapping[str, int]  # environment -> minutes

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "used": self.used,
            "limit": self.limit,
            "remaining": self.remaining,
            "share_used": _round(self.used / self.limit) if self.limit else None,
            "environments": dict(self.environments),
        }


@dataclass(frozen=True, slots=True)
class BudgetSummary:
    """The runner-minute budget of the current week (batch-control.json + the ledger)."""

    week_start: str
    rows: tuple[BudgetRow, ...]
    sample_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "week_start": self.week_start,
            "macos_sample_size": self.sample_size,
            "runners": [row.to_json() for row in self.rows],
        }


def summarise_budget(
    budget: Mapping[str, Any], spends: Sequence[Spend], now: datetime
) -> BudgetSummary:
    """This week's minutes per runner kind and environment against the configured limits."""
    config = BudgetConfig.from_control(budget)
    week = week_start(now)
    used = used_minutes(spends, week)
    rows = []
    for runner in RUNNERS:
        per_env: Counter[str] = Counter()
        for spend in spends:
            if spend.week_start == week and spend.runner == runner:
                per_env[spend.environment] += spend.minutes
        rows.append(
            BudgetRow(runner, used[runner], config.limits[runner], dict(sorted(per_env.items())))
        )
    return BudgetSummary(week, tuple(rows), config.sample_size)


@dataclass(frozen=True, slots=True)
class DashboardData:
    generated_at: str
    root: str
    recipes: int
    queue: QueueSummary
    funnel: tuple[FunnelRow, ...]
    environments: tuple[str, ...]  # environments with per-recipe results
    runs: RunsSummary
    failures: FailureSummary
    control: ControlSummary
    blockers: BlockersSummary
    batches: tuple[BatchRow, ...]
    batches_total: int
    sli: SliReport
    problems: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    budget: BudgetSummary | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "generated_at": self.generated_at,
            "root": self.root,
            "recipes": self.recipes,
            "queue": self.queue.to_json(),
            "funnel": {
                "environments": list(self.environments),
                "ecosystems": [row.to_json() for row in self.funnel],
            },
            "runs": self.runs.to_json(),
            "failures": self.failures.to_json(),
            "control": self.control.to_json(),
            "blockers": self.blockers.to_json(),
            "batches": {
                "total": self.batches_total,
                "recent": [b.to_json() for b in self.batches],
            },
            "sli": self.sli.to_json(),
            "budget": None if self.budget is None else self.budget.to_json(),
            "problems": {k: dict(v) for k, v in self.problems.items()},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _ordered(counter: Mapping[str, int], first: Sequence[str] = ()) -> dict[str, int]:
    """Known keys first (in their order, zero-filled), then the rest by count desc, name asc."""
    out = {k: int(counter.get(k, 0)) for k in first}
    rest = sorted((k for k in counter if k not in out), key=lambda k: (-counter[k], k))
    out.update({k: int(counter[k]) for k in rest})
    return out


# --- sections -------------------------------------------------------------------------------


def summarise_queue(queue: Queue) -> QueueSummary:
    statuses = Counter(e.status for e in queue.entries)
    tiers: dict[int, Counter[str]] = defaultdict(Counter)
    for entry in queue.entries:
        tiers[entry.priority][entry.status] += 1
    return QueueSummary(
        total=len(queue.entries),
        by_status=_ordered(statuses, STATUSES),
        by_tier={t: _ordered(tiers[t], STATUSES) for t in sorted(tiers)},
        by_confidence=_ordered(Counter(e.confidence for e in queue.entries)),
        updated_at=queue.updated_at if queue.entries else None,
    )


def funnel(
    queue: Queue, records: Iterable[FailureRecord], results: Iterable[ResultLine]
) -> tuple[tuple[FunnelRow, ...], tuple[str, ...]]:
    """Per ecosystem: seeded → generated → validated per environment → merged."""
    lookup = EntryLookup.of(queue)
    generated: set[str] = {e.name.lower() for e in queue.entries if e.status == "success"}
    for record in records:
        if record.category in GENERATED_CATEGORIES:
            entry, how = lookup.entry_for(record)
            if entry is not None and how in ("source", "name"):
                generated.add(entry.name.lower())
    latest = latest_results(results)
    environments = tuple(sorted({env for _, env in latest}))
    passed: dict[str, set[str]] = defaultdict(set)
    for (recipe, env), line in latest.items():
        key = recipe.lower()
        if key in lookup.by_name:
            generated.add(key)
            if line.status == "pass":
                passed[env].add(key)
    per_eco: dict[str, list[str]] = defaultdict(list)
    for entry in queue.entries:
        per_eco[entry.ecosystem].append(entry.name.lower())
    rows = []
    for eco, names in per_eco.items():
        statuses = Counter(lookup.by_name[n].status for n in names)
        rows.append(
            FunnelRow(
                ecosystem=eco,
                seeded=len(names),
                generated=sum(1 for n in names if n in generated),
                validated={env: sum(1 for n in names if n in passed[env]) for env in environments},
                merged=statuses.get("success", 0),
                statuses=_ordered(statuses, STATUSES),
            )
        )
    rows.sort(key=lambda r: (-r.seeded, r.ecosystem))
    return tuple(rows), environments


def summarise_runs(records: Sequence[MetricsRecord]) -> RunsSummary:
    timed = sorted(
        ((parse_timestamp(r.timestamp), r) for r in records), key=lambda t: (t[0], t[1].batch_id)
    )
    days: dict[str, list[MetricsRecord]] = defaultdict(list)
    platforms: dict[str, list[int]] = {}
    for when, record in timed:
        days[when.date().isoformat()].append(record)
        for p in record.platforms:
            counts = platforms.setdefault(p.bucket, [0, 0, 0])
            counts[0] += p.tested
            counts[1] += p.passed
            counts[2] += p.failed
    points = []
    for day in sorted(days):
        group = days[day]
        generation = [r.generation for r in group if r.generation is not None]
        points.append(
            DayPoint(
                date=day,
                runs=len(group),
                empty_runs=sum(1 for r in group if r.total == 0),
                total=sum(r.total for r in group),
                merged=sum(r.merged for r in group),
                generation_attempted=sum(g.attempted for g in generation),
                generation_succeeded=sum(g.succeeded for g in generation),
            )
        )
    successes = [i for i, (_, r) in enumerate(timed) if r.merged > 0]
    last_success = successes[-1] if successes else None
    non_empty = [(w, r) for w, r in timed if r.total > 0]
    recent = tuple(
        RunRow(
            r.batch_id,
            format_timestamp(w),
            r.ecosystem_names,
            r.total,
            r.merged,
            r.constrained,
            r.duration_seconds,
        )
        for w, r in reversed(non_empty[-RECENT_RUNS:])
    )
    return RunsSummary(
        records=len(timed),
        empty=len(timed) - len(non_empty),
        non_empty=len(non_empty),
        legacy=sum(1 for _, r in timed if r.legacy),
        merged=sum(r.merged for _, r in timed),
        first_run=format_timestamp(timed[0][0]) if timed else None,
        last_run=format_timestamp(timed[-1][0]) if timed else None,
        last_successful_run=format_timestamp(timed[last_success][0])
        if last_success is not None
        else None,
        runs_since_last_success=len(timed) - 1 - last_success
        if last_success is not None
        else len(timed),
        days=tuple(points),
        platforms=tuple(
            PlatformTotals(b, *platforms[b])
            for b in sorted(platforms, key=lambda b: (-platforms[b][0], b))
        ),
        recent=recent,
    )


def summarise_failures(records: Sequence[FailureRecord]) -> FailureSummary:
    by_env: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        by_env[record.environment][record.category] += 1
    env_order = sorted(by_env, key=lambda e: (-sum(by_env[e].values()), e))
    return FailureSummary(
        records=len(records),
        by_category=_ordered(Counter(r.category for r in records), CATEGORIES),
        by_raw_category=_ordered(Counter(r.raw_category for r in records)),
        by_subcategory=_ordered(Counter(r.subcategory or NO_SUBCATEGORY for r in records)),
        by_environment={e: _ordered(by_env[e], CATEGORIES) for e in env_order},
        by_ecosystem=_ordered(Counter(r.ecosystem or "(per-platform line)" for r in records)),
        distinct_packages=len({r.package_id or r.name for r in records}),
    )


def summarise_control(control: Control, now: datetime) -> ControlSummary:
    config = BreakerConfig()
    rows = []
    for eco in sorted(control.breakers):
        state = control.breakers[eco]
        rows.append(
            BreakerRow(
                ecosystem=eco,
                state=state.state,
                effective_state=effective(state, now, config).state,
                failures=state.failures,
                last_failure=format_timestamp(state.last_failure) if state.last_failure else None,
                opens_at=format_timestamp(state.opens_at) if state.opens_at else None,
            )
        )
    return ControlSummary(
        enabled=control.enabled,
        disabled_ecosystems=control.disabled_ecosystems,
        reason=control.reason,
        disabled_by=control.disabled_by,
        disabled_at=control.disabled_at,
        breakers=tuple(rows),
    )


def summarise_batches(manifests: Sequence[BatchManifest]) -> tuple[BatchRow, ...]:
    ordered = sorted(manifests, key=lambda m: (m.created_at, m.batch_id), reverse=True)
    rows = []
    for m in ordered[:RECENT_BATCHES]:
        recipes = [c for c in m.files if c.kind == "recipe"]
        transitions = Counter(q.after.status for q in m.queue_changes if q.after is not None)
        rows.append(
            BatchRow(
                batch_id=m.batch_id,
                status=m.status,
                ecosystems=m.ecosystems,
                created_at=m.created_at,
                updated_at=m.updated_at,
                recipes_created=sum(1 for c in recipes if c.action == "created"),
                recipes_modified=sum(1 for c in recipes if c.action == "modified"),
                files=len(m.files),
                transitions=_ordered(transitions, STATUSES),
            )
        )
    return tuple(rows)


def summarise_blockers(
    blockers: Sequence[Blocker],
    satisfied: Sequence[SatisfiedDependency],
    blocked_packages: int,
    weights: str,
) -> BlockersSummary:
    return BlockersSummary(
        blocked_packages=blocked_packages,
        missing_dependencies=len(blockers),
        weights=weights,
        top=tuple(blockers[:TOP_BLOCKERS]),
        satisfied=tuple(satisfied),
    )


@dataclass(frozen=True, slots=True)
class Loaded:
    """Everything the dashboard reads, already loaded (see ``automation.learn.dashboard.load``)."""

    root: str
    now: datetime
    queue: Queue
    records: tuple[FailureRecord, ...]
    metrics: tuple[MetricsRecord, ...]
    control: Control
    manifests: tuple[BatchManifest, ...]
    results: tuple[ResultLine, ...]
    recipes: int
    blockers: tuple[Blocker, ...]
    satisfied: tuple[SatisfiedDependency, ...]
    blocked_packages: int
    weights: str
    sli: SliReport
    problems: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    spends: tuple[Spend, ...] = ()  # this week's runner-minute ledger


def aggregate(loaded: Loaded) -> DashboardData:
    """All dashboard numbers from loaded values."""
    rows, environments = funnel(loaded.queue, loaded.records, loaded.results)
    return DashboardData(
        generated_at=format_timestamp(loaded.now),
        root=loaded.root,
        recipes=loaded.recipes,
        queue=summarise_queue(loaded.queue),
        funnel=rows,
        environments=environments,
        runs=summarise_runs(loaded.metrics),
        failures=summarise_failures(loaded.records),
        control=summarise_control(loaded.control, loaded.now),
        blockers=summarise_blockers(
            loaded.blockers, loaded.satisfied, loaded.blocked_packages, loaded.weights
        ),
        batches=summarise_batches(loaded.manifests),
        batches_total=len(loaded.manifests),
        sli=loaded.sli,
        problems=loaded.problems,
        budget=summarise_budget(loaded.control.budget, loaded.spends, loaded.now),
    )
