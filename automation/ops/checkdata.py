"""``check-data``: validate every data file and recipe of a registry checkout, and account for all.

Every file under ``data/`` and ``recipes/`` and every ``*.json`` at the root is claimed by exactly
one reader (or skipped with a stated reason); a file nobody claims is reported as "unrecognised".
The report counts files and records per kind and lists every problem with its place and severity
(error | warning | normalised). Exit code: 0 without errors, ``ExitCode.DATA_ERROR`` otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from automation.core import schemas
from automation.core.ecosystem_facts import legacy_queue_files
from automation.core.errors import DataError, ExitCode, UsageError
from automation.core.jsondata import loads, read_text
from automation.core.layout import RegistryLayout
from automation.core.report import Problem, Severity
from automation.registry.failures import read_failure_file

# The text rendering groups each kind's problems by what they say (names and numbers aside) and
# lists a few of each group; JSON lists every problem.
TEXT_CAP = 5  # problems listed per group
GROUP_CAP = 12  # groups listed per kind
_VARIABLE = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")
_SEVERITY_ORDER = ("error", "warning", "normalised")


def _grouped_lines(problems: list[Problem]) -> list[str]:
    """Problems of one kind, grouped by message shape; errors first, then rarer groups first."""
    groups: dict[tuple[str, str], list[Problem]] = {}
    for problem in problems:
        key = (problem.severity, _VARIABLE.sub("…", problem.message))
        groups.setdefault(key, []).append(problem)
    ordered = sorted(
        groups.items(), key=lambda kv: (_SEVERITY_ORDER.index(kv[0][0]), len(kv[1]), kv[0][1])
    )
    lines: list[str] = []
    for (severity, _), members in ordered[:GROUP_CAP]:
        lines.append(f"  [{severity} ×{len(members)}]")
        lines += [f"    {p}" for p in members[:TEXT_CAP]]
        if len(members) > TEXT_CAP:
            lines.append(f"    … {len(members) - TEXT_CAP} more")
    rest = ordered[GROUP_CAP:]
    if rest:
        lines.append(
            f"  … {len(rest)} more groups ({sum(len(m) for _, m in rest)} problems; see --json)"
        )
    return lines


# The first-run banner tsuku prints before anything else; a failure message that holds nothing
# more than this (plus progress lines) lost the real error to the reference's 500-char cut.
TELEMETRY_BANNER = "tsuku collects anonymous usage statistics to improve the tool."
_ERROR_LINE = re.compile(r"(?m)^\s*(error|fatal|panic)\b|\berror:", re.IGNORECASE)
_HYPHENATED_UPDATED_AT = re.compile(
    r'"updated_at"\s*:\s*"(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?Z)"'
)
_FAILURE_FILE = re.compile(
    r"^[a-z0-9][a-z0-9_.-]*-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z(-\d+)?\.jsonl$"
)

# Kinds in report order, with a one-line description for the text table.
KINDS: dict[str, str] = {
    "queue": "priority queue (data/queues/priority-queue.json)",
    "legacy_queue": "legacy packages[] queue (read only)",
    "batch_summary": "orchestrator summary (data/queues/batch-results.json)",
    "failures": "failure records (data/failures/*.jsonl)",
    "metrics": "SLI metrics (data/metrics/batch-runs*.jsonl)",
    "seeding_runs": "seeding runs (data/metrics/seeding-runs.jsonl)",
    "runner_minutes": "runner-minute ledger (data/metrics/runner-minutes/<week>/*.json)",
    "control": "control file (batch-control.json)",
    "audits": "disambiguation audits (data/disambiguations/audit/*.json)",
    "decisions": "disambiguation envelopes (data/disambiguations/*.jsonl)",
    "discovery_seeds": "discovery seeds (data/discovery-seeds/*.json)",
    "discovery": "discovery registry (recipes/discovery/**/*.json)",
    "results": "validation results (data/results/<batch>/<env>.jsonl)",
    "manifests": "batch manifests (data/batches/*.json)",
    "dep_mapping": "dependency mapping (data/dep-mapping.json)",
    "schema_checked": "other JSON data files with a schema of the same name",
    "staging": "batch staging (data/staging/<batch>/: generation log, selection, recipes)",
    "shipped_lists": "popularity lists shipped with the registry (data/*.min.json, syntax checked)",
    "recipes": "recipes (recipes/<letter>/<name>.toml)",
    "json_only": "root JSON files the batch pipeline does not read (syntax checked)",
    "skipped": "not data of the live pipeline (examples, schemas, docs, placeholders)",
    "unrecognised": "files no reader claims",
}


@dataclass
class KindSummary:
    """Counts for one kind of file: ``files`` plus named item counts and value breakdowns."""

    files: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    details: dict[str, Counter[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def detail(self, name: str) -> Counter[str]:
        return self.details.setdefault(name, Counter())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"files": self.files}
        out.update(sorted(self.counts.items()))
        if self.details:
            out["details"] = {
                name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
                for name, c in sorted(self.details.items())
            }
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class CheckDataReport:
    """What ``check_data`` found: per-kind counts, every problem, and where every file went."""

    root: str
    kinds: dict[str, KindSummary] = field(default_factory=dict)
    problems: list[tuple[str, Problem]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    unrecognised: list[str] = field(default_factory=list)
    files_seen: int = 0
    elapsed_seconds: float = 0.0

    def kind(self, name: str) -> KindSummary:
        return self.kinds.setdefault(name, KindSummary())

    def add(self, kind: str, problems: list[Problem]) -> None:
        self.problems.extend((kind, p) for p in problems)

    def count(self, severity: Severity) -> int:
        return sum(1 for _, p in self.problems if p.severity == severity)

    @property
    def files_accounted(self) -> int:
        return sum(k.files for k in self.kinds.values())

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.DATA_ERROR if self.count("error") else ExitCode.OK

    def problem_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {}
        for kind, problem in self.problems:
            out.setdefault(kind, Counter())[problem.severity] += 1
        return {kind: dict(out[kind]) for kind in KINDS if kind in out}

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "exit_code": int(self.exit_code),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "files_seen": self.files_seen,
            "files_accounted": self.files_accounted,
            "totals": {s: self.count(s) for s in ("error", "warning", "normalised")},
            "kinds": {k: self.kinds[k].to_json() for k in KINDS if k in self.kinds},
            "problem_counts": self.problem_counts(),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "unrecognised": list(self.unrecognised),
            "problems": [{"kind": kind, **p.to_json()} for kind, p in self.problems],
        }

    def to_text(self) -> str:
        lines = [f"check-data {self.root}", ""]
        header = f"{'kind':<16} {'files':>6}  counts"
        lines += [header, "-" * len(header)]
        for name in KINDS:
            summary = self.kinds.get(name)
            if summary is None:
                continue
            counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
            lines.append(f"{name:<16} {summary.files:>6}  {counts}".rstrip())
        lines.append("")
        by_kind: dict[str, list[Problem]] = {}
        for kind, problem in self.problems:
            by_kind.setdefault(kind, []).append(problem)
        for kind in KINDS:
            found = by_kind.get(kind)
            if not found:
                continue
            tally = Counter(p.severity for p in found)
            summary_text = ", ".join(f"{n} {s}" for s, n in sorted(tally.items()))
            lines.append(f"{kind}: {summary_text}")
            lines += _grouped_lines(found)
        if self.unrecognised:
            lines.append(f"unrecognised files: {len(self.unrecognised)}")
        lines.append(
            f"{self.files_seen} files, {self.files_accounted} accounted for; "
            f"{self.count('error')} errors, {self.count('warning')} warnings, "
            f"{self.count('normalised')} normalised; {self.elapsed_seconds:.1f} s"
        )
        return "\n".join(lines)


# --- per-kind checkers ----------------------------------------------------------------------
# Each takes the report, the layout and the files it claimed (absolute paths, sorted).

Checker = Callable[[CheckDataReport, RegistryLayout, list[Path]], None]


def _rel(layout: RegistryLayout, path: Path) -> str:
    return path.relative_to(layout.root).as_posix()


def _check_queue(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.core.ecosystem_facts import refusal_for, split_source
    from automation.core.timefmt import parse_timestamp
    from automation.registry.queue import read_queue

    summary = report.kind("queue")
    # (letter folder, stem) of every recipe file: one walk, not a stat per queue entry.
    recipes = {(p.parent.name, p.stem) for p in layout.recipe_files()}
    for path in paths:
        rel = _rel(layout, path)
        summary.files += 1
        loaded = read_queue(path, rel=rel)
        report.add("queue", list(loaded.problems))
        summary.counts["entries"] += len(loaded.queue.entries)
        problems: list[Problem] = []
        for index, entry in enumerate(loaded.queue.entries):
            summary.detail("status")[entry.status] += 1
            try:
                ecosystem, identifier = split_source(entry.source)
            except DataError as exc:
                problems.append(Problem(rel, f"entries[{index}].source", exc.detail))
                continue
            summary.detail("ecosystem")[entry.source.split(":", 1)[0]] += 1
            if entry.next_retry_at:
                try:
                    year = parse_timestamp(entry.next_retry_at).year
                except ValueError:
                    year = 9999  # already reported by the queue reader
                if year < 2000:
                    summary.counts["retry_overflow"] += 1
                    problems.append(
                        Problem(
                            rel,
                            f"entries[{index}].next_retry_at",
                            f"{entry.name!r}: next_retry_at {entry.next_retry_at} is in year "
                            f"{year} (backoff overflow after {entry.failure_count} failures): "
                            "no backoff at all",
                            "warning",
                        )
                    )
            if entry.status == "pending" and (entry.name[:1], entry.name) in recipes:
                summary.counts["pending_with_recipe"] += 1
                recipe = f"recipes/{entry.name[0]}/{entry.name}.toml"
                problems.append(
                    Problem(
                        rel,
                        f"entries[{index}].name",
                        # Variable parts quoted: the text report groups these as one.
                        f"{entry.name!r}: pending, but {recipe!r} exists: a batch skips it "
                        "(merge then marks it success); generate --force <name> replaces a "
                        "recipe that is not curated",
                        "warning",
                    )
                )
            refusal = refusal_for(ecosystem, identifier) if entry.status == "pending" else None
            if refusal is not None:
                summary.counts[refusal.counter] += 1
                warning = refusal.pending_warning or f"pending, but {refusal.message}"
                problems.append(
                    Problem(
                        rel, f"entries[{index}].source", f"{entry.name!r}: {warning}", "warning"
                    )
                )
        report.add("queue", problems)


def _check_legacy_queue(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.queue import read_queue

    summary = report.kind("legacy_queue")
    for path in paths:
        summary.files += 1
        loaded = read_queue(path, rel=_rel(layout, path))
        report.add("legacy_queue", list(loaded.problems))
        summary.counts["packages"] += len(loaded.queue.entries)


def _check_batch_summary(
    report: CheckDataReport, layout: RegistryLayout, paths: list[Path]
) -> None:
    from automation.registry.results import read_batch_summary

    summary = report.kind("batch_summary")
    for path in paths:
        summary.files += 1
        scan = read_batch_summary(path, rel=_rel(layout, path))
        report.add("batch_summary", scan.problems)
        if scan.summary is not None:
            summary.counts["runs"] += 1
            summary.counts["attempted"] += scan.summary.total


def _banner_only(message: str) -> bool:
    """The message is tsuku's telemetry banner with no error after it (the error was cut off)."""
    if TELEMETRY_BANNER not in message:
        return False
    rest = message.split("TSUKU_NO_TELEMETRY=1", 1)[-1]
    return _ERROR_LINE.search(rest) is None


def _check_failures(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.failures import LEGACY_CATEGORIES

    summary = report.kind("failures")
    categories = summary.detail("category")
    legacy = summary.detail("legacy_category")
    for path in paths:
        rel = _rel(layout, path)
        summary.files += 1
        is_batch_file = path.name.startswith("batch-")
        summary.detail("file_prefix")[path.name.split("-", 1)[0]] += 1
        if not _FAILURE_FILE.match(path.name):
            report.add(
                "failures",
                [
                    Problem(
                        rel,
                        "",
                        "file name is not <ecosystem>-<YYYY-MM-DDTHH-MM-SSZ>.jsonl",
                        "warning",
                    )
                ],
            )
        scan = read_failure_file(path, rel=rel)
        problems = list(scan.problems)
        summary.counts["lines"] += scan.lines
        summary.counts["records"] += len(scan.records)
        for record in scan.records:
            if record.shape == "ecosystem":
                summary.counts["envelope_records"] += 1
            elif is_batch_file:
                summary.counts["platform_records"] += 1
            else:
                summary.counts["platform_records_in_ecosystem_files"] += 1
            categories[record.category] += 1
            if record.raw_category in LEGACY_CATEGORIES:
                legacy[record.raw_category] += 1
                problems.append(
                    Problem(
                        rel,
                        f"line {record.line}",
                        f"{record.name!r}: legacy category {record.raw_category!r} read as "
                        f"{record.category!r}",
                        "normalised",
                    )
                )
            if record.shape == "ecosystem" and _banner_only(record.message):
                summary.counts["banner_only_messages"] += 1
                problems.append(
                    Problem(
                        rel,
                        f"line {record.line}",
                        f"{record.package_id!r}: message is only tsuku's telemetry banner "
                        "(the real error was cut off)",
                        "warning",
                    )
                )
        if scan.shapes.get("ecosystem"):
            # The reader does not keep the envelope's updated_at; the file-name form is found in
            # the text (a cheap scan; the line is known to be a valid envelope already).
            text, _ = read_text(path, rel)
            for lineno, line in enumerate((text or "").splitlines(), start=1):
                match = _HYPHENATED_UPDATED_AT.search(line)
                if match:
                    summary.counts["hyphenated_updated_at"] += 1
                    problems.append(
                        Problem(
                            rel,
                            f"line {lineno} updated_at",
                            f"file-name timestamp {match[1]!r} read as RFC3339",
                            "normalised",
                        )
                    )
        report.add("failures", problems)


def _check_metrics(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.metrics import read_metrics_file

    summary = report.kind("metrics")
    for path in paths:
        summary.files += 1
        scan = read_metrics_file(path, rel=_rel(layout, path))
        report.add("metrics", scan.problems)
        summary.counts["records"] += len(scan.records)
        summary.counts["legacy_records"] += scan.legacy
        summary.counts["empty_runs"] += sum(1 for r in scan.records if r.total == 0)
        summary.counts["merged"] += sum(r.merged for r in scan.records)


def _check_seeding(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.metrics import read_seeding_runs

    summary = report.kind("seeding_runs")
    for path in paths:
        summary.files += 1
        scan = read_seeding_runs(path, rel=_rel(layout, path))
        report.add("seeding_runs", scan.problems)
        summary.counts["runs"] += len(scan.runs)
        summary.counts["source_changes"] += sum(len(r.source_changes) for r in scan.runs)


def _check_control(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    summary = report.kind("control")
    for path in paths:
        rel = _rel(layout, path)
        summary.files += 1
        try:
            from automation.registry.control import read_control
        except ImportError:  # the control module is optional for this check
            _check_with_schema(report, "control", path, rel, "batch-control")
            continue
        try:
            loaded = read_control(path, rel=rel)
        except (ValueError, RecursionError) as exc:  # JSON the control reader does not catch
            report.add("control", [Problem(rel, "", f"invalid JSON: {str(exc)[:300]}")])
            continue
        report.add("control", list(loaded.problems))
        summary.counts["breakers"] += len(loaded.control.breakers)


def _check_audits(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.disambiguations import read_audit_file

    summary = report.kind("audits")
    for path in paths:
        summary.files += 1
        scan = read_audit_file(path, rel=_rel(layout, path))
        report.add("audits", scan.problems)
        if scan.record is not None:
            summary.counts["records"] += 1
            summary.detail("selection_reason")[scan.record.selection_reason] += 1
            if scan.record.high_risk:
                summary.counts["high_risk"] += 1


def _check_decisions(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.disambiguations import read_decision_file

    summary = report.kind("decisions")
    for path in paths:
        summary.files += 1
        scan = read_decision_file(path, rel=_rel(layout, path))
        report.add("decisions", scan.problems)
        summary.counts["lines"] += scan.lines
        summary.counts["decisions"] += scan.decisions


def _load_json(report: CheckDataReport, kind: str, path: Path, rel: str) -> tuple[bool, Any]:
    text, problem = read_text(path, rel)
    if text is None:
        report.add(kind, [problem] if problem else [])
        return False, None
    document, problem = loads(text, rel)
    if problem is not None:
        report.add(kind, [problem])
        return False, None
    return True, document


def _check_with_schema(
    report: CheckDataReport, kind: str, path: Path, rel: str, schema: str
) -> Any:
    ok, document = _load_json(report, kind, path, rel)
    if not ok:
        return None
    problems = schemas.check(document, schema, path=rel)
    report.add(kind, problems)
    return None if problems else document


def _check_discovery_seeds(
    report: CheckDataReport, layout: RegistryLayout, paths: list[Path]
) -> None:
    summary = report.kind("discovery_seeds")
    for path in paths:
        summary.files += 1
        document = _check_with_schema(
            report, "discovery_seeds", path, _rel(layout, path), "discovery-seeds"
        )
        if document is not None:
            summary.counts["entries"] += len(document["entries"])


def _check_discovery(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    summary = report.kind("discovery")
    for path in paths:
        rel = _rel(layout, path)
        summary.files += 1
        document = _check_with_schema(report, "discovery", path, rel, "discovery-entry")
        if document is None:
            continue
        summary.counts["entries"] += 1
        summary.detail("builder")[document["builder"]] += 1
        name = path.name.removesuffix(".json")
        expected = (name[:1], name[:2] if len(name) > 1 else "_")
        if (path.parent.parent.name, path.parent.name) != expected:
            report.add(
                "discovery",
                [
                    Problem(
                        rel,
                        "",
                        f"belongs in recipes/discovery/{expected[0]}/{expected[1]}/",
                        "warning",
                    )
                ],
            )


def _check_results(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.results import read_results_file

    summary = report.kind("results")
    batches: set[str] = set()
    for path in paths:
        summary.files += 1
        batches.add(path.parent.name)
        scan = read_results_file(path, rel=_rel(layout, path))
        report.add("results", scan.problems)
        summary.counts["lines"] += scan.line_count
        latest = scan.latest()
        summary.counts["results"] += len(latest)
        summary.counts["superseded"] += scan.superseded
        for line in latest.values():
            summary.detail("status")[line.status] += 1
    summary.counts["batches"] = len(batches)


def _check_manifests(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.manifest import read_manifest_file

    summary = report.kind("manifests")
    for path in paths:
        summary.files += 1
        scan = read_manifest_file(path, rel=_rel(layout, path))
        report.add("manifests", scan.problems)
        if scan.manifest is not None:
            summary.counts["manifests"] += 1
            summary.counts["file_changes"] += len(scan.manifest.files)
            summary.counts["queue_changes"] += len(scan.manifest.queue_changes)
            summary.detail("status")[scan.manifest.status] += 1


def _check_dep_mapping(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    from automation.registry.depmapping import read_dep_mapping_file

    summary = report.kind("dep_mapping")
    for path in paths:
        summary.files += 1
        scan = read_dep_mapping_file(path, rel=_rel(layout, path))
        report.add("dep_mapping", scan.problems)
        summary.counts["mappings"] += len(scan.mapping)


def _check_schema_checked(
    report: CheckDataReport, layout: RegistryLayout, paths: list[Path]
) -> None:
    summary = report.kind("schema_checked")
    for path in paths:
        summary.files += 1
        stem = path.name.removesuffix(".json")
        summary.detail("schema")[stem] += 1
        _check_with_schema(report, "schema_checked", path, _rel(layout, path), stem)


def _check_runner_minutes(
    report: CheckDataReport, layout: RegistryLayout, paths: list[Path]
) -> None:
    summary = report.kind("runner_minutes")
    for path in paths:
        summary.files += 1
        document = _check_with_schema(
            report, "runner_minutes", path, _rel(layout, path), "runner-minutes"
        )
        if isinstance(document, dict):
            summary.detail("minutes")[str(document["runner"])] += int(document["minutes"])


def _check_staging(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    """A batch's staging folder, read by the readers the stages use: the generation log(s), the
    selection, the staged recipes (checked like recipes: they are what merge copies)."""
    from automation.registry.recipes import check_document, load_recipe_text
    from automation.registry.reservation import ABANDON_MARKER, ABANDONED_DIR
    from automation.registry.staging import Staging

    summary = report.kind("staging")
    staging_root = layout.root / "data" / "staging"
    # A batch folder is data/staging/<batch>/ or, once abandoned, data/staging/.abandoned/<batch>/.
    batches: dict[tuple[str, ...], list[Path]] = {}
    for path in paths:
        summary.files += 1
        parts = path.relative_to(staging_root).parts
        key = parts[:2] if parts[0] == ABANDONED_DIR else parts[:1]
        batches.setdefault(key, []).append(path)
    for key, files in sorted(batches.items()):
        summary.counts["batches"] += 1
        batch_id = key[-1]
        try:
            staging = Staging(layout, batch_id)
        except DataError as exc:
            folder = _rel(layout, staging_root.joinpath(*key))
            report.add("staging", [Problem(folder, "", f"not a batch folder: {exc.detail}")])
            continue
        first_problem = len(report.problems)
        if key[0] == ABANDONED_DIR:
            summary.counts["abandoned"] += 1
            staging.dir = staging_root.joinpath(*key)
        for path in files:
            rel = _rel(layout, path)
            try:
                if path.name == ABANDON_MARKER:
                    _load_json(report, "staging", path, rel)
                elif path.name.startswith("generation") and path.suffix == ".jsonl":
                    summary.counts["outcomes"] += len(staging._read_log(path))
                elif path.name == "selection.json":
                    staging.selection_record()
                elif path.parent.name == "recipes" and path.suffix == ".toml":
                    # Checked as a recipe, but for placement: it lives in the staging folder.
                    text = path.read_text(encoding="utf-8")
                    report.add("staging", check_document(load_recipe_text(text, path=rel)))
                else:
                    report.add("staging", [Problem(rel, "", "not a staging file", "warning")])
            except (OSError, UnicodeDecodeError) as exc:
                report.add("staging", [Problem(rel, "", f"cannot read: {exc}")])
            except DataError as exc:
                report.add("staging", [Problem(rel, exc.where or "", exc.detail)])
        if key[0] == ABANDONED_DIR:
            # Retired: no stage reads an abandoned batch again, so what is wrong in it is kept
            # as evidence and reported, but blocks nothing.
            report.problems[first_problem:] = [
                (
                    kind,
                    dataclasses.replace(
                        p, severity="warning", message=f"abandoned batch: {p.message}"
                    ),
                )
                for kind, p in report.problems[first_problem:]
            ]


def _check_json_only(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    summary = report.kind("json_only")
    for path in paths:
        summary.files += 1
        _load_json(report, "json_only", path, _rel(layout, path))


def _check_shipped_lists(
    report: CheckDataReport, layout: RegistryLayout, paths: list[Path]
) -> None:
    summary = report.kind("shipped_lists")
    for path in paths:
        summary.files += 1
        _load_json(report, "shipped_lists", path, _rel(layout, path))


def _tomllib_problems(path: Path, rel: str) -> list[Problem]:
    import tomllib

    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(rel, "", f"cannot read: {exc}")]
    except tomllib.TOMLDecodeError as exc:
        return [Problem(rel, "", f"invalid TOML: {exc}")]
    return []


def _check_recipes(report: CheckDataReport, layout: RegistryLayout, paths: list[Path]) -> None:
    check: Callable[[Path, str], list[Problem]]
    try:
        from automation.registry.recipes import check_recipe_file

        def check(path: Path, rel: str) -> list[Problem]:
            return check_recipe_file(path, rel=rel)

    except ImportError:  # until the recipe checker exists: syntax only
        check = _tomllib_problems
    summary = report.kind("recipes")
    for path in paths:
        summary.files += 1
        problems = check(path, _rel(layout, path))
        report.add("recipes", problems)
        if any(p.severity == "error" for p in problems):
            summary.counts["invalid"] += 1


_CHECKERS: dict[str, Checker] = {
    "queue": _check_queue,
    "legacy_queue": _check_legacy_queue,
    "batch_summary": _check_batch_summary,
    "failures": _check_failures,
    "metrics": _check_metrics,
    "seeding_runs": _check_seeding,
    "runner_minutes": _check_runner_minutes,
    "control": _check_control,
    "audits": _check_audits,
    "decisions": _check_decisions,
    "discovery_seeds": _check_discovery_seeds,
    "discovery": _check_discovery,
    "results": _check_results,
    "manifests": _check_manifests,
    "dep_mapping": _check_dep_mapping,
    "schema_checked": _check_schema_checked,
    "json_only": _check_json_only,
    "recipes": _check_recipes,
    "staging": _check_staging,
    "shipped_lists": _check_shipped_lists,
}


# --- claiming files -------------------------------------------------------------------------

_SKIP_DIRS = {
    ("data", "examples"): "example file, not a data file of the live pipeline",
    ("data", "schemas"): "the reference's own (stale) schema, not a data file of the live pipeline",
}
_DOC_NAMES = {"README.md", "README", ".gitkeep", ".gitignore", "LICENSE"}


def classify(parts: tuple[str, ...], schema_names: frozenset[str]) -> tuple[str, str]:
    """``(kind, note)`` for a root-relative path split in parts; kind "unrecognised" if unclaimed.

    ``note`` is the reason for ``skipped`` files and empty otherwise.
    """
    name = parts[-1]
    depth = len(parts)
    if depth == 1:
        if name == "batch-control.json":
            return "control", ""
        stem = name.removesuffix(".json")
        if stem in schema_names:
            return "schema_checked", ""
        return "json_only", ""
    top = parts[0]
    if name in _DOC_NAMES or (name.endswith(".md") and top in ("data", "recipes")):
        return "skipped", "documentation or placeholder"
    if top == "recipes":
        if depth == 3 and len(parts[1]) == 1 and name.endswith(".toml"):
            return "recipes", ""
        if depth == 5 and parts[1] == "discovery" and name.endswith(".json"):
            return "discovery", ""
        return "unrecognised", ""
    # top == "data"
    if depth >= 3 and (parts[0], parts[1]) in _SKIP_DIRS:
        return "skipped", _SKIP_DIRS[(parts[0], parts[1])]
    sub = parts[1] if depth >= 3 else ""
    if depth == 3 and sub == "queues":
        if name == "priority-queue.json":
            return "queue", ""
        if name in legacy_queue_files():
            return "legacy_queue", ""
        if name == "batch-results.json":
            return "batch_summary", ""
    if depth == 3 and sub == "failures" and name.endswith(".jsonl"):
        return "failures", ""
    if depth == 5 and sub == "metrics" and parts[2] == "runner-minutes" and name.endswith(".json"):
        return "runner_minutes", ""
    if depth == 3 and sub == "metrics":
        if name == "seeding-runs.jsonl":
            return "seeding_runs", ""
        if name.startswith("batch-runs") and name.endswith(".jsonl"):
            return "metrics", ""
    if sub == "disambiguations":
        if depth == 4 and parts[2] == "audit" and name.endswith(".json"):
            return "audits", ""
        if depth == 3 and name.endswith(".jsonl"):
            return "decisions", ""
    if depth == 3 and sub == "discovery-seeds" and name.endswith(".json"):
        return "discovery_seeds", ""
    if depth == 4 and sub == "results" and name.endswith(".jsonl"):
        return "results", ""
    if depth == 3 and sub == "batches" and name.endswith(".json"):
        return "manifests", ""
    if depth == 2 and name == "dep-mapping.json":
        return "dep_mapping", ""
    if depth >= 4 and sub == "staging":
        return "staging", ""
    if depth == 2 and name.endswith(".min.json"):
        return "shipped_lists", ""
    if name.endswith(".json") and name.removesuffix(".json") in schema_names:
        return "schema_checked", ""
    return "unrecognised", ""


def _walk(layout: RegistryLayout) -> list[tuple[str, ...]]:
    """Every file under ``data/`` and ``recipes/`` and every ``*.json`` at the root, as parts."""
    found: list[tuple[str, ...]] = []
    root = layout.root
    if root.is_dir():
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.is_file() and entry.name.endswith(".json"):
                found.append((entry.name,))
    for top in ("data", "recipes"):
        base = root / top
        if not base.is_dir():
            continue
        for directory, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel_dir = PurePosixPath(Path(directory).relative_to(root).as_posix())
            for filename in sorted(filenames):
                found.append((*rel_dir.parts, filename))
    return found


def check_data(layout: RegistryLayout) -> CheckDataReport:
    """Validate every data file and recipe under ``layout.root``; account for every file."""
    if not layout.root.is_dir():
        raise UsageError(f"registry root {layout.root} is not a directory")
    started = time.perf_counter()
    report = CheckDataReport(root=str(layout.root))
    names = frozenset(schemas.schema_names())
    claimed: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for parts in _walk(layout):
        report.files_seen += 1
        kind, note = classify(parts, names)
        rel = "/".join(parts)
        if kind == "skipped":
            report.kind("skipped").files += 1
            report.skipped.append((rel, note))
        elif kind == "unrecognised":
            report.kind("unrecognised").files += 1
            report.unrecognised.append(rel)
            report.add(
                "unrecognised",
                [Problem(rel, "", "no reader claims this file (unrecognised)", "warning")],
            )
        else:
            claimed[kind].append(layout.root.joinpath(*parts))
    for kind, checker in _CHECKERS.items():
        paths = claimed[kind]
        if not paths:
            continue
        began = time.perf_counter()
        checker(report, layout, paths)
        report.kind(kind).seconds = time.perf_counter() - began
    report.elapsed_seconds = time.perf_counter() - started
    return report
