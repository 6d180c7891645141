"""Reorder the queue by blocking impact within each priority tier (``invoke reorder``).

Order: priority ascending; then blocking impact (the entry's weighted transitive value as a
missing dependency, ``blockers.BlockerAnalysis.impact``) descending; then popularity percentile
descending; then name ascending. Two deliberate differences from the reference (§3.10):

* when there is no popularity side file, the name tie-break is skipped and the sort is stable, so
  the existing file order (seeding's popularity order) survives among equals instead of being
  replaced by alphabetical order;
* the sort is idempotent, and an unchanged order is not written (``save_queue`` keeps the file
  and its ``updated_at`` when the entries are equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core.atomic import registry_lock
from automation.core.errors import ExitCode
from automation.core.layout import RegistryLayout
from automation.learn import blockers as bl
from automation.learn.gaps import analyse, load_inputs
from automation.registry.queue import Queue, QueueEntry, load_queue, save_queue

SHOWN = 20


def plan_reorder(
    queue: Queue, analysis: bl.BlockerAnalysis, popularity: Mapping[str, bl.Popularity]
) -> Queue:
    """The queue in impact order (pure, stable, idempotent)."""
    impacts = {b.key: b.weighted for b in analysis.blockers}
    pop = {k.lower(): v.percentile for k, v in popularity.items() if v.percentile is not None}

    def key(entry: QueueEntry) -> tuple[Any, ...]:
        name = entry.name.lower()
        base: tuple[Any, ...] = (entry.priority, -round(impacts.get(name, 0.0), 6))
        if not pop:
            return base
        return (*base, -pop.get(name, -1.0), name)

    return queue.with_entries(sorted(queue.entries, key=key))


@dataclass(frozen=True, slots=True)
class Move:
    name: str
    old: int
    new: int
    impact: float


@dataclass(frozen=True)
class ReorderReport:
    moves: tuple[Move, ...]
    entries: int
    dry_run: bool
    written: bool
    tie_break: str

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "moved": len(self.moves),
            "dry_run": self.dry_run,
            "written": self.written,
            "tie_break": self.tie_break,
            "moves": [
                {"name": m.name, "from": m.old, "to": m.new, "impact": round(m.impact, 3)}
                for m in self.moves
            ],
        }

    def to_text(self) -> str:
        state = "dry run" if self.dry_run else ("written" if self.written else "unchanged")
        lines = [
            f"Reorder: {len(self.moves)} of {self.entries} entries move ({state}; "
            f"ties: {self.tie_break})"
        ]
        for m in sorted(self.moves, key=lambda m: m.new)[:SHOWN]:
            lines.append(f"  {m.name}: {m.old} -> {m.new} (impact {m.impact:.1f})")
        if len(self.moves) > SHOWN:
            lines.append(f"  ... and {len(self.moves) - SHOWN} more")
        return "\n".join(lines)


def _moves(old: Queue, new: Queue, analysis: bl.BlockerAnalysis) -> tuple[Move, ...]:
    before = {e.name: i for i, e in enumerate(old.entries)}
    return tuple(
        Move(e.name, before[e.name], i, analysis.impact(e.name))
        for i, e in enumerate(new.entries)
        if before[e.name] != i
    )


def reorder(
    root: str | Path, *, dry_run: bool = False, index_path: Path | str | None = "default"
) -> ReorderReport:
    """Sort the queue file by impact; write it atomically under the lock only if order changed."""
    layout = RegistryLayout.at(root)
    inputs = load_inputs(layout, index_path=index_path)
    _, analysis = analyse(inputs)
    tie_break = "popularity, then name" if inputs.popularity else "current file order"

    def report(queue: Queue, written: bool) -> ReorderReport:
        planned = plan_reorder(queue, analysis, inputs.popularity)
        return ReorderReport(
            _moves(queue, planned, analysis), len(queue.entries), dry_run, written, tie_break
        )

    if dry_run:
        return report(inputs.queue, False)
    from automation.registry.control import check_allowed_now

    check_allowed_now(layout, None)  # emergency stop: exit 5 before the write
    with registry_lock(layout.lock_file):
        queue = load_queue(layout.queue)
        planned = plan_reorder(queue, analysis, inputs.popularity)
        changed = planned.entries != queue.entries
        if changed:
            save_queue(layout.queue, planned, previous=queue)
        return report(queue, changed)
