"""Service-level indicators of the batch pipeline, with alert thresholds (``invoke sli``).

Indicators, over a window that ends at ``now`` (metrics records, reference §1.7, and the kit's
batch manifests):

* **runs**: batch runs recorded in the window (a pipeline that stopped running records none);
* **empty run ratio**: runs that attempted nothing (``total == 0``) over all runs; the reference
  pipeline wrote 1,631 such records while deadlocked (§4.2);
* **generation success rate**: ``generation.succeeded / generation.attempted``; only this kit's
  records carry generation counts (the reference records cannot compute it, §4.4);
* **validation pass rate per environment**: ``passed / (passed + failed)`` per platform bucket;
* **merge rate**: ``merged / total`` over the runs that attempted something;
* **hours since the last merge**: the newest record with ``merged > 0`` or merged manifest that
  created or changed a recipe, over all history (not just the window).

An indicator with no data in the window is reported as such and does not alert on its own; the
``runs`` indicator is what catches a pipeline that does nothing. Any alert makes the report exit
with ``ExitCode.PARTIAL`` (4) so CI can act on it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from automation.core import schemas
from automation.core.config import CONFIG_FILE_NAME
from automation.core.errors import DataError, ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp, parse_timestamp
from automation.core.timefmt import now as clock_now
from automation.registry.manifest import BatchManifest, manifest_files, read_manifest_file
from automation.registry.metrics import MetricsRecord, iter_metrics

Status = Literal["ok", "alert", "no_data"]
_WINDOW = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    """``"7d"`` → 7 days; units m, h, d, w. Raises UsageError otherwise."""
    match = _WINDOW.match(text.strip())
    if not match:
        raise UsageError(f"window must look like 7d, 48h, 90m or 2w, got {text!r}")
    value = float(match.group(1))
    if value <= 0:
        raise UsageError("window must be positive")
    return timedelta(**{_UNITS[match.group(2)]: value})


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Alert thresholds (``[sli]`` in automation.toml; flags override)."""

    window: str = "7d"
    min_runs: int = 1
    min_generation_success: float = 0.5
    min_validation_pass: float = 0.8
    min_merge_rate: float = 0.5
    max_empty_run_ratio: float = 0.5
    max_hours_since_merge: float = 72.0

    @property
    def window_delta(self) -> timedelta:
        return parse_window(self.window)

    def with_overrides(self, **overrides: Any) -> Thresholds:
        """These thresholds with every non-None override applied (checked like the file)."""
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if value is None:
                continue
            kind = type(getattr(self, name))
            try:
                changes[name] = value if kind is str else kind(value)
            except (TypeError, ValueError):
                raise UsageError(f"--{name.replace('_', '-')}: not a number: {value!r}") from None
        updated = replace(self, **changes)
        updated.check("flags")
        return updated

    def check(self, where: str) -> None:
        parse_window(self.window)
        for name in ("min_generation_success", "min_validation_pass", "min_merge_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise UsageError(f"{where}: {name} must be between 0 and 1, got {value}")
        if not 0 <= self.max_empty_run_ratio <= 1:
            raise UsageError(f"{where}: max_empty_run_ratio must be between 0 and 1")
        if self.max_hours_since_merge <= 0 or self.min_runs < 0:
            raise UsageError(f"{where}: max_hours_since_merge > 0 and min_runs >= 0 required")

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def load_thresholds(root: Path, config_path: Path | None = None) -> Thresholds:
    """The ``[sli]`` table of ``--config`` or ``<root>/automation.toml`` (defaults when absent).

    Only the ``[sli]`` table is read here (checked against ``schemas/sli-config.schema.json``).
    """
    path = config_path if config_path is not None else root / CONFIG_FILE_NAME
    if config_path is not None and not config_path.is_file():
        raise UsageError(f"config file {config_path} does not exist")
    if not path.is_file():
        return Thresholds()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read config: {exc}", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"invalid TOML: {exc}", path=str(path)) from None
    table = document.get("sli")
    if table is None:
        return Thresholds()
    problems = schemas.check(table, "sli-config", path=str(path), where_prefix="sli")
    if problems:
        first = problems[0]
        raise DataError(first.message, path=str(path), where=first.where)
    thresholds = Thresholds(**table)
    try:
        thresholds.check(f"{path} [sli]")
    except UsageError as exc:
        raise DataError(str(exc), path=str(path), where="sli") from None
    return thresholds


@dataclass(frozen=True, slots=True)
class Indicator:
    """One SLI: its value, the threshold it is held to, and whether it alerts."""

    key: str  # stable id, e.g. "merge_rate" or "validation_pass_rate:linux-x86_64"
    title: str
    value: float | None  # None: no data in the window
    unit: Literal["ratio", "hours", "count"]
    threshold: float
    direction: Literal["min", "max"]  # value must be >= (min) or <= (max) the threshold
    numerator: float | None = None
    denominator: float | None = None
    detail: str = ""

    @property
    def status(self) -> Status:
        if self.value is None:
            return "no_data"
        failing = (
            self.value < self.threshold
            if self.direction == "min"
            else (self.value > self.threshold)
        )
        return "alert" if failing else "ok"

    def formatted(self, value: float | None = None) -> str:
        value = self.value if value is None else value
        if value is None:
            return "no data"
        if self.unit == "ratio":
            return f"{value * 100:.1f}%"
        if self.unit == "hours":
            return f"{value:,.1f} h" if value < 48 else f"{value:,.1f} h ({value / 24:,.1f} d)"
        return f"{value:,.0f}"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "value": None if self.value is None else round(self.value, 6),
            "unit": self.unit,
            "threshold": self.threshold,
            "direction": self.direction,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "status": self.status,
            "detail": self.detail,
        }

    def alert_text(self) -> str:
        rel = "below" if self.direction == "min" else "above"
        return (
            f"ALERT {self.title}: {self.formatted()} is {rel} the threshold "
            f"{self.formatted(self.threshold)}" + (f" ({self.detail})" if self.detail else "")
        )


@dataclass(frozen=True, slots=True)
class SliReport:
    """Every indicator over one window; exit code PARTIAL when any of them alerts."""

    now: str
    window: str
    window_start: str
    thresholds: Thresholds
    indicators: tuple[Indicator, ...]
    last_merge: str | None
    last_run: str | None
    runs_total: int  # all history
    notes: tuple[str, ...] = field(default=())

    @property
    def alerts(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.status == "alert")

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.alerts else ExitCode.OK

    def indicator(self, key: str) -> Indicator:
        for item in self.indicators:
            if item.key == key:
                return item
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "window": self.window,
            "window_start": self.window_start,
            "thresholds": self.thresholds.to_json(),
            "last_run": self.last_run,
            "last_merge": self.last_merge,
            "runs_total": self.runs_total,
            "indicators": [i.to_json() for i in self.indicators],
            "alerts": [i.alert_text() for i in self.alerts],
            "notes": list(self.notes),
            "exit_code": int(self.exit_code),
        }

    def to_text(self) -> str:
        lines = [
            f"SLIs over {self.window} ({self.window_start} .. {self.now}); "
            f"last run {self.last_run or 'never'}, last merge {self.last_merge or 'never'}",
            "",
        ]
        header = f"{'indicator':<44} {'value':>20} {'threshold':>14}  status"
        lines += [header, "-" * len(header)]
        for item in self.indicators:
            bound = ("≥ " if item.direction == "min" else "≤ ") + item.formatted(item.threshold)
            counts = ""
            if item.numerator is not None and item.denominator is not None:
                counts = f" [{item.numerator:,.0f}/{item.denominator:,.0f}]"
            lines.append(
                f"{item.title:<44} {item.formatted():>20} {bound:>14}  {item.status}{counts}"
            )
        lines.append("")
        lines += [item.alert_text() for item in self.alerts] or ["no alerts"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def last_merge_time(
    records: Iterable[MetricsRecord], manifests: Iterable[BatchManifest]
) -> datetime | None:
    """The newest moment a recipe was merged: metrics with ``merged > 0`` or a merged manifest
    that created or modified a recipe file."""
    times: list[datetime] = []
    for record in records:
        if record.merged > 0:
            times.append(parse_timestamp(record.timestamp))
    for manifest in manifests:
        if manifest.status == "merged" and any(
            c.kind == "recipe" and c.action in ("created", "modified") for c in manifest.files
        ):
            times.append(parse_timestamp(manifest.updated_at))
    return max(times) if times else None


def evaluate(
    records: Sequence[MetricsRecord],
    manifests: Sequence[BatchManifest],
    now: datetime,
    thresholds: Thresholds,
) -> SliReport:
    """Compute every indicator at ``now`` (pure)."""
    window = thresholds.window_delta
    start = now - window
    timed = sorted(((parse_timestamp(r.timestamp), r) for r in records), key=lambda t: t[0])
    in_window = [r for when, r in timed if start < when <= now]
    past = [r for when, r in timed if when <= now]
    last_run = timed[len(past) - 1][0] if past else None
    indicators: list[Indicator] = []

    runs = len(in_window)
    indicators.append(
        Indicator(
            "runs",
            "batch runs in the window",
            float(runs) if past else None,  # a registry without any run yet is not alerting
            "count",
            float(thresholds.min_runs),
            "min",
            detail=""
            if runs
            else (
                "no metrics record in the window: is the pipeline running?"
                if past
                else "no batch run recorded yet"
            ),
        )
    )
    empty = sum(1 for r in in_window if r.total == 0)
    indicators.append(
        Indicator(
            "empty_run_ratio",
            "empty runs (attempted nothing)",
            _ratio(empty, runs),
            "ratio",
            thresholds.max_empty_run_ratio,
            "max",
            float(empty),
            float(runs),
        )
    )
    with_generation = [r.generation for r in in_window if r.generation is not None]
    attempted = sum(g.attempted for g in with_generation)
    succeeded = sum(g.succeeded for g in with_generation)
    indicators.append(
        Indicator(
            "generation_success_rate",
            "generation success rate",
            _ratio(succeeded, attempted),
            "ratio",
            thresholds.min_generation_success,
            "min",
            float(succeeded),
            float(attempted),
            detail="" if with_generation else "no record in the window carries generation counts",
        )
    )
    buckets: dict[str, list[int]] = {}
    for record in in_window:
        for p in record.platforms:
            counts = buckets.setdefault(p.bucket, [0, 0])
            counts[0] += p.passed
            counts[1] += p.failed
    for bucket in sorted(buckets):
        passed, failed = buckets[bucket]
        indicators.append(
            Indicator(
                f"validation_pass_rate:{bucket}",
                f"validation pass rate {bucket}",
                _ratio(passed, passed + failed),
                "ratio",
                thresholds.min_validation_pass,
                "min",
                float(passed),
                float(passed + failed),
            )
        )
    total = sum(r.total for r in in_window)
    merged = sum(r.merged for r in in_window)
    indicators.append(
        Indicator(
            "merge_rate",
            "merge rate (merged / attempted)",
            _ratio(merged, total),
            "ratio",
            thresholds.min_merge_rate,
            "min",
            float(merged),
            float(total),
            detail="" if total else "no run in the window attempted anything",
        )
    )
    last = last_merge_time(past, [m for m in manifests if parse_timestamp(m.updated_at) <= now])
    hours: float | None
    detail = ""
    if last is not None:
        hours = (now - last).total_seconds() / 3600
    elif past:
        # Runs happened but none ever merged: as bad as it gets, not "no data".
        first = timed[0][0]
        hours = (now - first).total_seconds() / 3600
        detail = "no recipe merged since the first recorded run"
    else:
        hours = None
    indicators.append(
        Indicator(
            "hours_since_last_merge",
            "time since the last merged recipe",
            hours,
            "hours",
            thresholds.max_hours_since_merge,
            "max",
            detail=detail or (f"last merge {format_timestamp(last)}" if last else ""),
        )
    )
    notes = []
    if any(r.legacy for r in in_window):
        notes.append("legacy single-ecosystem metrics records are included")
    return SliReport(
        now=format_timestamp(now),
        window=thresholds.window,
        window_start=format_timestamp(start),
        thresholds=thresholds,
        indicators=tuple(indicators),
        last_merge=format_timestamp(last) if last else None,
        last_run=format_timestamp(last_run) if last_run else None,
        runs_total=len(past),
        notes=tuple(notes),
    )


def read_manifests(layout: RegistryLayout) -> list[BatchManifest]:
    """Every readable batch manifest (unreadable ones are check-data's business)."""
    out = []
    for path in manifest_files(layout):
        scan = read_manifest_file(path, rel=str(path.relative_to(layout.root)))
        if scan.manifest is not None:
            out.append(scan.manifest)
    return out


def sli_report(
    root: str | Path,
    *,
    window: str | None = None,
    at: str | None = None,
    config_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> SliReport:
    """Read metrics and manifests of ``root`` and evaluate the SLIs (``invoke sli``).

    ``at`` (RFC 3339) evaluates as of that moment instead of now.
    """
    layout = RegistryLayout.at(root)
    thresholds = load_thresholds(layout.root, Path(config_path) if config_path else None)
    thresholds = thresholds.with_overrides(window=window, **dict(overrides or {}))
    if at is not None:
        try:
            moment = parse_timestamp(at)
        except ValueError as exc:
            raise UsageError(f"--at: {exc}") from None
    else:
        moment = now or clock_now()
    return evaluate(list(iter_metrics(layout)), read_manifests(layout), moment, thresholds)
