"""Rollback: restore every file a batch changed, from its manifest, byte for byte.

A merged batch: a file nobody touched since the batch (its digest equals the manifest's "after")
is restored exactly. A file edited since then is not overwritten blindly: for the queue, only the
entries the batch changed are put back (other writers' changes survive); any other file is
reported as a conflict and left alone unless ``force`` is given.

A batch whose merge was interrupted (``in_progress``): the files holding what the merge wrote are
put back; files it had not reached yet are already as they were; a file somebody changed since
(an operator's repair) is left as found unless ``force``. The batch is then ``rolled_back``: its
entries are free for the next generate. What will be restored is announced before the first write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automation.core.atomic import registry_lock
from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.registry import manifest as mf
from automation.registry.queue import Queue, load_queue, save_queue

Announce = Callable[[str], None]


@dataclass
class RollbackReport:
    batch_id: str
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    queue_entries_restored: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    already_rolled_back: bool = False

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.conflicts else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "already_rolled_back": self.already_rolled_back,
            "restored": self.restored,
            "deleted": self.deleted,
            "queue_entries_restored": self.queue_entries_restored,
            "conflicts": self.conflicts,
        }

    def to_text(self) -> str:
        if self.already_rolled_back:
            return f"batch {self.batch_id} was already rolled back"
        lines = [
            f"rolled back batch {self.batch_id}: {len(self.restored)} files restored, "
            f"{len(self.deleted)} removed, {len(self.queue_entries_restored)} queue entries"
        ]
        lines += [f"  restored {p}" for p in self.restored]
        lines += [f"  removed  {p}" for p in self.deleted]
        lines += [f"  CONFLICT {c}" for c in self.conflicts]
        return "\n".join(lines)


def _queue_with_entries_restored(
    layout: RegistryLayout, manifest: mf.BatchManifest, report: RollbackReport
) -> tuple[Queue, Queue] | None:
    """The queue was edited since a merged batch: the queue with only the entries the batch
    changed put back, and the queue as read (None when there is nothing to put back). Reads
    only, so a queue that fails its checks stops the rollback before its first write."""
    if not manifest.queue_changes or not layout.queue.exists():
        return None
    queue = load_queue(layout.queue)
    before_by_name = {c.name.lower(): c.before for c in manifest.queue_changes}
    entries = []
    for entry in queue.entries:
        key = entry.name.lower()
        if key not in before_by_name:
            entries.append(entry)
            continue
        restored = before_by_name[key]
        if restored is not None:
            entries.append(restored)
        report.queue_entries_restored.append(entry.name)  # None: added by the batch, dropped
    return queue.with_entries(entries), queue


def _record_plan(
    layout: RegistryLayout, plan: mf.RestorePlan, report: RollbackReport, *, merged: bool
) -> None:
    queue_rel = layout.queue.relative_to(layout.root).as_posix()
    for step in plan.steps:
        if step.action == "restore":
            report.restored.append(step.path)
        elif step.action == "remove":
            report.deleted.append(step.path)
        elif not (merged and step.path == queue_rel):  # a merged batch's queue: entry by entry
            report.conflicts.append(f"{step.path}: {step.why}")


def rollback_batch(
    layout: RegistryLayout,
    batch_id: str,
    *,
    force: bool = False,
    announce: Announce | None = None,
) -> RollbackReport:
    """Undo a merged batch, or the partial apply of an interrupted one (idempotent: a second
    rollback changes nothing). ``announce`` receives what will be restored before any write."""
    report = RollbackReport(batch_id)
    with registry_lock(layout.lock_file):
        manifest = mf.load_manifest(layout, batch_id)
        if manifest.status == "rolled_back":
            report.already_rolled_back = True
            return report
        if manifest.status not in ("merged", "in_progress"):
            raise UsageError(f"batch {batch_id} is {manifest.status}; it cannot be rolled back")
        plan = mf.plan_restore(layout, manifest, force=force)
        merged = manifest.status == "merged"
        queue_rel = layout.queue.relative_to(layout.root).as_posix()
        queue_entries = None
        if merged and queue_rel in plan.paths("conflict"):
            queue_entries = _queue_with_entries_restored(layout, manifest, report)
        if announce is not None:
            announce(plan.to_text())
        mf.apply_restore(layout, manifest, plan)
        if queue_entries is not None:
            save_queue(layout.queue, queue_entries[0], previous=queue_entries[1])
        _record_plan(layout, plan, report, merged=merged)
        mf.save_manifest(layout, manifest.with_status("rolled_back"))
    return report
