"""Validation results (``data/results/<batch_id>/<environment>.jsonl``) and the orchestrator summary
(``data/queues/batch-results.json``).

A results file holds one compact JSON line per (recipe, environment) attempt. Re-running a batch
appends: the last line for a (recipe, environment) supersedes the earlier ones, so re-runs are
idempotent for readers that take ``latest_results``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from automation.core import schemas
from automation.core.atomic import append_jsonl
from automation.core.errors import DataError
from automation.core.jsondata import iter_json_lines, loads, non_finite_paths, read_text
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name
from automation.core.report import Problem
from automation.core.timefmt import parse_timestamp
from automation.registry.failures import cap_message

Status = Literal["pass", "fail", "skipped"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "skipped")


@dataclass(frozen=True, slots=True)
class ResultLine:
    """The outcome of validating one recipe in one environment."""

    recipe: str
    environment: str  # environment id (data/environments.json), also the file name
    platform: str  # reference form: linux-<family>-<libc>-<arch> | darwin-<arch>
    status: str  # one of STATUSES (checked by the schema on read and before write)
    category: str | None
    subcategory: str | None
    exit_code: int | None
    attempts: int
    message: str
    timestamp: str
    version: str | None = None
    duration_seconds: float | None = None
    batch_id: str | None = None
    # "tsuku <version>" when a tsuku binary installed it; None (not written) for the kit's own.
    installer: str | None = None
    # The runtimes the install ran on: ({"name", "version", "build"}, ...); () when none was used.
    runtimes: tuple[dict[str, str], ...] = field(default=(), hash=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.recipe, self.environment)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "recipe": self.recipe,
            "environment": self.environment,
            "platform": self.platform,
            "status": self.status,
            "category": self.category,
            "subcategory": self.subcategory,
            "exit_code": self.exit_code,
            "attempts": self.attempts,
            "message": self.message,
            "timestamp": self.timestamp,
        }
        if self.version is not None:
            out["version"] = self.version
        if self.duration_seconds is not None:
            out["duration_seconds"] = self.duration_seconds
        if self.batch_id is not None:
            out["batch_id"] = self.batch_id
        if self.installer is not None:
            out["installer"] = self.installer
        if self.runtimes:
            out["runtimes"] = [dict(r) for r in self.runtimes]
        return out

    def runtime_text(self) -> str:
        """``node 26.12.1, npm 12.2.3``: what reports print beside a verdict."""
        return ", ".join(f"{r['name']} {r['version'] or '?'}" for r in self.runtimes)


def _line_from_json(doc: dict[str, Any]) -> ResultLine:
    return ResultLine(
        recipe=doc["recipe"],
        environment=doc["environment"],
        platform=doc["platform"],
        status=doc["status"],
        category=doc["category"],
        subcategory=doc["subcategory"],
        exit_code=doc["exit_code"],
        attempts=doc["attempts"],
        message=doc["message"],
        timestamp=doc["timestamp"],
        version=doc.get("version"),
        duration_seconds=doc.get("duration_seconds"),
        batch_id=doc.get("batch_id"),
        installer=doc.get("installer"),
        runtimes=tuple(dict(r) for r in doc.get("runtimes") or ()),
    )


def latest_results(lines: Iterable[ResultLine]) -> dict[tuple[str, str], ResultLine]:
    """The last line per (recipe, environment): later lines supersede earlier ones."""
    latest: dict[tuple[str, str], ResultLine] = {}
    for line in lines:
        latest[line.key] = line
    return latest


@dataclass
class ResultsScan:
    """What reading one results file found."""

    lines: list[ResultLine] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    line_count: int = 0  # non-blank lines read

    @property
    def superseded(self) -> int:
        return len(self.lines) - len(latest_results(self.lines))

    def latest(self) -> dict[tuple[str, str], ResultLine]:
        return latest_results(self.lines)


def parse_results_text(
    text: str, rel: str, *, environment: str | None = None, batch_id: str | None = None
) -> ResultsScan:
    """Decode result lines; each bad line is reported by number and skipped.

    ``environment``/``batch_id`` (from the file's place) must agree with the lines' own fields.
    """
    scan = ResultsScan()
    for decoded in iter_json_lines(text, rel):
        scan.line_count += 1
        if decoded.problem is not None:
            scan.problems.append(decoded.problem)
            continue
        where = f"line {decoded.line}"
        problems = schemas.check(decoded.value, "results-line", path=rel, where_prefix=where)
        if problems:
            scan.problems.extend(problems)
            continue
        line = _line_from_json(decoded.value)
        try:
            parse_timestamp(line.timestamp)
        except ValueError as exc:
            scan.problems.append(Problem(rel, f"{where} timestamp", str(exc)))
            continue
        if environment is not None and line.environment != environment:
            scan.problems.append(
                Problem(
                    rel,
                    f"{where} environment",
                    f"{line.environment!r} in the file of environment {environment!r}",
                )
            )
            continue
        if batch_id is not None and line.batch_id is not None and line.batch_id != batch_id:
            scan.problems.append(
                Problem(rel, f"{where} batch_id", f"{line.batch_id!r} in batch {batch_id!r}")
            )
            continue
        scan.lines.append(line)
    return scan


def read_results_file(path: Path, *, rel: str | None = None) -> ResultsScan:
    """Read ``data/results/<batch_id>/<environment>.jsonl``; its place names the batch and env."""
    rel = rel or str(path)
    text, problem = read_text(path, rel)
    if text is None:
        return ResultsScan(problems=[problem] if problem else [])
    return parse_results_text(
        text, rel, environment=path.name.removesuffix(".jsonl"), batch_id=path.parent.name
    )


read_results = read_results_file  # the name other modules use


def results_files(layout: RegistryLayout, batch_id: str | None = None) -> list[Path]:
    """Results files of one batch, or of all batches, sorted."""
    if not layout.results_dir.is_dir():
        return []
    pattern = f"{check_recipe_name(batch_id)}/*.jsonl" if batch_id else "*/*.jsonl"
    return sorted(layout.results_dir.glob(pattern))


def current_results(layout: RegistryLayout, batch_id: str) -> dict[tuple[str, str], ResultLine]:
    """The current result per (recipe, environment) of a batch. Raises DataError on bad lines."""
    lines: list[ResultLine] = []
    for path in results_files(layout, batch_id):
        scan = read_results_file(path, rel=str(path.relative_to(layout.root)))
        errors = [p for p in scan.problems if p.severity == "error"]
        if errors:
            raise DataError(errors[0].message, path=errors[0].path, where=errors[0].where)
        lines += scan.lines
    return latest_results(lines)


def _documents_for(
    lines: Sequence[ResultLine], *, rel: str, environment: str, batch_id: str
) -> list[dict[str, Any]]:
    documents = []
    for index, line in enumerate(lines):
        document = line.to_json()
        document["message"] = cap_message(line.message)
        where = f"results[{index}]"
        problems = schemas.check(document, "results-line", path=rel, where_prefix=where)
        problems += [
            Problem(rel, f"{where} {p}", "not a finite number") for p in non_finite_paths(document)
        ]
        if line.environment != environment:
            problems.append(
                Problem(rel, f"{where} environment", f"{line.environment!r} != {environment!r}")
            )
        if line.batch_id is not None and line.batch_id != batch_id:
            problems.append(Problem(rel, f"{where} batch_id", f"{line.batch_id!r} != {batch_id!r}"))
        if problems:
            raise DataError(f"refusing to write an invalid result: {problems[0]}", path=rel)
        documents.append(document)
    return documents


def write_result_lines(path: Path, lines: Sequence[ResultLine], *, rel: str | None = None) -> None:
    """Append result lines to ``<results>/<batch_id>/<environment>.jsonl`` (schema-checked, atomic).

    The file's place names the batch and environment; every line must agree. Messages are capped
    like failure messages. Raises DataError (nothing is written) if any line is invalid.
    """
    rel = rel or str(path)
    documents = _documents_for(
        lines, rel=rel, environment=path.name.removesuffix(".jsonl"), batch_id=path.parent.name
    )
    if documents:
        append_jsonl(path, documents)


def append_results(
    layout: RegistryLayout, batch_id: str, environment: str, lines: Sequence[ResultLine]
) -> Path:
    """Append result lines to the batch's file for ``environment``; returns the file."""
    path = layout.results_file(batch_id, environment)
    write_result_lines(path, lines, rel=str(path.relative_to(layout.root)))
    return path


# --- data/queues/batch-results.json ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EcosystemOutcome:
    ecosystem: str
    total: int
    succeeded: int
    failed: int


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The orchestrator's summary of one generation run (``failed`` excludes blocked entries)."""

    batch_id: str
    ecosystems: tuple[tuple[str, int], ...]
    per_ecosystem: tuple[EcosystemOutcome, ...]
    total: int
    succeeded: int
    failed: int
    blocked: int
    timestamp: str

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "ecosystems": dict(self.ecosystems),
            "per_ecosystem": {
                o.ecosystem: {"total": o.total, "succeeded": o.succeeded, "failed": o.failed}
                for o in self.per_ecosystem
            },
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "blocked": self.blocked,
            "timestamp": self.timestamp,
        }


@dataclass
class SummaryScan:
    summary: BatchSummary | None = None
    problems: list[Problem] = field(default_factory=list)


def parse_batch_summary(document: Any, rel: str) -> SummaryScan:
    """Validate a decoded ``batch-results.json`` and check that its totals add up."""
    problems = schemas.check(document, "batch-results", path=rel)
    if problems:
        return SummaryScan(problems=problems)
    summary = BatchSummary(
        batch_id=document["batch_id"],
        ecosystems=tuple(document["ecosystems"].items()),
        per_ecosystem=tuple(
            EcosystemOutcome(name, o["total"], o["succeeded"], o["failed"])
            for name, o in document["per_ecosystem"].items()
        ),
        total=document["total"],
        succeeded=document["succeeded"],
        failed=document["failed"],
        blocked=document["blocked"],
        timestamp=document["timestamp"],
    )
    scan = SummaryScan(summary)
    try:
        parse_timestamp(summary.timestamp)
    except ValueError as exc:
        scan.problems.append(Problem(rel, "timestamp", str(exc)))
    if summary.succeeded + summary.failed + summary.blocked != summary.total:
        scan.problems.append(
            Problem(
                rel,
                "total",
                f"succeeded {summary.succeeded} + failed {summary.failed} + blocked "
                f"{summary.blocked} != total {summary.total}",
                "warning",
            )
        )
    if sum(count for _, count in summary.ecosystems) != summary.total:
        scan.problems.append(
            Problem(rel, "ecosystems", "per-ecosystem attempts do not add up to total", "warning")
        )
    return scan


def read_batch_summary(path: Path, *, rel: str | None = None) -> SummaryScan:
    """Read ``data/queues/batch-results.json``; a missing file has no summary."""
    rel = rel or str(path)
    if not path.exists():
        return SummaryScan()
    text, problem = read_text(path, rel)
    if text is None:
        return SummaryScan(problems=[problem] if problem else [])
    document, problem = loads(text, rel)
    if problem is not None:
        return SummaryScan(problems=[problem])
    return parse_batch_summary(document, rel)
