"""Requeue blocked entries whose blockers now have recipes (``invoke requeue``).

Rules (the reference requeued on exact names only and left dep-less entries blocked forever):

* A ``blocked`` entry's blockers are its *current* blockers (``blockers.current_blockers``).
  It goes back to ``pending`` (``next_retry_at`` cleared, ``failure_count`` kept) once **every**
  blocker is satisfied by a recipe whose identity matches (``blockers.RecipeIdentity.match``:
  satisfies, source, alias, dep mapping, or same name from a related source).
* A ``blocked`` entry with **no recorded dependency** (tsuku reported ``missing_dep`` or
  ``recipe_not_found`` without a list) becomes ``failed`` with ``failure_count + 1`` and a backoff
  of ``min(2^(n-1) h, 7 d)``: selection retries ``failed`` entries once the backoff passes, so the
  entry is not stuck, but an entry that keeps coming back without information costs one batch slot
  per backoff period instead of one per run. Only whole-queue runs do this (not ``--dep`` or the
  merge hook, which are about specific dependencies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from automation.core.atomic import registry_lock
from automation.core.errors import ExitCode
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp
from automation.core.timefmt import now as utc_now
from automation.learn import blockers as bl
from automation.learn.gaps import load_inputs
from automation.registry.queue import Queue, QueueEntry, load_queue, save_queue

MAX_BACKOFF_HOURS = 168
NO_DEPS_REASON = "blocked without recorded dependencies: retry after backoff"


def backoff(failure_count: int) -> timedelta:
    """``min(2^(n-1) h, 7 d)`` with an integer exponent clamp (no float overflow)."""
    exponent = min(max(failure_count - 1, 0), 8)  # 2^8 h > 7 d already
    return timedelta(hours=min(2**exponent, MAX_BACKOFF_HOURS))


@dataclass(frozen=True, slots=True)
class RequeueChange:
    name: str
    old_status: str
    new_status: str
    reason: str
    satisfied: tuple[str, ...] = ()  # "homebrew:gmp <- gmp (satisfies)"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from": self.old_status,
            "to": self.new_status,
            "reason": self.reason,
            "satisfied": list(self.satisfied),
        }


@dataclass(frozen=True, slots=True)
class StillBlocked:
    name: str
    missing: tuple[str, ...]
    satisfied: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "missing": list(self.missing), "satisfied": list(self.satisfied)}


@dataclass(frozen=True)
class RequeuePlan:
    queue: Queue
    changes: tuple[RequeueChange, ...]
    still_blocked: tuple[StillBlocked, ...]


def _mentions(dep: bl.Dependency, wanted: str, identities: bl.IdentityIndex) -> bool:
    wanted = wanted.lower()
    return wanted in (dep.name.lower(), dep.id.lower(), identities.mapped(dep.name))


def plan_requeue(
    queue: Queue,
    blockers: Mapping[str, bl.PackageBlockers],
    identities: bl.IdentityIndex,
    *,
    now: datetime,
    dependency: str | None = None,
    merged: Iterable[str] | None = None,
) -> RequeuePlan:
    """Decide which ``blocked`` entries change status (pure).

    ``blockers`` maps lowercased entry names to their current blockers. ``dependency`` limits the
    run to entries recording that dependency (by recorded name, ``eco:name`` or mapped name);
    ``merged`` limits it to entries one of whose blockers is satisfied by one of those recipes.
    Either limit leaves entries without recorded dependencies alone.
    """
    merged_names = {m.lower() for m in merged} if merged is not None else None
    limited = dependency is not None or merged_names is not None
    changes: list[RequeueChange] = []
    still: list[StillBlocked] = []
    entries: list[QueueEntry] = []
    for entry in queue.entries:
        if entry.status != "blocked":
            entries.append(entry)
            continue
        current = blockers.get(entry.name.lower())
        deps = current.dependencies if current else ()
        if not deps:
            if limited:
                entries.append(entry)
                continue
            count = entry.failure_count + 1
            entries.append(
                entry.with_changes(
                    status="failed",
                    failure_count=count,
                    next_retry_at=format_timestamp(now + backoff(count)),
                )
            )
            changes.append(RequeueChange(entry.name, "blocked", "failed", NO_DEPS_REASON))
            continue
        found = {dep: identities.satisfier(dep) for dep in deps}
        if dependency is not None and not any(_mentions(d, dependency, identities) for d in deps):
            entries.append(entry)
            continue
        if merged_names is not None and not any(
            s is not None and s.recipe in merged_names for s in found.values()
        ):
            entries.append(entry)
            continue
        satisfied = tuple(
            f"{d.id} <- {s.recipe} ({s.how})" for d, s in sorted(found.items()) if s is not None
        )
        missing = tuple(d.id for d, s in sorted(found.items()) if s is None)
        if missing:
            still.append(StillBlocked(entry.name, missing, satisfied))
            entries.append(entry)
            continue
        entries.append(entry.with_changes(status="pending", next_retry_at=None))
        changes.append(
            RequeueChange(entry.name, "blocked", "pending", "every blocker has a recipe", satisfied)
        )
    return RequeuePlan(queue.with_entries(entries), tuple(changes), tuple(still))


@dataclass(frozen=True)
class RequeueReport:
    plan: RequeuePlan
    dry_run: bool
    written: bool
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "written": self.written,
            "changes": [c.to_json() for c in self.plan.changes],
            "still_blocked": [s.to_json() for s in self.plan.still_blocked],
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        lines = [f"Requeue: {verb} {len(self.plan.changes)} entries"]
        for c in self.plan.changes:
            lines.append(f"  {c.name}: {c.old_status} -> {c.new_status} ({c.reason})")
            lines += [f"      {s}" for s in c.satisfied]
        if self.plan.still_blocked:
            lines.append(f"Still blocked: {len(self.plan.still_blocked)}")
            for s in self.plan.still_blocked:
                lines.append(f"  {s.name}: missing {', '.join(s.missing)}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _run(
    layout: RegistryLayout,
    *,
    dependency: str | None,
    merged: Iterable[str] | None,
    dry_run: bool,
    lock: bool,
    now: datetime | None,
    index_path: Path | str | None,
) -> RequeueReport:
    inputs = load_inputs(layout, index_path=index_path)
    notes = []
    merged_list = sorted({m.lower() for m in merged}) if merged is not None else None
    if merged_list is not None:
        known = {r.name for r in inputs.identities.recipes}
        absent = [m for m in merged_list if m not in known]
        if absent:
            notes.append("merged recipes not found on disk: " + ", ".join(absent))
    current = inputs.current

    def plan(queue: Queue) -> RequeuePlan:
        return plan_requeue(
            queue,
            current.by_entry,
            inputs.identities,
            now=now or utc_now(),
            dependency=dependency,
            merged=merged_list,
        )

    if dry_run:
        return RequeueReport(plan(inputs.queue), dry_run=True, written=False, notes=tuple(notes))
    if lock:
        with registry_lock(layout.lock_file):
            return _apply(layout, plan, notes)
    return _apply(layout, plan, notes)


def _apply(layout: RegistryLayout, plan: Any, notes: list[str]) -> RequeueReport:
    queue = load_queue(layout.queue)  # re-read under the lock: another writer may have finished
    result: RequeuePlan = plan(queue)
    written = bool(result.changes)
    if written:
        save_queue(layout.queue, result.queue, previous=queue)
    return RequeueReport(result, dry_run=False, written=written, notes=tuple(notes))


def requeue(
    root: str | Path,
    *,
    dependency: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    index_path: Path | str | None = "default",
) -> RequeueReport:
    """Requeue blocked entries whose blockers are satisfied; save atomically under the lock."""
    layout = RegistryLayout.at(root)
    if not dry_run:
        from automation.registry.control import check_allowed_now

        check_allowed_now(layout, None)  # emergency stop: exit 5 before the write
    return _run(
        layout,
        dependency=dependency,
        merged=None,
        dry_run=dry_run,
        lock=True,
        now=now,
        index_path=index_path,
    )


def requeue_for_merged(
    layout: RegistryLayout,
    merged_recipe_names: Iterable[str],
    *,
    lock: bool = True,
    now: datetime | None = None,
    index_path: Path | str | None = "default",
) -> RequeueReport:
    """After a merge: requeue entries one of whose blockers a just-merged recipe satisfies.

    Pass ``lock=False`` when the caller already holds ``registry_lock(layout.lock_file)``.
    """
    return _run(
        layout,
        dependency=None,
        merged=list(merged_recipe_names),
        dry_run=False,
        lock=lock,
        now=now,
        index_path=index_path,
    )
