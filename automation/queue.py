"""The priority queue (``data/queues/priority-queue.json``): live shape, legacy read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from automation import schemas
from automation.atomic import atomic_write_json
from automation.ecosystems import normalise_ecosystem, split_source
from automation.errors import DataError
from automation.report import Problem
from automation.timefmt import format_timestamp, now, parse_timestamp

STATUSES = ("pending", "success", "failed", "blocked", "requires_manual", "excluded")
CONFIDENCES = ("auto", "curated")
# Legacy (Phase-0 `packages[]`) statuses and how they read today.
LEGACY_STATUS = {
    "pending": "pending",
    "in_progress": "pending",
    "success": "success",
    "failed": "failed",
    "blocked": "blocked",
    "skipped": "excluded",
}


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One queue entry, exactly the reference's 8 keys. Timestamps stay as written."""

    name: str
    source: str
    priority: int
    status: str
    confidence: str
    disambiguated_at: str | None
    failure_count: int
    next_retry_at: str | None

    @property
    def ecosystem(self) -> str:
        return split_source(self.source)[0]

    @property
    def identifier(self) -> str:
        return split_source(self.source)[1]

    @property
    def next_retry_time(self) -> datetime | None:
        return parse_timestamp(self.next_retry_at) if self.next_retry_at else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "priority": self.priority,
            "status": self.status,
            "confidence": self.confidence,
            "disambiguated_at": self.disambiguated_at,
            "failure_count": self.failure_count,
            "next_retry_at": self.next_retry_at,
        }

    def with_changes(self, **changes: Any) -> QueueEntry:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Queue:
    schema_version: int
    updated_at: str
    entries: tuple[QueueEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "updated_at": self.updated_at,
            "entries": [e.to_json() for e in self.entries],
        }

    def by_name(self) -> dict[str, QueueEntry]:
        """Entries keyed by lowercased name (the queue's de-duplication key)."""
        return {e.name.lower(): e for e in self.entries}

    def with_entries(self, entries: Iterable[QueueEntry]) -> Queue:
        return replace(self, entries=tuple(entries))


def empty_queue() -> Queue:
    return Queue(schema_version=1, updated_at=format_timestamp(now()), entries=())


@dataclass(frozen=True, slots=True)
class LoadedQueue:
    queue: Queue
    problems: tuple[Problem, ...]
    legacy: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _semantic_problems(entries: list[dict[str, Any]], rel: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        where = f"entries[{index}]"
        name = entry.get("name")
        if isinstance(name, str):
            key = name.lower()
            if key in seen:
                problems.append(
                    Problem(rel, f"{where}.name", f"duplicate of entries[{seen[key]}] ({name!r})")
                )
            else:
                seen[key] = index
        for field in ("disambiguated_at", "next_retry_at"):
            value = entry.get(field)
            if isinstance(value, str):
                try:
                    parse_timestamp(value)
                except ValueError as exc:
                    problems.append(Problem(rel, f"{where}.{field}", str(exc)))
        source = entry.get("source")
        if isinstance(source, str) and ":" in source:
            prefix = source.split(":", 1)[0]
            if normalise_ecosystem(prefix) != prefix:
                problems.append(
                    Problem(
                        rel,
                        f"{where}.source",
                        f"ecosystem prefix {prefix!r} is read as {normalise_ecosystem(prefix)!r}",
                        "normalised",
                    )
                )
    return problems


def _entry_from_json(raw: dict[str, Any]) -> QueueEntry:
    return QueueEntry(
        name=raw["name"],
        source=raw["source"],
        priority=raw["priority"],
        status=raw["status"],
        confidence=raw["confidence"],
        disambiguated_at=raw["disambiguated_at"],
        failure_count=raw["failure_count"],
        next_retry_at=raw["next_retry_at"],
    )


def _from_legacy(document: dict[str, Any], rel: str) -> tuple[Queue, list[Problem]]:
    problems = [Problem(rel, "packages", "legacy packages[] queue read as entries[]", "normalised")]
    entries = []
    for index, package in enumerate(document["packages"]):
        tier = int(package["tier"])
        entries.append(
            QueueEntry(
                name=package["name"],
                source=f"{normalise_ecosystem(package['source'])}:{package['name']}",
                priority=min(max(tier, 1), 3),
                status=LEGACY_STATUS[package["status"]],
                confidence="auto",
                disambiguated_at=None,
                failure_count=0,
                next_retry_at=None,
            )
        )
        if package["status"] not in ("pending", "success", "failed", "blocked"):
            problems.append(
                Problem(
                    rel,
                    f"packages[{index}].status",
                    f"legacy status {package['status']!r} read as "
                    f"{LEGACY_STATUS[package['status']]!r}",
                    "normalised",
                )
            )
    queue = Queue(int(document.get("schema_version", 1)), document["updated_at"], tuple(entries))
    return queue, problems


_ENTRY_KEYS = frozenset(
    (
        "name",
        "source",
        "priority",
        "status",
        "confidence",
        "disambiguated_at",
        "failure_count",
        "next_retry_at",
    )
)
_STATUS_SET = frozenset(STATUSES)
_CONFIDENCE_SET = frozenset(CONFIDENCES)
_NAME_RE = re.compile(r"[^\x00-\x1f]{1,200}")
_SOURCE_RE = re.compile(r"([a-z0-9_.-]+):[^\x00-\x1f]+")
_STAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def _entry_surely_valid(entry: Any) -> bool:
    """A fast check that is stricter than ``queue.schema.json#/$defs/entry``.

    True only for entries the schema accepts; anything unusual (floats for integers, odd
    timestamps, extra keys) answers False and goes to jsonschema, which has the last word and
    the error messages. Full jsonschema validation of a 100,000-entry queue takes ~10 s.
    """
    if type(entry) is not dict or entry.keys() != _ENTRY_KEYS:
        return False
    name, source = entry["name"], entry["source"]
    if type(name) is not str or not _NAME_RE.fullmatch(name):
        return False
    if type(source) is not str:
        return False
    match = _SOURCE_RE.fullmatch(source)
    if match is None or ".." in match.group(1):
        return False
    priority, count = entry["priority"], entry["failure_count"]
    if type(priority) is not int or not 1 <= priority <= 3:
        return False
    if type(count) is not int or count < 0:
        return False
    status, confidence = entry["status"], entry["confidence"]
    if type(status) is not str or type(confidence) is not str:
        return False
    if status not in _STATUS_SET or confidence not in _CONFIDENCE_SET:
        return False
    for key in ("disambiguated_at", "next_retry_at"):
        value = entry[key]
        if value is not None and (type(value) is not str or not _STAMP_RE.fullmatch(value)):
            return False
    return True


def check_queue_document(document: Any, rel: str) -> list[Problem]:
    """``schemas.check(document, "queue")`` with a fast path for the common, valid case.

    The envelope is always checked by jsonschema (with ``entries`` emptied, so it is cheap);
    entries go to jsonschema only when one of them fails the fast structural check.
    """
    if (
        isinstance(document, dict)
        and isinstance(document.get("entries"), list)
        and all(_entry_surely_valid(e) for e in document["entries"])
    ):
        return schemas.check({**document, "entries": []}, "queue", path=rel)
    return schemas.check(document, "queue", path=rel)


def parse_queue(document: Any, rel: str) -> LoadedQueue:
    """Validate a decoded queue document (live or legacy) and build typed values.

    Entries that fail validation are reported and left out of the typed queue.
    """
    if isinstance(document, dict) and "packages" in document and "entries" not in document:
        problems = schemas.check(document, "queue-legacy", path=rel)
        if problems:
            return LoadedQueue(empty_queue(), tuple(problems), legacy=True)
        queue, notes = _from_legacy(document, rel)
        return LoadedQueue(queue, tuple(notes), legacy=True)
    problems = check_queue_document(document, rel)
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        return LoadedQueue(empty_queue(), tuple(problems))
    raw_entries = document["entries"]
    flagged = {p.where for p in problems}
    problems += [p for p in _semantic_problems(raw_entries, rel) if p.where not in flagged]
    bad = {
        int(p.where.split("[", 1)[1].split("]", 1)[0])
        for p in problems
        if p.severity == "error" and p.where.startswith("entries[")
    }
    entries = tuple(_entry_from_json(e) for i, e in enumerate(raw_entries) if i not in bad)
    updated_at = document.get("updated_at")
    queue = Queue(
        schema_version=document.get("schema_version", 1)
        if isinstance(document.get("schema_version"), int)
        else 1,
        updated_at=updated_at if isinstance(updated_at, str) else format_timestamp(now()),
        entries=entries,
    )
    return LoadedQueue(queue, tuple(problems))


def read_queue(path: Path, *, rel: str | None = None) -> LoadedQueue:
    """Read and validate a queue file; a missing file is an empty queue (a new registry)."""
    rel = rel or str(path)
    if not path.exists():
        return LoadedQueue(empty_queue(), ())
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        return LoadedQueue(empty_queue(), (Problem(rel, "", f"not UTF-8: {exc}"),))
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return LoadedQueue(empty_queue(), (Problem(rel, where, f"invalid JSON: {exc.msg}"),))
    except (ValueError, RecursionError) as exc:  # huge integers, deep nesting
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:300]
        return LoadedQueue(empty_queue(), (Problem(rel, "", f"invalid JSON: {message}"),))
    return parse_queue(document, rel)


def load_queue(path: Path) -> Queue:
    """Read a queue for a task that will act on it: any error stops the task with DataError."""
    loaded = read_queue(path)
    if loaded.errors:
        first = loaded.errors[0]
        more = f" (and {len(loaded.errors) - 1} more)" if len(loaded.errors) > 1 else ""
        raise DataError(f"{first.message}{more}", path=str(path), where=first.where)
    return loaded.queue


def save_queue(path: Path, queue: Queue, *, previous: Queue | None = None) -> Queue:
    """Write the queue atomically in the live shape; ``updated_at`` moves only on real change."""
    if previous is not None and previous.entries == queue.entries and path.exists():
        return previous
    stamped = replace(queue, updated_at=format_timestamp(now()))
    document = stamped.to_json()
    problems = check_queue_document(document, str(path))
    if problems:
        raise DataError(f"refusing to write an invalid queue: {problems[0]}", path=str(path))
    atomic_write_json(path, document)
    return stamped
