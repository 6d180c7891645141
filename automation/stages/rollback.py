"""Rollback: restore every file a merged batch changed, from its manifest, byte for byte.

A file nobody touched since the batch (its digest equals the manifest's "after") is restored
exactly. A file edited since then is not overwritten blindly: for the queue, only the entries the
batch changed are put back (other writers' changes survive); any other file is reported as a
conflict and left alone unless ``force`` is given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from automation.core.atomic import atomic_write_bytes, registry_lock
from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.registry import manifest as mf
from automation.registry.queue import load_queue, save_queue


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


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def rollback_batch(layout: RegistryLayout, batch_id: str, *, force: bool = False) -> RollbackReport:
    """Undo a merged batch (idempotent: a second rollback changes nothing)."""
    report = RollbackReport(batch_id)
    with registry_lock(layout.lock_file):
        manifest = mf.load_manifest(layout, batch_id)
        if manifest.status == "rolled_back":
            report.already_rolled_back = True
            return report
        if manifest.status != "merged":
            raise UsageError(
                f"batch {batch_id} is {manifest.status}; only a merged batch rolls back"
                " (an interrupted merge is undone by running merge again)"
            )
        queue_rel = layout.queue.relative_to(layout.root).as_posix()
        for change in manifest.files:
            _, path = mf.safe_rel_path(layout, change.path)
            current = path.read_bytes() if path.exists() else None
            after = change.after.sha256 if change.after and change.after.exists else None
            untouched = _digest(current) == after
            before = change.before_bytes()
            if not untouched and not force:
                if change.path == queue_rel:
                    continue  # handled entry by entry below
                report.conflicts.append(f"{change.path}: changed since the batch; left as it is")
                continue
            if before is None:
                if current is not None:
                    path.unlink()
                    report.deleted.append(change.path)
            elif current != before:
                atomic_write_bytes(path, before)
                report.restored.append(change.path)
        queue_change = manifest.file(queue_rel)
        if queue_change is not None and queue_rel not in report.restored and manifest.queue_changes:
            queue = load_queue(layout.queue)
            if (
                queue_change.after
                and _digest(layout.queue.read_bytes()) != queue_change.after.sha256
            ):
                before_by_name = {c.name.lower(): c.before for c in manifest.queue_changes}
                entries = []
                for entry in queue.entries:
                    key = entry.name.lower()
                    if key in before_by_name and before_by_name[key] is not None:
                        restored = before_by_name[key]
                        assert restored is not None
                        entries.append(restored)
                        report.queue_entries_restored.append(entry.name)
                    elif key in before_by_name:
                        report.queue_entries_restored.append(entry.name)  # added by the batch
                    else:
                        entries.append(entry)
                save_queue(layout.queue, queue.with_entries(entries), previous=queue)
        mf.save_manifest(layout, manifest.with_status("rolled_back"))
    return report
