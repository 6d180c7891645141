"""Queue housekeeping: entries no rerun can ever build, and litter a killed writer left behind.

Structurally impossible entries (reference §4.2, §4.5): the reference kept them ``pending`` and
spent a queue slot on each, every hour, forever. Here they leave the selectable statuses with the
reason recorded as a failure record (the queue has no reason field), category and a specific
subcategory:

============================  ===============  ===================  ============================
case                          status           category             subcategory
============================  ===============  ===================  ============================
Homebrew tap name (``a/b/c``)  excluded         recipe_not_found     ``tap_name``
no builder for the prefix      excluded         recipe_not_found     ``unsupported_ecosystem``
source without a prefix        requires_manual  recipe_not_found     ``no_source_prefix``
LLM-only source (see below)    requires_manual  generation_failed    ``llm_only_source``
``manual:`` source             requires_manual  recipe_not_found     ``manual_source``
history: bottle-less formula   excluded         generation_failed    ``no_bottles``
history: disabled formula      excluded         recipe_not_found     ``formula_disabled``
history: library only          excluded         generation_failed    ``library_only``
============================  ===============  ===================  ============================

"No builder" means no adapter in this kit (``automation/adapters/``); tsuku's LLM-only
``github`` builder counts as LLM-only only while the kit has no deterministic ``github`` adapter.
"history" cases come from the entry's failure records (a specific subcategory, or the reference's
message text: "no bottles available", ``[library_only]``); only ``invoke exclude-impossible``
reads them. ``merge`` applies the queue-only cases to every selectable entry automatically, inside
the batch (recorded in its manifest, so rollback restores them).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core.atomic import registry_lock
from automation.core.ecosystem_facts import all_facts, facts_for, normalise_ecosystem, refusal_for
from automation.core.errors import ExitCode
from automation.core.layout import RegistryLayout
from automation.core.timefmt import now as utc_now
from automation.registry.control import check_allowed_now
from automation.registry.failures import FailureRecord, NewFailure, iter_failures, write_failures
from automation.registry.queue import QueueEntry, load_queue, save_queue

SELECTABLE = ("pending", "failed")
ENVIRONMENT = "queue-maintenance"  # the failure envelope's environment for these records


@dataclass(frozen=True, slots=True)
class Impossible:
    """Why an entry can never be built deterministically, and where it goes."""

    status: str  # excluded | requires_manual
    category: str
    subcategory: str
    message: str


def buildable_ecosystems() -> frozenset[str]:
    """Ecosystems this kit has a deterministic builder for (its adapters)."""
    from automation.ecosystems import adapters

    try:
        return frozenset(adapters())
    except Exception:  # a broken adapter module must not stop housekeeping: tsuku's own set
        return frozenset(f.name for f in all_facts() if f.buildable and not f.llm_only_upstream)


def impossible_from_source(
    entry: QueueEntry, buildable: frozenset[str] | None = None
) -> Impossible | None:
    """The cases the queue entry alone proves (no failure history needed)."""
    buildable = buildable_ecosystems() if buildable is None else buildable
    if ":" not in entry.source:
        return Impossible(
            "requires_manual",
            "recipe_not_found",
            "no_source_prefix",
            f"source {entry.source!r} has no <ecosystem>: prefix; a human must choose one",
        )
    prefix, identifier = entry.source.split(":", 1)
    ecosystem = normalise_ecosystem(prefix)
    facts = facts_for(ecosystem)
    if facts is not None and facts.manual_reason:
        return Impossible(
            "requires_manual", "recipe_not_found", "manual_source", facts.manual_reason
        )
    if facts is not None and facts.llm_only_upstream and ecosystem not in buildable:
        return Impossible(
            "requires_manual",
            "generation_failed",
            "llm_only_source",
            f"{ecosystem} sources need the LLM builder; no deterministic builder handles them",
        )
    if ecosystem not in buildable:
        return Impossible(
            "excluded",
            "recipe_not_found",
            "unsupported_ecosystem",
            f"no deterministic builder for ecosystem {ecosystem!r}",
        )
    refusal = refusal_for(ecosystem, identifier, entry.name)
    if refusal is not None:
        return Impossible("excluded", "recipe_not_found", refusal.subcategory, refusal.message)
    return None


_HISTORY: dict[str, Impossible] = {
    "no_bottles": Impossible(
        "excluded", "generation_failed", "no_bottles", "the formula has no bottles to install"
    ),
    "formula_disabled": Impossible(
        "excluded", "recipe_not_found", "formula_disabled", "the formula is disabled upstream"
    ),
    "library_only": Impossible(
        "excluded",
        "generation_failed",
        "library_only",
        "the package ships no executables (library only) where a tool is expected",
    ),
}
_SUBCATEGORY_ALIASES = {
    "no_bottles": "no_bottles",
    "disabled": "formula_disabled",
    "formula_disabled": "formula_disabled",
    "library_only": "library_only",
    "no_executables": "library_only",
}
_MESSAGE_PATTERNS = (
    (re.compile(r"no bottles? (available|found)", re.IGNORECASE), "no_bottles"),
    (re.compile(r"\[library_only\]"), "library_only"),
    (re.compile(r"formula .{0,80}is disabled", re.IGNORECASE), "formula_disabled"),
)


def impossible_from_record(record: FailureRecord) -> Impossible | None:
    """A structural case one failure record proves (specific subcategory or reference text)."""
    if record.subcategory and record.subcategory in _SUBCATEGORY_ALIASES:
        return _HISTORY[_SUBCATEGORY_ALIASES[record.subcategory]]
    for pattern, key in _MESSAGE_PATTERNS:
        if pattern.search(record.message):
            return _HISTORY[key]
    return None


def impossible_from_history(records: Iterable[FailureRecord]) -> dict[str, Impossible]:
    """Entry key -> structural case, from the latest record per package that has one.

    Keys are lowercased names and package ids (records carry both; the reference's bridge keyed
    by identifier only and missed renamed entries, §4.2).
    """
    found: dict[str, Impossible] = {}
    for record in records:  # file-name then line order: later records win
        reason = impossible_from_record(record)
        if reason is None:
            continue
        found[record.name.lower()] = reason
        if record.package_id:
            found[record.package_id.lower()] = reason
    return found


def classify(
    entry: QueueEntry,
    history: dict[str, Impossible] | None = None,
    buildable: frozenset[str] | None = None,
) -> Impossible | None:
    """Why ``entry`` can never be built (None if it can), for selectable entries only."""
    if entry.status not in SELECTABLE:
        return None
    reason = impossible_from_source(entry, buildable)
    if reason is None and history:
        reason = history.get(entry.source.lower()) or history.get(entry.name.lower())
    return reason


@dataclass(frozen=True, slots=True)
class Exclusion:
    entry: QueueEntry
    reason: Impossible

    def failure(self, batch_id: str | None = None) -> NewFailure:
        return NewFailure(
            name=self.entry.name,
            package_id=self.entry.source,
            category=self.reason.category,
            subcategory=self.reason.subcategory,
            message=self.reason.message,
            batch_id=batch_id,
        )

    @property
    def updated(self) -> QueueEntry:
        return self.entry.with_changes(status=self.reason.status, next_retry_at=None)


def plan_exclusions(
    entries: Sequence[QueueEntry], history: dict[str, Impossible] | None = None
) -> list[Exclusion]:
    """Every selectable entry that can never be built, in queue order."""
    buildable = buildable_ecosystems()
    out = []
    for entry in entries:
        reason = classify(entry, history, buildable)
        if reason is not None:
            out.append(Exclusion(entry, reason))
    return out


def failure_groups(
    exclusions: Iterable[Exclusion], batch_id: str | None = None
) -> dict[str, list[NewFailure]]:
    """Failure records per ecosystem (one envelope each); entries without a prefix are left out
    (a record needs ``<ecosystem>:<identifier>``)."""
    groups: dict[str, list[NewFailure]] = defaultdict(list)
    for item in exclusions:
        if ":" in item.entry.source:
            ecosystem = normalise_ecosystem(item.entry.source.split(":", 1)[0])
            groups[ecosystem].append(item.failure(batch_id))
    return dict(sorted(groups.items()))


@dataclass
class ExclusionReport:
    dry_run: bool
    exclusions: list[Exclusion] = field(default_factory=list)
    failure_files: list[str] = field(default_factory=list)
    records_skipped_existing: int = 0
    seconds: float = 0.0

    @property
    def counts(self) -> Counter[str]:
        return Counter(f"{e.reason.status}/{e.reason.subcategory}" for e in self.exclusions)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "total": len(self.exclusions),
            "counts": dict(sorted(self.counts.items())),
            "failure_files": self.failure_files,
            "records_skipped_existing": self.records_skipped_existing,
            "seconds": round(self.seconds, 3),
            "entries": [
                {
                    "name": e.entry.name,
                    "source": e.entry.source,
                    "status": e.reason.status,
                    "category": e.reason.category,
                    "subcategory": e.reason.subcategory,
                    "message": e.reason.message,
                }
                for e in self.exclusions
            ],
        }

    def to_text(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        lines = [f"{verb} {len(self.exclusions)} structurally impossible queue entries"]
        lines += [f"  {n:6} {key}" for key, n in sorted(self.counts.items())]
        for e in self.exclusions[:20]:
            lines.append(f"  {e.reason.status:15} {e.entry.name:30} {e.reason.subcategory}")
        if len(self.exclusions) > 20:
            lines.append(f"  ... and {len(self.exclusions) - 20} more (--json lists all)")
        lines += [f"  wrote {path}" for path in self.failure_files]
        return "\n".join(lines)


def exclude_impossible(
    layout: RegistryLayout,
    *,
    dry_run: bool = False,
    history: bool = True,
    now: datetime | None = None,
    lock_wait: float | None = None,
) -> ExclusionReport:
    """Mark every structurally impossible selectable entry ``excluded``/``requires_manual``.

    Crash-safe and idempotent: the failure records are written first, the queue second; a rerun
    after a kill between the two finds the records already there and writes no duplicates.
    """
    started = time.monotonic()
    when = now or utc_now()
    report = ExclusionReport(dry_run)
    if not dry_run:
        check_allowed_now(layout, None)
    records = list(iter_failures(layout)) if history else []
    known = impossible_from_history(records) if history else None
    if dry_run:
        report.exclusions = plan_exclusions(load_queue(layout.queue).entries, known)
        report.seconds = time.monotonic() - started
        return report
    with registry_lock(layout.lock_file, timeout=lock_wait):
        queue = load_queue(layout.queue)  # re-read under the lock
        report.exclusions = plan_exclusions(queue.entries, known)
        recorded = {(r.package_id or "", r.subcategory or "") for r in records if r.package_id}
        for ecosystem, items in failure_groups(report.exclusions).items():
            fresh = [f for f in items if (f.package_id, f.subcategory) not in recorded]
            report.records_skipped_existing += len(items) - len(fresh)
            path = write_failures(layout, ecosystem, ENVIRONMENT, fresh, when)
            if path is not None:
                report.failure_files.append(str(path.relative_to(layout.root)))
        changed = {e.entry.name.lower(): e.updated for e in report.exclusions}
        if changed:
            save_queue(
                layout.queue,
                queue.with_entries(changed.get(e.name.lower(), e) for e in queue.entries),
                previous=queue,
            )
    report.seconds = time.monotonic() - started
    return report


# --- litter -----------------------------------------------------------------------------------


def sweep_temp_files(directories: Iterable[Path], *, older_than: float = 0.0) -> list[Path]:
    """Remove ``.<name>.<random>.tmp`` files that a killed atomic write left behind.

    Call only while holding the lock of every writer of these directories (then no temp file
    there belongs to a live writer); ``older_than`` seconds spares younger ones otherwise.
    """
    removed = []
    cutoff = time.time() - older_than
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in directory.glob(".*.tmp"):
            try:
                if path.is_file() and path.stat().st_mtime <= cutoff:
                    os.unlink(path)
                    removed.append(path)
            except FileNotFoundError:
                continue
    return removed


def merge_owned_dirs(layout: RegistryLayout) -> list[Path]:
    """The directories only registry-lock holders write (merge, seed, requeue, rollback)."""
    dirs = [
        layout.queue.parent,
        layout.failures_dir,
        layout.metrics_dir,
        layout.batches_dir,
    ]
    if layout.recipes_dir.is_dir():
        dirs += sorted(p for p in layout.recipes_dir.iterdir() if p.is_dir() and len(p.name) == 1)
    return dirs
