"""Merge: land what passed validation, record everything the batch changed, update the queue.

Per generated recipe: its result lines give per-platform outcomes; constraints are derived from
them; gates decide between auto-merge and human review. Per generation failure: a structured
failure record and a queue transition (blocked, failed with backoff, or excluded when no rerun can
ever succeed). Every file touched is snapshotted in the batch manifest first, so rollback restores
it byte for byte, and a merge killed half-way is undone and redone by the next run.
"""

from __future__ import annotations

import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core.atomic import atomic_write_bytes, atomic_write_text, registry_lock
from automation.core.errors import DataError, ExitCode, StoppedError, UsageError
from automation.core.hostplatform import host_platform
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp, parse_timestamp
from automation.core.timefmt import now as utc_now
from automation.learn.requeue import backoff
from automation.ops.maintenance import (
    ENVIRONMENT as MAINTENANCE_ENVIRONMENT,
)
from automation.ops.maintenance import (
    failure_groups,
    merge_owned_dirs,
    plan_exclusions,
    sweep_temp_files,
)
from automation.registry import manifest as mf
from automation.registry.breaker import BreakerConfig
from automation.registry.constraints import (
    apply_constraints,
    combine_environment_outcomes,
    derive_constraints,
)
from automation.registry.control import (
    Control,
    check_allowed_now,
    record_outcome,
    sweep_control_temp,
    update_control,
)
from automation.registry.failure_codes import queue_status, queue_transition
from automation.registry.failures import NewFailure, next_failure_path, write_failures
from automation.registry.metrics import (
    GenerationCounts,
    MetricsRecord,
    PlatformCounts,
    write_metrics_record,
)
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.recipes import dump_recipe, load_recipe_text
from automation.registry.results import ResultLine, current_results
from automation.registry.staging import GenerationOutcome, Staging
from automation.stages.gates import Candidate, GateConfig, GateContext, RankedName, evaluate_gates


@dataclass
class RecipeDecision:
    name: str
    source: str
    action: str  # merged | held | failed | blocked | excluded | not_validated
    reasons: list[str] = field(default_factory=list)
    category: str = ""
    subcategory: str = ""
    constraints: dict[str, Any] = field(default_factory=dict)
    platforms: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "action": self.action,
            "reasons": self.reasons,
            "category": self.category,
            "subcategory": self.subcategory,
            "constraints": self.constraints,
            "platforms": self.platforms,
        }


@dataclass
class MergeReport:
    batch_id: str
    decisions: list[RecipeDecision] = field(default_factory=list)
    already_merged: bool = False
    resumed_partial: bool = False
    requeued: list[str] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)  # "name: status/subcategory"
    seconds: float = 0.0

    @property
    def counts(self) -> Counter[str]:
        return Counter(d.action for d in self.decisions)

    @property
    def exit_code(self) -> ExitCode:
        bad = self.counts["failed"] + self.counts["blocked"] + self.counts["excluded"]
        return ExitCode.PARTIAL if bad else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "already_merged": self.already_merged,
            "resumed_partial": self.resumed_partial,
            "counts": dict(sorted(self.counts.items())),
            "requeued": self.requeued,
            "impossible": self.impossible,
            "seconds": round(self.seconds, 3),
            "decisions": [d.to_json() for d in self.decisions],
        }

    def to_text(self) -> str:
        """Markdown, usable as a pull-request body."""
        if self.already_merged:
            return f"batch {self.batch_id} was already merged: nothing to do"
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        lines = [f"## Batch {self.batch_id}", "", counts or "nothing to merge", ""]
        if self.decisions:
            lines += ["| recipe | source | result | why |", "|---|---|---|---|"]
            for d in self.decisions:
                why = "; ".join(d.reasons) or (
                    f"{d.category}/{d.subcategory}" if d.category else ""
                )
                why = why.replace("|", "\\|").replace("\n", " ")[:300]
                lines.append(f"| {d.name} | {d.source} | {d.action} | {why} |")
        if self.requeued:
            lines += ["", "Re-queued now that their blockers landed: " + ", ".join(self.requeued)]
        return "\n".join(lines)


def _status_for_generation_failure(outcome: GenerationOutcome) -> str:
    """Queue status from the failure-code table (``automation.registry.failure_codes``)."""
    transition = queue_transition(outcome.category, outcome.subcategory, outcome.blocked_by)
    return queue_status(transition)


def _failed(entry: QueueEntry, when: datetime) -> QueueEntry:
    count = entry.failure_count + 1
    return entry.with_changes(
        status="failed", failure_count=count, next_retry_at=format_timestamp(when + backoff(count))
    )


class _Writer:
    """Writes files while keeping the manifest's before-images complete (saved first)."""

    def __init__(self, layout: RegistryLayout, manifest: mf.BatchManifest):
        self.layout = layout
        self.manifest = manifest

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.layout.root).as_posix()

    def before(self, path: Path) -> None:
        updated = mf.record_file_before(self.manifest, self.layout, self.rel(path))
        if updated is not self.manifest:
            self.manifest = mf.save_manifest(self.layout, updated)

    def after(self, path: Path) -> None:
        self.manifest = mf.record_file_after(self.manifest, self.layout, self.rel(path))


VOTED_KEY = "voted_batches"  # breaker extra: batches whose votes landed (idempotent rerun)
VOTED_KEEP = 20


def _voted(control: Control, ecosystem: str, batch_id: str) -> bool:
    return batch_id in (control.breaker(ecosystem).extra.get(VOTED_KEY) or ())


def _mark_voted(control: Control, ecosystem: str, batch_id: str) -> Control:
    state = control.breaker(ecosystem)
    done = [b for b in (state.extra.get(VOTED_KEY) or ()) if b != batch_id]
    extra = {**state.extra, VOTED_KEY: [*done, batch_id][-VOTED_KEEP:]}
    return control.with_breaker(ecosystem, replace(state, extra=extra))


def _check_stop(layout: RegistryLayout, ecosystem: str | None, writer: _Writer) -> None:
    """Emergency stop before each item: put back what this run wrote, then stop (exit 5)."""
    try:
        check_allowed_now(layout, ecosystem)
    except StoppedError:
        _undo_partial(layout, writer.manifest)
        raise


def _undo_partial(layout: RegistryLayout, manifest: mf.BatchManifest) -> None:
    """Restore every file a killed merge may have touched (its before-images were saved first)."""
    for change in manifest.files:
        _, absolute = mf.safe_rel_path(layout, change.path)
        data = change.before_bytes()
        if data is None:
            absolute.unlink(missing_ok=True)
        else:
            atomic_write_bytes(absolute, data)


def merge_batch(
    layout: RegistryLayout,
    batch_id: str,
    *,
    now: datetime | None = None,
    gate_config: GateConfig | None = None,
    breaker_config: BreakerConfig | None = None,
    requeue: bool = True,
    lock_wait: float | None = None,
    allow_missing_shards: bool = False,
) -> MergeReport:
    """Merge one batch (idempotent: a merged batch is not merged twice).

    A sharded batch merges once every shard's generation log is in place (their union, in
    selection order, so arrival order does not matter). ``lock_wait``: seconds to wait for the
    registry lock (default: fail fast, or ``AUTOMATION_LOCK_WAIT``).
    """
    started = time.monotonic()
    when = now or utc_now()
    report = MergeReport(batch_id)
    staging = Staging(layout, batch_id)
    if not staging.exists():
        raise UsageError(f"no batch {batch_id!r}: {staging.dir} has no generation log")
    missing = staging.missing_shards()
    if missing and not allow_missing_shards:
        raise UsageError(
            f"batch {batch_id}: shard(s) {', '.join(missing)} have not reported; merge once "
            "every shard's staging is in place"
        )
    check_allowed_now(layout, None)
    with registry_lock(layout.lock_file, timeout=lock_wait):
        # Only lock holders write these directories: a temp file there is a killed writer's.
        sweep_temp_files(merge_owned_dirs(layout))
        sweep_control_temp(layout)
        manifest_path = layout.batch_manifest(batch_id)
        if manifest_path.exists():
            previous = mf.load_manifest(layout, batch_id)
            if previous.status in ("merged", "rolled_back"):
                report.already_merged = previous.status == "merged"
                if previous.status == "rolled_back":
                    raise UsageError(f"batch {batch_id} was rolled back; generate a new batch")
                return report
            _undo_partial(layout, previous)  # a crash left it in progress: start clean
            report.resumed_partial = True
        outcomes = staging.outcomes()
        writer = _Writer(
            layout, mf.new_manifest(batch_id, sorted({o.source.split(":", 1)[0] for o in outcomes}))
        )
        writer.manifest = mf.save_manifest(layout, writer.manifest)
        # The control file is not part of the batch: breaker votes are observations, and a
        # rollback must never undo an emergency stop set meanwhile.
        writer.before(layout.queue)
        queue = load_queue(layout.queue)
        results = current_results(layout, batch_id)
        by_recipe: dict[str, list[ResultLine]] = defaultdict(list)
        for (recipe, _env), line in sorted(results.items()):
            by_recipe[recipe].append(line)
        existing = frozenset(p.stem for p in layout.recipe_files())
        context = GateContext(
            now=when,
            existing_recipes=existing,
            queue=[RankedName(e.name, e.source) for e in queue.entries],
            config=gate_config or GateConfig(),
        )
        entries = {e.name.lower(): e for e in queue.entries}
        new_entries: dict[str, QueueEntry] = {}
        failures: dict[tuple[str, str], list[NewFailure]] = defaultdict(list)
        votes: dict[str, list[bool]] = defaultdict(list)
        merged: list[str] = []
        generation_env = host_platform()
        for outcome in outcomes:
            ecosystem = outcome.source.split(":", 1)[0]
            _check_stop(layout, ecosystem, writer)
            entry = entries.get(outcome.name.lower())
            decision = RecipeDecision(outcome.name, outcome.source, "")
            if outcome.status == "failed":
                decision.action = _status_for_generation_failure(outcome)
                decision.category, decision.subcategory = outcome.category, outcome.subcategory
                failures[(ecosystem, generation_env)].append(
                    NewFailure(
                        name=outcome.name,
                        package_id=outcome.source,
                        category=outcome.category,
                        subcategory=outcome.subcategory,
                        message=outcome.message,
                        blocked_by=outcome.blocked_by,
                        batch_id=batch_id,
                    )
                )
                if outcome.category == "network_error" or decision.action == "failed":
                    votes[ecosystem].append(False)
                if entry is not None:
                    new_entries[entry.name.lower()] = (
                        _failed(entry, when)
                        if decision.action == "failed"
                        else entry.with_changes(status=decision.action)
                    )
                report.decisions.append(decision)
                continue
            lines = by_recipe.get(outcome.name, [])
            decision.platforms = {ln.environment: ln.status for ln in lines}
            if not lines or all(ln.status == "skipped" for ln in lines):
                decision.action = "not_validated"
                decision.reasons.append("no validation result for this batch: run validate first")
                report.decisions.append(decision)
                continue
            outcomes_by_platform, distro_failures = combine_environment_outcomes(
                (ln.environment, ln.platform, ln.status) for ln in lines
            )
            constraint = derive_constraints(outcomes_by_platform)
            decision.reasons += list(distro_failures)
            failing = [ln for ln in lines if ln.status == "fail"]
            for line in failing:
                failures[(ecosystem, line.platform)].append(
                    NewFailure(
                        name=outcome.name,
                        package_id=outcome.source,
                        category=line.category or "install_failed",
                        subcategory=line.subcategory or "unclassified",
                        message=line.message,
                        exit_code=line.exit_code,
                        batch_id=batch_id,
                    )
                )
            if constraint.excluded:
                first = failing[0] if failing else None
                decision.action = "failed"
                decision.category = first.category or "" if first else ""
                decision.subcategory = first.subcategory or "" if first else ""
                decision.reasons += list(constraint.reasons)
                votes[ecosystem].append(False)
                if entry is not None:
                    new_entries[entry.name.lower()] = _failed(entry, when)
                report.decisions.append(decision)
                continue
            votes[ecosystem].append(True)
            staged_text = staging.recipe_path(outcome.name).read_text(encoding="utf-8")
            doc = load_recipe_text(staged_text, path=str(staging.recipe_path(outcome.name)))
            apply_constraints(doc, constraint)
            final_text = dump_recipe(doc)
            decision.constraints = constraint.fields.as_metadata()
            decision.reasons += list(constraint.reasons)
            gate = evaluate_gates(
                Candidate(
                    name=outcome.name,
                    source=outcome.source,
                    recipe=tomllib.loads(final_text),
                    recipe_text=final_text,
                    first_release=parse_timestamp(outcome.first_release)
                    if outcome.first_release
                    else None,
                    downloads=outcome.downloads,
                    is_new=outcome.name not in existing,
                ),
                context,
            )
            if not gate.auto_merge:
                decision.action = "held"
                decision.reasons = list(gate.reasons) + decision.reasons
                if entry is not None:
                    new_entries[entry.name.lower()] = entry.with_changes(status="requires_manual")
                report.decisions.append(decision)
                continue
            target = layout.recipe_path(outcome.name)
            writer.before(target)
            atomic_write_text(target, final_text)
            writer.after(target)
            decision.action = "merged"
            merged.append(outcome.name)
            if entry is not None:
                new_entries[entry.name.lower()] = entry.with_changes(
                    status="success", failure_count=0, next_retry_at=None
                )
            report.decisions.append(decision)

        # Entries no rerun can ever build leave the selectable statuses, reason recorded.
        impossible = plan_exclusions(
            [e for e in queue.entries if e.name.lower() not in new_entries]
        )
        for item in impossible:
            new_entries[item.entry.name.lower()] = item.updated
            report.impossible.append(
                f"{item.entry.name}: {item.reason.status}/{item.reason.subcategory}"
            )
        for eco, items in failure_groups(impossible, batch_id).items():
            failures[(eco, MAINTENANCE_ENVIRONMENT)].extend(items)
        # Failure records, one envelope per (ecosystem, environment).
        for (ecosystem, environment), items in sorted(failures.items()):
            path = next_failure_path(layout, ecosystem, when)
            writer.before(path)  # "absent before": rollback removes it
            write_failures(layout, ecosystem, environment, items, when, path=path)
            writer.after(path)
        # Queue transitions.
        updated_queue = queue.with_entries(
            new_entries.get(e.name.lower(), e) for e in queue.entries
        )
        for e in queue.entries:
            if e.name.lower() in new_entries:
                writer.manifest = mf.record_queue_change(
                    writer.manifest, e, new_entries[e.name.lower()]
                )
        save_queue(layout.queue, updated_queue, previous=queue)
        # Circuit breakers: one vote per item whose outcome says something about the ecosystem.
        config = breaker_config or BreakerConfig()

        def vote(control: Any) -> Any:
            for eco, results_of_eco in sorted(votes.items()):
                if _voted(control, eco, batch_id):
                    continue  # landed before this run was killed: never count a vote twice
                for success in results_of_eco:
                    control = record_outcome(control, eco, success, when, config)
                control = _mark_voted(control, eco, batch_id)
            return control

        if votes:
            update_control(layout, vote)
        # Metrics count real outcomes: generation, validation per environment, merge.
        metrics_path = layout.metrics_dir / f"batch-runs-{batch_id}.jsonl"
        writer.before(metrics_path)
        _write_metrics(
            layout,
            metrics_path,
            batch_id,
            outcomes,
            results,
            report,
            when,
            time.monotonic() - started,
        )
        writer.after(metrics_path)
        if requeue and merged:
            from automation.learn.requeue import requeue_for_merged

            requeued = requeue_for_merged(layout, merged, lock=False, now=when)
            report.requeued = sorted(c.name for c in requeued.plan.changes)
        writer.after(layout.queue)
        writer.manifest = mf.save_manifest(layout, writer.manifest.with_status("merged"))
    report.seconds = time.monotonic() - started
    return report


def _write_metrics(
    layout: RegistryLayout,
    path: Path,
    batch_id: str,
    outcomes: list[GenerationOutcome],
    results: dict[tuple[str, str], ResultLine],
    report: MergeReport,
    when: datetime,
    seconds: float,
) -> Path:
    per_env: dict[str, Counter[str]] = defaultdict(Counter)
    for line in results.values():
        per_env[line.platform][line.status] += 1
    platforms = tuple(
        PlatformCounts(bucket, c["pass"] + c["fail"], c["pass"], c["fail"])
        for bucket, c in sorted(per_env.items())
    )
    ecosystems = Counter(o.source.split(":", 1)[0] for o in outcomes)
    counts = report.counts
    record = MetricsRecord(
        batch_id=batch_id,
        ecosystems=tuple(sorted(ecosystems.items())),
        total=len(outcomes),
        generated=sum(1 for o in outcomes if o.status == "generated"),
        platforms=platforms,
        merged=counts["merged"],
        excluded=counts["excluded"] + counts["held"],
        constrained=sum(1 for d in report.decisions if d.action == "merged" and d.constraints),
        timestamp=format_timestamp(when),
        duration_seconds=round(seconds, 3),
        generation=GenerationCounts(
            attempted=len(outcomes),
            succeeded=sum(1 for o in outcomes if o.status == "generated"),
            failed=sum(1 for o in outcomes if o.status == "failed" and not o.blocked_by),
            blocked=sum(1 for o in outcomes if o.blocked_by),
        ),
    )
    if path.exists():
        raise DataError("metrics for this batch already exist", path=str(path))
    return write_metrics_record(layout, record, path=path)
