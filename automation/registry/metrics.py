"""SLI metrics (``data/metrics/batch-runs*.jsonl``) and seeding runs (``seeding-runs.jsonl``).

Despite the ``.jsonl`` suffix the reference files hold pretty-printed JSON objects, several of them
concatenated in ``batch-runs.jsonl``: they are stream-decoded, never split by line. Legacy records
(``"ecosystem": "homebrew"`` instead of ``"ecosystems": {...}``) are read and reported as
"normalised". The kit writes its own records compactly, one per line, after schema validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core import schemas
from automation.core.atomic import append_jsonl
from automation.core.errors import DataError
from automation.core.jsondata import iter_json_stream, non_finite_paths, read_text
from automation.core.layout import RegistryLayout
from automation.core.report import Problem
from automation.core.timefmt import format_filename_stamp, parse_timestamp

SEEDING_RUNS_FILE = "seeding-runs.jsonl"


@dataclass(frozen=True, slots=True)
class PlatformCounts:
    """Validation counts of one platform bucket (the reference uses job names as buckets)."""

    bucket: str
    tested: int
    passed: int
    failed: int


@dataclass(frozen=True, slots=True)
class GenerationCounts:
    """Generation outcomes of a run (written by this kit; absent from reference records)."""

    attempted: int
    succeeded: int
    failed: int
    blocked: int
    skipped: int = 0

    def to_json(self) -> dict[str, int]:
        out = {
            "attempted": self.attempted,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "blocked": self.blocked,
        }
        if self.skipped:
            out["skipped"] = self.skipped
        return out


@dataclass(frozen=True, slots=True)
class MetricsRecord:
    """One batch run's SLI record.

    ``ecosystems`` pairs each ecosystem with the number of queue entries attempted; a legacy record
    names a single ecosystem without that number, so its count is ``None`` and ``legacy`` is set.
    """

    batch_id: str
    ecosystems: tuple[tuple[str, int | None], ...]
    total: int
    generated: int
    platforms: tuple[PlatformCounts, ...]
    merged: int
    excluded: int
    constrained: int
    timestamp: str
    duration_seconds: float
    generation: GenerationCounts | None = None
    legacy: bool = False

    @property
    def ecosystem_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.ecosystems)

    def to_json(self) -> dict[str, Any]:
        """The record in the reference key order (legacy records keep their legacy key)."""
        out: dict[str, Any] = {"batch_id": self.batch_id}
        if self.legacy:
            out["ecosystem"] = self.ecosystems[0][0] if self.ecosystems else ""
        else:
            out["ecosystems"] = {name: count or 0 for name, count in self.ecosystems}
        out["total"] = self.total
        out["generated"] = self.generated
        out["platforms"] = {
            p.bucket: {"tested": p.tested, "passed": p.passed, "failed": p.failed}
            for p in self.platforms
        }
        out["merged"] = self.merged
        out["excluded"] = self.excluded
        out["constrained"] = self.constrained
        out["timestamp"] = self.timestamp
        out["duration_seconds"] = self.duration_seconds
        if self.generation is not None:
            out["generation"] = self.generation.to_json()
        return out


@dataclass
class MetricsScan:
    """What reading one metrics file found."""

    records: list[MetricsRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    values: int = 0  # JSON values decoded (valid or not)
    legacy: int = 0  # records read through the legacy `ecosystem` key


def _record_from_json(doc: dict[str, Any]) -> MetricsRecord:
    legacy = "ecosystems" not in doc
    ecosystems: tuple[tuple[str, int | None], ...]
    if legacy:
        ecosystems = ((doc["ecosystem"], None),)
    else:
        ecosystems = tuple((name, count) for name, count in doc["ecosystems"].items())
    generation = None
    if "generation" in doc:
        g = doc["generation"]
        generation = GenerationCounts(
            g["attempted"], g["succeeded"], g["failed"], g["blocked"], g.get("skipped", 0)
        )
    return MetricsRecord(
        batch_id=doc["batch_id"],
        ecosystems=ecosystems,
        total=doc["total"],
        generated=doc["generated"],
        platforms=tuple(
            PlatformCounts(bucket, c["tested"], c["passed"], c["failed"])
            for bucket, c in doc["platforms"].items()
        ),
        merged=doc["merged"],
        excluded=doc["excluded"],
        constrained=doc["constrained"],
        timestamp=doc["timestamp"],
        duration_seconds=doc["duration_seconds"],
        generation=generation,
        legacy=legacy,
    )


def _semantic_problems(record: MetricsRecord, rel: str, where: str) -> list[Problem]:
    problems: list[Problem] = []
    try:
        parse_timestamp(record.timestamp)
    except ValueError as exc:
        problems.append(Problem(rel, f"{where} timestamp", str(exc)))
    for p in record.platforms:
        if p.passed + p.failed > p.tested:
            problems.append(
                Problem(
                    rel,
                    f"{where} platforms.{p.bucket}",
                    f"passed {p.passed} + failed {p.failed} exceed tested {p.tested}",
                    "warning",
                )
            )
    return problems


def parse_metrics_text(text: str, rel: str) -> MetricsScan:
    """Stream-decode concatenated metrics records; every bad record is reported by line."""
    scan = MetricsScan()
    for decoded in iter_json_stream(text, rel):
        scan.values += 1
        if decoded.problem is not None:
            scan.problems.append(decoded.problem)
            continue
        where = f"line {decoded.line}"
        problems = schemas.check(decoded.value, "metrics", path=rel, where_prefix=where)
        if problems:
            scan.problems.extend(problems)
            continue
        record = _record_from_json(decoded.value)
        scan.problems.extend(_semantic_problems(record, rel, where))
        if record.legacy:
            scan.legacy += 1
            scan.problems.append(
                Problem(
                    rel,
                    f"{where} ecosystem",
                    f"legacy single-ecosystem record read as ecosystems "
                    f"[{record.ecosystems[0][0]!r}] (attempt count unknown)",
                    "normalised",
                )
            )
        scan.records.append(record)
    return scan


def read_metrics_file(path: Path, *, rel: str | None = None) -> MetricsScan:
    """Read one ``batch-runs*.jsonl`` file (pretty-printed, possibly concatenated records)."""
    rel = rel or str(path)
    text, problem = read_text(path, rel)
    if text is None:
        scan = MetricsScan()
        if problem is not None:
            scan.problems.append(problem)
        return scan
    return parse_metrics_text(text, rel)


def metrics_files(layout: RegistryLayout) -> list[Path]:
    """Every SLI metrics file (``batch-runs.jsonl`` and ``batch-runs-<stamp>.jsonl``), sorted."""
    if not layout.metrics_dir.is_dir():
        return []
    return sorted(layout.metrics_dir.glob("batch-runs*.jsonl"))


def iter_metrics(layout: RegistryLayout) -> Iterator[MetricsRecord]:
    """Every readable metrics record of a registry, in file then position order."""
    for path in metrics_files(layout):
        yield from read_metrics_file(path, rel=str(path.relative_to(layout.root))).records


def metrics_path_for(layout: RegistryLayout, record: MetricsRecord) -> Path:
    """``data/metrics/batch-runs-<YYYY-MM-DDTHH-MM-SSZ>.jsonl`` named after the record's time."""
    stamp = format_filename_stamp(parse_timestamp(record.timestamp))
    return layout.metrics_dir / f"batch-runs-{stamp}.jsonl"


def write_metrics_record(
    layout: RegistryLayout, record: MetricsRecord, *, path: Path | None = None
) -> Path:
    """Append ``record`` as one compact JSON line (schema-checked) and return the file written.

    Raises DataError for a legacy record or one that does not validate.
    """
    target = path or metrics_path_for(layout, record)
    append_jsonl(target, [checked_metrics_document(record, target)])
    return target


def checked_metrics_document(record: MetricsRecord, target: Path) -> dict[str, Any]:
    """The record as written to ``target``; DataError for a legacy or schema-invalid record."""
    if record.legacy:
        raise DataError(
            f"refusing to write a legacy single-ecosystem metrics record ({record.batch_id})"
        )
    document = record.to_json()
    problems = schemas.check(document, "metrics", path=str(target))
    problems += [
        Problem(str(target), place, "not a finite number") for place in non_finite_paths(document)
    ]
    if problems:
        raise DataError(
            f"refusing to write an invalid metrics record: {problems[0]}", path=str(target)
        )
    return document


# --- seeding runs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceChange:
    package: str
    old: str
    new: str
    priority: int
    auto_accepted: bool


@dataclass(frozen=True, slots=True)
class CuratedInvalid:
    package: str
    source: str
    error: str


@dataclass(frozen=True, slots=True)
class SeedingRun:
    """The summary of one non-dry seeding run (``internal/seed/summary.go`` shape)."""

    run_at: str
    sources_processed: tuple[str, ...]
    sources_failed: tuple[str, ...]
    new_packages: int
    stale_refreshed: int
    source_changes: tuple[SourceChange, ...]
    curated_skipped: int
    curated_invalid: tuple[CuratedInvalid, ...]
    errors: tuple[str, ...]

    @property
    def auto_accepted(self) -> int:
        return sum(1 for c in self.source_changes if c.auto_accepted)


@dataclass
class SeedingScan:
    runs: list[SeedingRun] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    values: int = 0


def _seeding_from_json(doc: dict[str, Any]) -> SeedingRun:
    return SeedingRun(
        run_at=doc["run_at"],
        sources_processed=tuple(doc["sources_processed"]),
        sources_failed=tuple(doc["sources_failed"]),
        new_packages=doc["new_packages"],
        stale_refreshed=doc["stale_refreshed"],
        source_changes=tuple(
            SourceChange(c["package"], c["old"], c["new"], c["priority"], c["auto_accepted"])
            for c in doc["source_changes"]
        ),
        curated_skipped=doc["curated_skipped"],
        curated_invalid=tuple(
            CuratedInvalid(c["package"], c["source"], c["error"]) for c in doc["curated_invalid"]
        ),
        errors=tuple(doc["errors"]),
    )


def parse_seeding_text(text: str, rel: str) -> SeedingScan:
    """Decode seeding-run records (one compact line each; pretty records are accepted too)."""
    scan = SeedingScan()
    for decoded in iter_json_stream(text, rel):
        scan.values += 1
        if decoded.problem is not None:
            scan.problems.append(decoded.problem)
            continue
        where = f"line {decoded.line}"
        problems = schemas.check(decoded.value, "seeding-run", path=rel, where_prefix=where)
        if problems:
            scan.problems.extend(problems)
            continue
        run = _seeding_from_json(decoded.value)
        try:
            parse_timestamp(run.run_at)
        except ValueError as exc:
            scan.problems.append(Problem(rel, f"{where} run_at", str(exc)))
            continue
        scan.runs.append(run)
    return scan


def read_seeding_runs(path: Path, *, rel: str | None = None) -> SeedingScan:
    """Read ``data/metrics/seeding-runs.jsonl``; a missing file holds no runs."""
    rel = rel or str(path)
    if not path.exists():
        return SeedingScan()
    text, problem = read_text(path, rel)
    if text is None:
        return SeedingScan(problems=[problem] if problem else [])
    return parse_seeding_text(text, rel)
