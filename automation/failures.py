"""Failure records (``data/failures/*.jsonl``): read both line shapes, write the envelope."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from automation import schemas
from automation.atomic import atomic_write_bytes, dumps_json
from automation.ecosystems import normalise_ecosystem
from automation.errors import DataError
from automation.layout import RegistryLayout
from automation.report import Problem
from automation.timefmt import format_filename_stamp, format_timestamp

CATEGORIES = (
    "recipe_not_found",
    "network_error",
    "install_failed",
    "verify_failed",
    "missing_dep",
    "generation_failed",
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


def _records_from_line(doc: dict[str, Any], rel: str, lineno: int) -> list[FailureRecord]:
    if "failures" in doc:
        ecosystem = normalise_ecosystem(doc["ecosystem"])
        out = []
        for item in doc["failures"]:
            package_id = item["package_id"]
            identifier = package_id.split(":", 1)[1]
            out.append(
                FailureRecord(
                    file=rel,
                    line=lineno,
                    shape="ecosystem",
                    name=item.get("name") or identifier,
                    package_id=package_id,
                    ecosystem=normalise_ecosystem(package_id.split(":", 1)[0]) or ecosystem,
                    environment=doc["environment"],
                    category=canonical_category(item["category"]),
                    raw_category=item["category"],
                    subcategory=item.get("subcategory"),
                    blocked_by=tuple(item.get("blocked_by") or ()),
                    message=item["message"],
                    exit_code=item.get("exit_code"),
                    timestamp=item["timestamp"],
                )
            )
        return out
    return [
        FailureRecord(
            file=rel,
            line=lineno,
            shape="platform",
            name=doc["recipe"],
            package_id=None,
            ecosystem=None,
            environment=doc["platform"],
            category=canonical_category(doc["category"]),
            raw_category=doc["category"],
            subcategory=None,
            blocked_by=tuple(doc.get("blocked_by") or ()),
            message="",
            exit_code=doc["exit_code"],
            timestamp=doc["timestamp"],
        )
    ]


def read_failure_file(path: Path, *, rel: str | None = None) -> FailureFileScan:
    """Read one JSONL failure file; bad lines are reported by line number and skipped."""
    rel = rel or str(path)
    scan = FailureFileScan()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        scan.problems.append(Problem(rel, "", f"cannot read: {exc}"))
        return scan
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        scan.lines += 1
        where = f"line {lineno}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            scan.problems.append(
                Problem(rel, where, f"invalid JSON: {exc.msg} at column {exc.colno}")
            )
            continue
        except (ValueError, RecursionError) as exc:  # huge integers, deep nesting
            message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:300]
            scan.problems.append(Problem(rel, where, f"invalid JSON: {message}"))
            continue
        problems = schemas.check(doc, "failure-line", path=rel, where_prefix=where)
        if problems:
            scan.problems.extend(_explain_shape(doc, rel, where, problems))
            continue
        scan.shapes["ecosystem" if "failures" in doc else "platform"] += 1
        scan.records.extend(_records_from_line(doc, rel, lineno))
    return scan


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


def next_failure_path(layout: RegistryLayout, ecosystem: str, when: datetime) -> Path:
    """``data/failures/<ecosystem>-<stamp>.jsonl``, suffixed when that name is taken."""
    stem = f"{normalise_ecosystem(ecosystem)}-{format_filename_stamp(when)}"
    path = layout.failures_dir / f"{stem}.jsonl"
    suffix = 1
    while path.exists():
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
    path = path or next_failure_path(layout, ecosystem, when)
    atomic_write_bytes(path, (dumps_json(envelope, pretty=False) + "\n").encode("utf-8"))
    return path
