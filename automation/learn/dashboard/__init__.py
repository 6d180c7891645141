"""``invoke dashboard``: a static HTML dashboard (inline SVG) plus ``dashboard.json``.

I/O lives here (reading the registry, writing the two files); the numbers are
:func:`automation.learn.dashboard.data.aggregate` and the page is
:func:`automation.learn.dashboard.render.render_html`, both pure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core.atomic import atomic_write_json, atomic_write_text
from automation.core.errors import DataError, ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.core.report import Problem
from automation.core.timefmt import now as clock_now
from automation.core.timefmt import parse_timestamp
from automation.learn.dashboard.data import DashboardData, Loaded, aggregate
from automation.learn.dashboard.render import render_html
from automation.learn.gaps import analyse, load_inputs
from automation.learn.sli import evaluate, load_thresholds
from automation.registry.budget import Spend, read_week, week_start
from automation.registry.control import read_control, require_valid
from automation.registry.manifest import BatchManifest, manifest_files, read_manifest_file
from automation.registry.metrics import MetricsRecord, metrics_files, read_metrics_file
from automation.registry.results import ResultLine, read_results_file, results_files

HTML_NAME = "index.html"
JSON_NAME = "dashboard.json"


def _severities(problems: list[Problem]) -> dict[str, int]:
    counts = Counter(p.severity for p in problems)
    return {s: counts.get(s, 0) for s in ("error", "warning", "normalised")}


def load(root: str | Path, *, now: datetime, config_path: Path | None = None) -> Loaded:
    """Read everything the dashboard shows; unreadable lines/files are counted, not fatal.

    The queue is the exception: an invalid queue raises DataError (as for every other task).
    """
    layout = RegistryLayout.at(root)
    inputs = load_inputs(layout, with_records=True)
    _, analysis = analyse(inputs)

    def rel(path: Path) -> str:
        return str(path.relative_to(layout.root))

    metrics: list[MetricsRecord] = []
    metric_problems: list[Problem] = []
    for path in metrics_files(layout):
        scan = read_metrics_file(path, rel=rel(path))
        metrics += scan.records
        metric_problems += scan.problems
    control = read_control(layout.control_file, rel=rel(layout.control_file))
    # Showing "emergency stop: off" for a control file that cannot be read would mislead:
    # like the queue, it must be valid (DataError, exit 3, naming the file).
    require_valid(control, layout.control_file)
    manifests: list[BatchManifest] = []
    manifest_problems: list[Problem] = []
    for path in manifest_files(layout):
        mscan = read_manifest_file(path, rel=rel(path))
        manifest_problems += mscan.problems
        if mscan.manifest is not None:
            manifests.append(mscan.manifest)
    results: list[ResultLine] = []
    result_problems: list[Problem] = []
    for path in results_files(layout):
        rscan = read_results_file(path, rel=rel(path))
        results += rscan.lines
        result_problems += rscan.problems
    spends: list[Spend] = []
    spend_problems: list[Problem] = []
    try:
        spends = read_week(layout, week_start(now))
    except DataError as exc:  # one bad ledger file: counted, like an unreadable metrics line
        spend_problems.append(Problem(exc.path or "", exc.where or "", exc.detail))
    thresholds = load_thresholds(layout.root, config_path)
    sli = evaluate(metrics, manifests, now, thresholds)
    failure_problems = {"error": len(inputs.record_problems), "warning": 0, "normalised": 0}
    return Loaded(
        root=str(layout.root),
        now=now,
        queue=inputs.queue,
        records=inputs.records,
        metrics=tuple(metrics),
        control=control.control,
        manifests=tuple(manifests),
        results=tuple(results),
        recipes=len(layout.recipe_files()),
        blockers=analysis.blockers,
        satisfied=analysis.satisfied,
        blocked_packages=len({n for b in analysis.blockers for n in b.direct}),
        weights=analysis.weights_source,
        sli=sli,
        spends=tuple(spends),
        problems={
            "failures": failure_problems,
            "metrics": _severities(metric_problems),
            "control": _severities(list(control.problems)),
            "batch manifests": _severities(manifest_problems),
            "results": _severities(result_problems),
            "runner minutes": _severities(spend_problems),
            "recipes": _severities(list(inputs.recipe_problems)),
        },
    )


@dataclass(frozen=True)
class DashboardReport:
    """What ``invoke dashboard`` wrote, and the numbers it wrote."""

    out: Path
    files: tuple[Path, ...]
    data: DashboardData

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "files": [str(f) for f in self.files],
            "dashboard": self.data.to_json(),
        }

    def to_text(self) -> str:
        d = self.data
        q = d.queue
        lines = [
            f"Dashboard written to {self.out / HTML_NAME} (numbers: {self.out / JSON_NAME})",
            f"queue {q.total:,} entries: "
            + ", ".join(f"{s} {n:,}" for s, n in q.by_status.items() if n),
            f"runs {d.runs.records:,} ({d.runs.empty:,} empty), merged {d.runs.merged:,}, "
            f"last merge {d.runs.last_successful_run or 'never'}",
            f"failures {d.failures.records:,}: "
            + ", ".join(f"{c} {n:,}" for c, n in d.failures.by_category.items() if n),
            f"breakers open: {', '.join(d.control.open_breakers) or 'none'}; emergency stop: "
            + ("ON" if not d.control.enabled else "off"),
            f"SLI alerts: {len(d.sli.alerts)}",
        ]
        return "\n".join(lines)


def build_dashboard(
    root: str | Path,
    out: str | Path,
    *,
    at: str | None = None,
    config_path: str | Path | None = None,
    now: datetime | None = None,
) -> DashboardReport:
    """Read registry ``root`` and write ``<out>/index.html`` and ``<out>/dashboard.json``.

    ``at`` (RFC 3339) dates the page (breaker states, SLI window) instead of now.
    """
    if not str(out).strip():
        raise UsageError("--out is required")
    if at is not None:
        try:
            now = parse_timestamp(at)
        except ValueError as exc:
            raise UsageError(f"--at: {exc}") from None
    moment = now or clock_now()
    loaded = load(root, now=moment, config_path=Path(config_path) if config_path else None)
    data = aggregate(loaded)
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {target} exists and is not a directory")
    target.mkdir(parents=True, exist_ok=True)
    html_path, json_path = target / HTML_NAME, target / JSON_NAME
    atomic_write_json(json_path, data.to_json())
    atomic_write_text(html_path, render_html(data))
    return DashboardReport(target.resolve(), (html_path, json_path), data)
