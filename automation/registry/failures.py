"""Failure records (``data/failures/*.jsonl``): read both line shapes, write the envelope."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from automation.core import schemas
from automation.core.atomic import atomic_write_bytes, dumps_json
from automation.core.ecosystem_facts import normalise_ecosystem
from automation.core.errors import DataError
from automation.core.jsondata import INT_MAX, INT_MIN, bounded, decode
from automation.core.layout import RegistryLayout
from automation.core.report import Problem
from automation.core.timefmt import format_filename_stamp, format_timestamp

CATEGORIES = (
    "recipe_not_found",
    "network_error",
    "install_failed",
    "verify_failed",
    "missing_dep",
    "generation_failed",
    # Not the package's fault: the validation environment lacked what the install needs (a
    # toolchain, its image). Recorded so the gap is visible; never a queue failure or a breaker
    # vote (automation.registry.failure_codes).
    "environment_gap",
)
# Legacy category values and their canonical reading (reference §1.6).
LEGACY_CATEGORIES = {
    "api_error": "network_error",
    "validation_failed": "install_failed",
    "deterministic_insufficient": "generation_failed",
    "deterministic": "generation_failed",
    "timeout": "network_error",
    "network": "network_error",
}
MESSAGE_CAP = 16384  # keep the tool's own output; the reference's 500 often kept only a banner


def canonical_category(value: str) -> str:
    return LEGACY_CATEGORIES.get(value, value)


def cap_message(message: str, limit: int = MESSAGE_CAP) -> str:
    """Keep head and tail of long output: the error is usually at the end."""
    if len(message) <= limit:
        return message
    marker = f"\n[... {len(message) - limit} characters cut ...]\n"
    keep = limit - len(marker)
    head = keep // 4
    return message[:head] + marker + message[len(message) - (keep - head) :]


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One failure, normalised from either line shape."""

    file: str
    line: int
    shape: Literal["ecosystem", "platform"]
    name: str  # bare name: entry name when recorded, else identifier / recipe
    package_id: str | None  # "<ecosystem>:<identifier>" (envelope shape only)
    ecosystem: str | None  # normalised prefix; None for per-platform lines
    environment: str  # envelope environment or per-platform platform
    category: str  # canonical
    raw_category: str
    subcategory: str | None
    blocked_by: tuple[str, ...]
    message: str
    exit_code: int | None
    timestamp: str


@dataclass
class FailureFileScan:
    """What reading one failure file found."""

    records: list[FailureRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0
    shapes: Counter[str] = field(default_factory=Counter)


# One normalised failure, without its place: (shape, name, package_id, ecosystem, environment,
# category, raw_category, subcategory, blocked_by, message, exit_code, timestamp). The failure
# index stores these as rows; ``FailureRecord`` adds the file and line.
RecordFields = tuple[
    Literal["ecosystem", "platform"],
    str,
    str | None,
    str | None,
    str,
    str,
    str,
    str | None,
    tuple[str, ...],
    str,
    int | None,
    str,
]


def _fields_from_line(doc: dict[str, Any]) -> list[RecordFields]:
    """The records of one schema-valid line (an envelope holds many, a platform line one)."""
    if "failures" in doc:
        ecosystem = normalise_ecosystem(doc["ecosystem"])
        environment = doc["environment"]
        out: list[RecordFields] = []
        for item in doc["failures"]:
            package_id = item["package_id"]
            prefix, identifier = package_id.split(":", 1)
            category = item["category"]
            out.append(
                (
                    "ecosystem",
                    item.get("name") or identifier,
                    package_id,
                    normalise_ecosystem(prefix) or ecosystem,
                    environment,
                    LEGACY_CATEGORIES.get(category, category),
                    category,
                    item.get("subcategory"),
                    tuple(item.get("blocked_by") or ()),
                    item["message"],
                    item.get("exit_code"),
                    item["timestamp"],
                )
            )
        return out
    category = doc["category"]
    return [
        (
            "platform",
            doc["recipe"],
            None,
            None,
            doc["platform"],
            LEGACY_CATEGORIES.get(category, category),
            category,
            None,
            tuple(doc.get("blocked_by") or ()),
            "",
            doc["exit_code"],
            doc["timestamp"],
        )
    ]


def _records_from_line(doc: dict[str, Any], rel: str, lineno: int) -> list[FailureRecord]:
    return [FailureRecord(rel, lineno, *fields) for fields in _fields_from_line(doc)]


# ---------------------------------------------------------------------------------------------
# A fast check that is stricter than failure-line.schema.json: a line it accepts is valid, so
# jsonschema (about 150 us per record) runs only for lines it does not accept, to explain them.
# The same regular expressions as the schema, applied the way jsonschema applies them
# (``re.search``); tests/unit/registry/test_failures_fastcheck.py checks it never accepts an
# invalid line.

_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}[:-]\d{2}[:-]\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
)
_PACKAGE_ID = re.compile(r"^[a-z0-9_.-]+:.+$")
_SUBCATEGORY = re.compile(r"^[a-z0-9_]+$")
_DEP_NAME = re.compile(r"^[^/\\<>\s]+$")
_PLATFORM = re.compile(
    r"^(linux-[a-z]+-(glibc|musl)-(x86_64|arm64)|darwin-(x86_64|arm64)|linux-(x86_64|arm64))$"
)
_CATEGORY_VALUES = frozenset(CATEGORIES) | frozenset(LEGACY_CATEGORIES)
_ENVELOPE_KEYS = frozenset({"schema_version", "ecosystem", "environment", "updated_at", "failures"})
_FAILURE_REQUIRED = frozenset({"package_id", "category", "message", "timestamp"})
_FAILURE_ALLOWED = _FAILURE_REQUIRED | {
    "name",
    "subcategory",
    "blocked_by",
    "exit_code",
    "batch_id",
}
_PLATFORM_REQUIRED = frozenset(
    {"schema_version", "recipe", "platform", "exit_code", "category", "timestamp"}
)
_PLATFORM_ALLOWED = _PLATFORM_REQUIRED | {"blocked_by"}


def _int64(value: object) -> bool:
    return type(value) is int and INT_MIN <= value <= INT_MAX


class _FastChecker:
    """Memoises the string checks that repeat within a file (timestamps)."""

    __slots__ = ("_timestamps",)

    def __init__(self) -> None:
        self._timestamps: dict[str, bool] = {}

    def timestamp(self, value: object) -> bool:
        if type(value) is not str:
            return False
        known = self._timestamps.get(value)
        if known is None:
            known = self._timestamps[value] = _TIMESTAMP.search(value) is not None
        return known

    @staticmethod
    def deps(value: object) -> bool:
        if type(value) is not list or len(value) > 100:
            return False
        for dep in value:
            if type(dep) is not str or ".." in dep or _DEP_NAME.search(dep) is None:
                return False
        return True

    def failure(self, item: object) -> bool:
        if type(item) is not dict:
            return False
        keys = item.keys()
        if not (keys >= _FAILURE_REQUIRED and keys <= _FAILURE_ALLOWED):
            return False
        package_id, message, category = item["package_id"], item["message"], item["category"]
        if (
            type(package_id) is not str
            or _PACKAGE_ID.search(package_id) is None
            or type(message) is not str
            or len(message) > MESSAGE_CAP
            or type(category) is not str
            or category not in _CATEGORY_VALUES
            or not self.timestamp(item["timestamp"])
        ):
            return False
        if "name" in item and type(item["name"]) is not str:
            return False
        if "subcategory" in item:
            sub = item["subcategory"]
            if type(sub) is not str or _SUBCATEGORY.search(sub) is None:
                return False
        if "exit_code" in item and not _int64(item["exit_code"]):
            return False
        if "batch_id" in item and type(item["batch_id"]) is not str:
            return False
        return "blocked_by" not in item or self.deps(item["blocked_by"])

    def line(self, doc: object) -> bool:
        """True only for a line the schema accepts (False means: ask jsonschema)."""
        if type(doc) is not dict:
            return False
        version = doc.get("schema_version")
        if type(version) is not int or version != 1:
            return False
        if "failures" in doc:
            if doc.keys() != _ENVELOPE_KEYS:
                return False
            eco, env, failures = doc["ecosystem"], doc["environment"], doc["failures"]
            if type(eco) is not str or not eco or type(env) is not str or not env:
                return False
            if not self.timestamp(doc["updated_at"]) or type(failures) is not list:
                return False
            return all(self.failure(item) for item in failures)
        keys = doc.keys()
        if not (keys >= _PLATFORM_REQUIRED and keys <= _PLATFORM_ALLOWED):
            return False
        recipe, platform, category = doc["recipe"], doc["platform"], doc["category"]
        return (
            type(recipe) is str
            and bool(recipe)
            and type(platform) is str
            and _PLATFORM.search(platform) is not None
            and _int64(doc["exit_code"])
            and type(category) is str
            and category in _CATEGORY_VALUES
            and self.timestamp(doc["timestamp"])
            and ("blocked_by" not in doc or self.deps(doc["blocked_by"]))
        )


def fast_line_check(doc: object) -> bool:
    """True when ``doc`` is certainly a valid failure line (False: run the schema to explain)."""
    return _FastChecker().line(doc)


@dataclass
class FailureLines:
    """The normalised records of one failure file, by line (what the failure index stores)."""

    rows: list[tuple[int, RecordFields]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0
    shapes: Counter[str] = field(default_factory=Counter)


def scan_failure_lines(path: Path, *, rel: str | None = None) -> FailureLines:
    """Read one JSONL failure file into (line number, fields) rows; bad lines become problems."""
    rel = rel or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        scan = FailureLines()
        scan.problems.append(Problem(rel, "", f"cannot read: {exc}"))
        return scan
    return scan_failure_text(text, rel=rel)


def scan_failure_text(text: str, *, rel: str) -> FailureLines:
    """``scan_failure_lines`` on a file's decoded text."""
    scan = FailureLines()
    checker = _FastChecker()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        scan.lines += 1
        # Syntax, NaN and nesting that exhausts the recursion limit are reported by decode; the
        # bounds walk is left to the closed-shape check below (the hot path skips it).
        where = f"line {lineno}"
        doc, problem = decode(line, rel, where)
        if problem is not None:
            # Failure problems name the line alone (skipped lines are counted by it); a syntax
            # error's column goes into the message.
            column = problem.where.removeprefix(where).strip()
            message = f"{problem.message} at {column}" if column else problem.message
            scan.problems.append(Problem(rel, where, message[:300]))
            continue
        if not checker.line(doc):
            # The fast check holds exit codes to int64; anything else it did not accept is
            # bounded here, before jsonschema (recursive) or the index (SQLite INTEGER) see it.
            out_of_bounds = bounded(doc, rel, where)
            if out_of_bounds is not None:
                scan.problems.append(out_of_bounds)
                continue
            problems = schemas.check(doc, "failure-line", path=rel, where_prefix=where)
            if problems:
                scan.problems.extend(_explain_shape(doc, rel, where, problems))
                continue
        scan.shapes["ecosystem" if "failures" in doc else "platform"] += 1
        scan.rows.extend((lineno, fields) for fields in _fields_from_line(doc))
    return scan


def read_failure_file(path: Path, *, rel: str | None = None) -> FailureFileScan:
    """Read one JSONL failure file; bad lines are reported by line number and skipped."""
    rel = rel or str(path)
    lines = scan_failure_lines(path, rel=rel)
    return FailureFileScan(
        records=[FailureRecord(rel, lineno, *fields) for lineno, fields in lines.rows],
        problems=lines.problems,
        lines=lines.lines,
        shapes=lines.shapes,
    )


def _explain_shape(doc: Any, rel: str, where: str, problems: list[Problem]) -> list[Problem]:
    """oneOf errors are unreadable; re-check against the shape the line meant to have."""
    if isinstance(doc, dict):
        shape = "envelope" if "failures" in doc else "platform_record" if "recipe" in doc else None
        if shape:
            schema = {"$ref": f"failure-line.schema.json#/$defs/{shape}"}
            import jsonschema

            validator = jsonschema.Draft202012Validator(schema, registry=schemas._registry())
            found = [
                Problem(rel, f"{where} {schemas.json_path(e.absolute_path)}", e.message[:300])
                for e in validator.iter_errors(doc)
            ]
            if found:
                return sorted(found)
    return problems


def failure_files(layout: RegistryLayout) -> list[Path]:
    if not layout.failures_dir.is_dir():
        return []
    return sorted(layout.failures_dir.glob("*.jsonl"))


def iter_failures(layout: RegistryLayout) -> Iterator[FailureRecord]:
    """Every readable failure record of a registry, in file-name then line order."""
    for path in failure_files(layout):
        yield from read_failure_file(path, rel=str(path.relative_to(layout.root))).records


@dataclass(frozen=True, slots=True)
class NewFailure:
    """A failure this kit records (always with a specific subcategory and the full output)."""

    name: str
    package_id: str
    category: str
    subcategory: str
    message: str
    blocked_by: tuple[str, ...] = ()
    exit_code: int | None = None
    batch_id: str | None = None

    def to_json(self, timestamp: datetime) -> dict[str, Any]:
        if self.category not in CATEGORIES:
            raise DataError(f"unknown failure category {self.category!r} for {self.package_id}")
        out: dict[str, Any] = {
            "package_id": self.package_id,
            "name": self.name,
            "category": self.category,
            "subcategory": self.subcategory,
            "message": cap_message(self.message),
            "timestamp": format_timestamp(timestamp),
        }
        if self.blocked_by:
            out["blocked_by"] = sorted(set(self.blocked_by))
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        if self.batch_id:
            out["batch_id"] = self.batch_id
        return out


def next_failure_path(
    layout: RegistryLayout, ecosystem: str, when: datetime, *, taken: Collection[Path] = ()
) -> Path:
    """``data/failures/<ecosystem>-<stamp>.jsonl``, suffixed when that name is taken (on disk,
    or in ``taken``: paths a plan will write)."""
    stem = f"{normalise_ecosystem(ecosystem)}-{format_filename_stamp(when)}"
    path = layout.failures_dir / f"{stem}.jsonl"
    suffix = 1
    while path.exists() or path in taken:
        suffix += 1
        path = layout.failures_dir / f"{stem}-{suffix}.jsonl"
    return path


def write_failures(
    layout: RegistryLayout,
    ecosystem: str,
    environment: str,
    failures: Sequence[NewFailure],
    when: datetime,
    *,
    path: Path | None = None,
) -> Path | None:
    """Write ``data/failures/<ecosystem>-<stamp>.jsonl`` (one envelope line); None if empty."""
    if not failures:
        return None
    data = failure_file_bytes(ecosystem, environment, failures, when)
    path = path or next_failure_path(layout, ecosystem, when)
    atomic_write_bytes(path, data)
    return path


def failure_file_bytes(
    ecosystem: str, environment: str, failures: Sequence[NewFailure], when: datetime
) -> bytes:
    """The bytes of one failure file (one envelope line), schema-checked; DataError if invalid."""
    ecosystem = normalise_ecosystem(ecosystem)
    envelope = {
        "schema_version": 1,
        "ecosystem": ecosystem,
        "environment": environment,
        "updated_at": format_timestamp(when),
        "failures": [f.to_json(when) for f in failures],
    }
    problems = schemas.check(envelope, "failure-line", path="(new failure record)")
    if problems:
        raise DataError(f"refusing to write an invalid failure record: {problems[0]}")
    return (dumps_json(envelope, pretty=False) + "\n").encode("utf-8")
