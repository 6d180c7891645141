"""Disambiguation data (``data/disambiguations/``): per-tool audit files and decision envelopes.

``audit/<tool>.json`` holds the last source decision for one tool (pretty JSON, overwritten on each
decision); ``*.jsonl`` (``curated.jsonl``) holds envelopes of decisions, one a line. Tool names come
from upstream registries: a name that is not a plain file name (``user/tap/formula``) is stored
under a reversible percent-encoding, never as a nested or escaping path.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core import schemas
from automation.core.atomic import atomic_write_text, dumps_json
from automation.core.errors import DataError
from automation.core.jsondata import iter_json_lines, loads, non_finite_paths, read_text
from automation.core.layout import RegistryLayout
from automation.core.report import Problem
from automation.core.timefmt import parse_timestamp

# Every reason an audit or envelope may carry: the reference's four (its audit files use them),
# then the ones automation/stages/disambiguate.py writes (percentile-based rules). The audit
# schema's
# enum (schemas/disambiguation-audit.schema.json) lists the same set; a test keeps them in step
# with the literals the code writes.
SELECTION_REASONS = (
    "single_match",
    "10x_popularity_gap",
    "priority_fallback",
    "curated",
    "clear_winner",
    "close_call",
    "no_match",
)
# Characters kept as they are in an audit file name; everything else is percent-encoded (UTF-8),
# uppercase included so that names cannot collide on case-insensitive file systems.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._@+-")
_MAX_STEM = 200  # file names stay well below the usual 255-byte limit


def audit_dir(layout: RegistryLayout) -> Path:
    return layout.disambiguations_dir / "audit"


def audit_filename(tool: str) -> tuple[str, bool]:
    """``(file name, encoded)`` for a tool's audit file; ``encoded`` when the name was escaped.

    Plain names map to ``<tool>.json`` as in the reference. Others are percent-encoded
    (``homebrew/core/foo`` -> ``homebrew%2Fcore%2Ffoo.json``); a leading ``.`` is encoded so no
    name is hidden or a path alias, and overlong results are cut and suffixed with a hash.
    """
    if not tool:
        raise DataError("empty tool name has no audit file")
    stem = "".join(
        ch
        if ch in _PLAIN and not (index == 0 and ch == ".")
        else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        for index, ch in enumerate(tool)
    )
    if len(stem) > _MAX_STEM:
        digest = hashlib.sha256(tool.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        stem = f"{stem[: _MAX_STEM - 17]}~{digest}"
    return f"{stem}.json", stem != tool


def tool_from_filename(filename: str) -> str | None:
    """The tool name an audit file name stands for; None for a hashed (cut) name."""
    stem = filename.removesuffix(".json")
    if "~" in stem:
        return None
    try:
        return urllib.parse.unquote(stem, errors="strict")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    source: str
    downloads: int
    version_count: int
    has_repository: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "downloads": self.downloads,
            "version_count": self.version_count,
            "has_repository": self.has_repository,
        }


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """The last disambiguation decision for one tool.

    ``alternatives`` is None where the reference wrote ``null`` (a Go nil slice), so files
    round-trip byte for byte.
    """

    tool: str
    selected: str
    alternatives: tuple[str, ...] | None
    selection_reason: str
    high_risk: bool
    probe_results: tuple[ProbeResult, ...]
    previous_source: str | None
    disambiguated_at: str
    seeding_run: str
    downloads_ratio: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The reference key order; ``downloads_ratio`` omitted when absent or 0."""
        out: dict[str, Any] = {
            "tool": self.tool,
            "selected": self.selected,
            "alternatives": None if self.alternatives is None else list(self.alternatives),
            "selection_reason": self.selection_reason,
        }
        if self.downloads_ratio:
            out["downloads_ratio"] = self.downloads_ratio
        out["high_risk"] = self.high_risk
        out["probe_results"] = [p.to_json() for p in self.probe_results]
        out["previous_source"] = self.previous_source
        out["disambiguated_at"] = self.disambiguated_at
        out["seeding_run"] = self.seeding_run
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision inside a ``*.jsonl`` envelope (``curated.jsonl``)."""

    tool: str
    selected: str
    alternatives: tuple[str, ...] | None
    selection_reason: str
    high_risk: bool
    downloads_ratio: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool": self.tool,
            "selected": self.selected,
            "alternatives": None if self.alternatives is None else list(self.alternatives),
            "selection_reason": self.selection_reason,
        }
        if self.downloads_ratio:
            out["downloads_ratio"] = self.downloads_ratio
        out["high_risk"] = self.high_risk
        return out


@dataclass(frozen=True, slots=True)
class DecisionBatch:
    """One envelope line: schema_version, ecosystem, environment, updated_at, disambiguations."""

    ecosystem: str
    environment: str
    updated_at: str
    decisions: tuple[Decision, ...]
    schema_version: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "ecosystem": self.ecosystem,
            "environment": self.environment,
            "updated_at": self.updated_at,
            "disambiguations": [d.to_json() for d in self.decisions],
        }


@dataclass
class AuditScan:
    """What reading one audit file found."""

    record: AuditRecord | None = None
    problems: list[Problem] = field(default_factory=list)


def _alternatives(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _audit_from_json(doc: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        tool=doc["tool"],
        selected=doc["selected"],
        alternatives=_alternatives(doc["alternatives"]),
        selection_reason=doc["selection_reason"],
        high_risk=doc["high_risk"],
        probe_results=tuple(
            ProbeResult(p["source"], p["downloads"], p["version_count"], p["has_repository"])
            for p in doc["probe_results"]
        ),
        previous_source=doc["previous_source"],
        disambiguated_at=doc["disambiguated_at"],
        seeding_run=doc["seeding_run"],
        downloads_ratio=doc.get("downloads_ratio"),
    )


def parse_audit(document: Any, rel: str, *, filename: str | None = None) -> AuditScan:
    """Validate a decoded audit document; ``filename`` (when given) must match the tool."""
    scan = AuditScan()
    problems = schemas.check(document, "disambiguation-audit", path=rel)
    if problems:
        scan.problems = problems
        return scan
    record = _audit_from_json(document)
    for name in ("disambiguated_at", "seeding_run"):
        try:
            parse_timestamp(getattr(record, name))
        except ValueError as exc:
            scan.problems.append(Problem(rel, name, str(exc)))
    if record.alternatives and record.selected in record.alternatives:
        scan.problems.append(
            Problem(
                rel, "alternatives", f"lists the selected source {record.selected!r}", "warning"
            )
        )
    if filename is not None:
        expected, _ = audit_filename(record.tool)
        if filename != expected:
            scan.problems.append(
                Problem(
                    rel,
                    "tool",
                    f"tool {record.tool!r} belongs in {expected!r}, not {filename!r}",
                    "warning",
                )
            )
    scan.record = record
    return scan


def read_audit_file(path: Path, *, rel: str | None = None) -> AuditScan:
    """Read one ``audit/<tool>.json`` file; problems name the field."""
    rel = rel or str(path)
    text, problem = read_text(path, rel)
    if text is None:
        return AuditScan(problems=[problem] if problem else [])
    document, problem = loads(text, rel)
    if problem is not None:
        return AuditScan(problems=[problem])
    return parse_audit(document, rel, filename=path.name)


def audit_files(layout: RegistryLayout) -> list[Path]:
    directory = audit_dir(layout)
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def iter_audits(layout: RegistryLayout) -> Iterator[AuditRecord]:
    """Every readable audit record, in file-name order."""
    for path in audit_files(layout):
        record = read_audit_file(path, rel=str(path.relative_to(layout.root))).record
        if record is not None:
            yield record


@dataclass(frozen=True, slots=True)
class AuditWrite:
    """Where an audit went; ``note`` reports a tool name that had to be encoded."""

    path: Path
    encoded: bool
    note: Problem | None = None


def write_audit(layout: RegistryLayout, record: AuditRecord) -> AuditWrite:
    """Write ``audit/<tool>.json`` atomically in the reference format (schema-checked).

    Raises DataError for an invalid record. The file always lands directly in ``audit/``.
    """
    filename, encoded = audit_filename(record.tool)
    directory = audit_dir(layout)
    path = directory / filename
    rel = str(path.relative_to(layout.root))
    document = record.to_json()
    problems = schemas.check(document, "disambiguation-audit", path=rel)
    problems += [Problem(rel, place, "not a finite number") for place in non_finite_paths(document)]
    if problems:
        raise DataError(f"refusing to write an invalid audit: {problems[0]}", path=rel)
    if path.parent != directory or "/" in filename or filename in (".json", "..json"):
        raise AssertionError(f"audit path escaped {directory}: {path}")  # unreachable by encoding
    atomic_write_text(path, dumps_json(document))
    note = None
    if encoded:
        note = Problem(
            rel, "tool", f"tool name {record.tool!r} stored under encoded file name", "normalised"
        )
    return AuditWrite(path, encoded, note)


# --- decision envelopes (curated.jsonl) ---------------------------------------------------------


@dataclass
class DecisionScan:
    batches: list[DecisionBatch] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0

    @property
    def decisions(self) -> int:
        return sum(len(b.decisions) for b in self.batches)


def _decision_batch_from_json(doc: dict[str, Any]) -> DecisionBatch:
    return DecisionBatch(
        ecosystem=doc["ecosystem"],
        environment=doc["environment"],
        updated_at=doc["updated_at"],
        decisions=tuple(
            Decision(
                tool=d["tool"],
                selected=d["selected"],
                alternatives=_alternatives(d["alternatives"]),
                selection_reason=d["selection_reason"],
                high_risk=d["high_risk"],
                downloads_ratio=d.get("downloads_ratio"),
            )
            for d in doc["disambiguations"]
        ),
        schema_version=doc["schema_version"],
    )


def parse_decision_text(text: str, rel: str) -> DecisionScan:
    """Decode envelope lines; bad lines are reported by number and skipped."""
    scan = DecisionScan()
    for decoded in iter_json_lines(text, rel):
        scan.lines += 1
        if decoded.problem is not None:
            scan.problems.append(decoded.problem)
            continue
        where = f"line {decoded.line}"
        problems = schemas.check(
            decoded.value, "disambiguation-batch", path=rel, where_prefix=where
        )
        if problems:
            scan.problems.extend(problems)
            continue
        batch = _decision_batch_from_json(decoded.value)
        try:
            parse_timestamp(batch.updated_at)
        except ValueError as exc:
            scan.problems.append(Problem(rel, f"{where} updated_at", str(exc)))
        scan.batches.append(batch)
    return scan


def read_decision_file(path: Path, *, rel: str | None = None) -> DecisionScan:
    """Read ``data/disambiguations/*.jsonl`` (``curated.jsonl`` and per-batch envelopes)."""
    rel = rel or str(path)
    text, problem = read_text(path, rel)
    if text is None:
        return DecisionScan(problems=[problem] if problem else [])
    return parse_decision_text(text, rel)
