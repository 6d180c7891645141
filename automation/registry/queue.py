"""The priority queue (``data/queues/priority-queue.json``): live shape, legacy read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from automation.core import schemas
from automation.core.atomic import atomic_write_bytes, dumps_json
from automation.core.ecosystem_facts import normalise_ecosystem, split_source
from automation.core.errors import DataError
from automation.core.jsondata import loads
from automation.core.report import Problem
from automation.core.timefmt import format_timestamp, now, parse_timestamp

STATUSES = ("pending", "success", "failed", "blocked", "requires_manual", "excluded")
# The statuses batch selection (and branch reservation) may pick an entry in.
SELECTABLE_STATUSES = ("pending", "failed")
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


# The entry keys in the order the file writes them (QueueEntry's field order).
_FIELDS = (
    "name",
    "source",
    "priority",
    "status",
    "confidence",
    "disambiguated_at",
    "failure_count",
    "next_retry_at",
)
_ENTRY_KEYS = frozenset(_FIELDS)
# Each enum value's JSON text, for the fast writer (membership doubles as the enum check).
_STATUS_JSON = {s: json.dumps(s) for s in STATUSES}
_CONFIDENCE_JSON = {c: json.dumps(c) for c in CONFIDENCES}
_NAME_RE = re.compile(r"[^\x00-\x1f]{1,200}")
_SOURCE_RE = re.compile(r"([a-z0-9_.-]+):[^\x00-\x1f]+")
_STAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def _values_surely_valid(
    name: Any,
    source: Any,
    priority: Any,
    status: Any,
    confidence: Any,
    disambiguated_at: Any,
    failure_count: Any,
    next_retry_at: Any,
) -> bool:
    """The fast check of one entry's eight values; see :func:`_entry_surely_valid`."""
    if type(name) is not str or _NAME_RE.fullmatch(name) is None or type(source) is not str:
        return False
    match = _SOURCE_RE.fullmatch(source)
    if match is None or ".." in match.group(1):
        return False
    if type(priority) is not int or not 1 <= priority <= 3:
        return False
    if type(failure_count) is not int or failure_count < 0:
        return False
    if type(status) is not str or status not in _STATUS_JSON:
        return False
    if type(confidence) is not str or confidence not in _CONFIDENCE_JSON:
        return False
    if disambiguated_at is not None and (
        type(disambiguated_at) is not str or _STAMP_RE.fullmatch(disambiguated_at) is None
    ):
        return False
    return next_retry_at is None or (
        type(next_retry_at) is str and _STAMP_RE.fullmatch(next_retry_at) is not None
    )


def _entry_surely_valid(entry: Any) -> bool:
    """A fast check that is stricter than ``queue.schema.json#/$defs/entry``.

    True only for entries the schema accepts; anything unusual (floats for integers, odd
    timestamps, extra keys) answers False and goes to jsonschema, which has the last word and
    the error messages. Full jsonschema validation of a 100,000-entry queue takes ~10 s.
    ``tests/unit/registry/test_queue_fastpath.py`` checks "stricter" against jsonschema with
    hypothesis.
    """
    if type(entry) is not dict or entry.keys() != _ENTRY_KEYS:
        return False
    return _values_surely_valid(
        entry["name"],
        entry["source"],
        entry["priority"],
        entry["status"],
        entry["confidence"],
        entry["disambiguated_at"],
        entry["failure_count"],
        entry["next_retry_at"],
    )


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


def _entries_fast(
    raw_entries: list[Any], rel: str
) -> tuple[list[QueueEntry], list[Problem]] | None:
    """The typed entries and entry problems in one pass, or None when an entry needs jsonschema.

    For entries that all pass the fast check this is exactly what the general path
    (:func:`_semantic_problems`, then :func:`_entry_from_json` for the entries without errors)
    gives, without its second and third pass over 100,000 dicts; a timestamp or ecosystem prefix
    that repeats (most do: batch times, a dozen ecosystems) is parsed once.
    """
    entries: list[QueueEntry] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    stamp_errors: dict[str, str | None] = {}  # timestamp -> why parse_timestamp rejects it
    prefixes: dict[str, str] = {}  # ecosystem prefix -> how it reads
    keys = _ENTRY_KEYS
    for index, raw in enumerate(raw_entries):
        if type(raw) is not dict or raw.keys() != keys:
            return None
        name = raw["name"]
        source = raw["source"]
        priority = raw["priority"]
        status = raw["status"]
        confidence = raw["confidence"]
        disambiguated_at = raw["disambiguated_at"]
        failure_count = raw["failure_count"]
        next_retry_at = raw["next_retry_at"]
        if not _values_surely_valid(
            name,
            source,
            priority,
            status,
            confidence,
            disambiguated_at,
            failure_count,
            next_retry_at,
        ):
            return None
        ok = True
        first = seen.setdefault(name.lower(), index)
        if first != index:
            problems.append(
                Problem(rel, f"entries[{index}].name", f"duplicate of entries[{first}] ({name!r})")
            )
            ok = False
        if disambiguated_at is not None:
            if disambiguated_at not in stamp_errors:
                stamp_errors[disambiguated_at] = _stamp_error(disambiguated_at)
            error = stamp_errors[disambiguated_at]
            if error is not None:
                problems.append(Problem(rel, f"entries[{index}].disambiguated_at", error))
                ok = False
        if next_retry_at is not None:
            if next_retry_at not in stamp_errors:
                stamp_errors[next_retry_at] = _stamp_error(next_retry_at)
            error = stamp_errors[next_retry_at]
            if error is not None:
                problems.append(Problem(rel, f"entries[{index}].next_retry_at", error))
                ok = False
        prefix = source[: source.index(":")]
        reads = prefixes.get(prefix)
        if reads is None:
            reads = prefixes[prefix] = normalise_ecosystem(prefix)
        if reads != prefix:
            problems.append(
                Problem(
                    rel,
                    f"entries[{index}].source",
                    f"ecosystem prefix {prefix!r} is read as {reads!r}",
                    "normalised",
                )
            )
        if ok:
            entries.append(
                QueueEntry(
                    name,
                    source,
                    priority,
                    status,
                    confidence,
                    disambiguated_at,
                    failure_count,
                    next_retry_at,
                )
            )
    return entries, problems


def _stamp_error(text: str) -> str | None:
    try:
        parse_timestamp(text)
    except ValueError as exc:
        return str(exc)
    return None


def _queue_from(document: dict[str, Any], entries: Iterable[QueueEntry]) -> Queue:
    updated_at = document.get("updated_at")
    return Queue(
        schema_version=document.get("schema_version", 1)
        if isinstance(document.get("schema_version"), int)
        else 1,
        updated_at=updated_at if isinstance(updated_at, str) else format_timestamp(now()),
        entries=tuple(entries),
    )


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
    if isinstance(document, dict) and isinstance(document.get("entries"), list):
        fast = _entries_fast(document["entries"], rel)
        if fast is not None:
            entries, entry_problems = fast
            problems = schemas.check({**document, "entries": []}, "queue", path=rel)
            return LoadedQueue(_queue_from(document, entries), (*problems, *entry_problems))
    return _parse_queue_general(document, rel)


def _parse_queue_general(document: Any, rel: str) -> LoadedQueue:
    """The path for any live-shape document: full jsonschema where needed, then semantics."""
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
    entries = (_entry_from_json(e) for i, e in enumerate(raw_entries) if i not in bad)
    return LoadedQueue(_queue_from(document, entries), tuple(problems))


def read_queue(path: Path, *, rel: str | None = None) -> LoadedQueue:
    """Read and validate a queue file; a missing file is an empty queue (a new registry)."""
    rel = rel or str(path)
    if not path.exists():
        return LoadedQueue(empty_queue(), ())
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return LoadedQueue(empty_queue(), (Problem(rel, "", f"not UTF-8: {exc}"),))
    # Syntax, deep nesting and integers outside int64 are reported, never raised; the queue is
    # one document every task rewrites, so a bad one stops the task (load_queue) rather than
    # being rewritten without the entry it cannot read.
    document, problem = loads(text, rel)
    if problem is not None:
        return LoadedQueue(empty_queue(), (problem,))
    return parse_queue(document, rel)


def load_queue(path: Path) -> Queue:
    """Read a queue for a task that will act on it: any error stops the task with DataError."""
    loaded = read_queue(path)
    if loaded.errors:
        first = loaded.errors[0]
        more = f" (and {len(loaded.errors) - 1} more)" if len(loaded.errors) > 1 else ""
        raise DataError(f"{first.message}{more}", path=str(path), where=first.where)
    return loaded.queue


# One entry as ``json.dumps(document, indent=2, ensure_ascii=False)`` writes it in the list.
_ENTRY_TEMPLATE = (
    "    {\n"
    '      "name": %s,\n'
    '      "source": %s,\n'
    '      "priority": %d,\n'
    '      "status": %s,\n'
    '      "confidence": %s,\n'
    '      "disambiguated_at": %s,\n'
    '      "failure_count": %d,\n'
    '      "next_retry_at": %s\n'
    "    }"
)


def _render_queue(queue: Queue) -> str | None:
    """The file text ``dumps_json(queue.to_json())`` gives; None if an entry fails the fast check.

    json's indenting encoder is pure Python (the C one does not indent) and goes through a dict
    per entry; entries that pass the fast check have exact types (str, int, None), so a
    template with json's own C string encoder writes the same bytes several times faster.
    """
    encode = encode_basestring
    statuses, confidences = _STATUS_JSON, _CONFIDENCE_JSON
    parts: list[str] = []
    for entry in queue.entries:
        name = entry.name
        source = entry.source
        priority = entry.priority
        status = entry.status
        confidence = entry.confidence
        disambiguated_at = entry.disambiguated_at
        failure_count = entry.failure_count
        next_retry_at = entry.next_retry_at
        if not _values_surely_valid(
            name,
            source,
            priority,
            status,
            confidence,
            disambiguated_at,
            failure_count,
            next_retry_at,
        ):
            return None
        parts.append(
            _ENTRY_TEMPLATE
            % (
                encode(name),
                encode(source),
                priority,
                statuses[status],
                confidences[confidence],
                "null" if disambiguated_at is None else encode(disambiguated_at),
                failure_count,
                "null" if next_retry_at is None else encode(next_retry_at),
            )
        )
    entries = "[\n" + ",\n".join(parts) + "\n  ]" if parts else "[]"
    return (
        '{\n  "schema_version": '
        + json.dumps(queue.schema_version, ensure_ascii=False)
        + ',\n  "updated_at": '
        + json.dumps(queue.updated_at, ensure_ascii=False)
        + ',\n  "entries": '
        + entries
        + "\n}\n"
    )


def _queue_text(queue: Queue, rel: str) -> str:
    """The file text of a queue that passes ``queue.schema.json``; DataError otherwise."""
    text = _render_queue(queue)
    if text is not None:  # entries vouched for: jsonschema checks the envelope
        envelope = {"schema_version": queue.schema_version, "updated_at": queue.updated_at}
        problems = schemas.check({**envelope, "entries": []}, "queue", path=rel)
    else:  # an entry the fast check cannot vouch for: jsonschema has the word
        document = queue.to_json()
        problems = schemas.check(document, "queue", path=rel)
        if not problems:
            text = dumps_json(document)
    if problems or text is None:
        raise DataError(f"refusing to write an invalid queue: {problems[0]}", path=rel)
    return text


def queue_file_bytes(queue: Queue, *, rel: str) -> bytes:
    """The bytes ``save_queue`` writes for ``queue`` (as it is, not re-stamped); DataError if
    it does not pass ``queue.schema.json``."""
    return _queue_text(queue, rel).encode("utf-8")


def save_queue(path: Path, queue: Queue, *, previous: Queue | None = None) -> Queue:
    """Write the queue atomically in the live shape; ``updated_at`` moves only on real change."""
    if previous is not None and previous.entries == queue.entries and path.exists():
        return previous
    stamped = replace(queue, updated_at=format_timestamp(now()))
    atomic_write_bytes(path, _queue_text(stamped, str(path)).encode("utf-8"))
    return stamped
