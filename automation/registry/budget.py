"""Runner-minute budgets: a per-week allowance per runner kind (``linux``, ``macos``).

The limits live in ``batch-control.json``'s ``budget`` object next to the reference's fields
(§1.10: ``macos_minutes_used``, ``linux_minutes_used``, ``week_start``, ``sampling_active``), which
the kit keeps up to date as a summary:

``macos_minutes_limit`` / ``linux_minutes_limit``
    minutes one week may spend on that runner kind (defaults: 1,000 macOS minutes, the
    reference design's cap, and 20,000 Linux minutes);
``macos_sample_size``
    how many recipes of a batch a macOS job validates at most: the top-N by queue priority (the
    rest are deferred to the nightly run; default 10);
``minutes_per_recipe``
    the estimate a sample is sized with (default 2).

What was spent is a ledger, one file per job, ``data/metrics/runner-minutes/<week>/<batch>.<env>
.json`` (schema ``runner-minutes``): hosted jobs run in parallel and each uploads its own file, so
no two writers ever touch one file; the merge job commits them with the metrics. A week starts on
Monday 00:00 UTC; only the current week's directory is summed, so a new week starts at zero
(rollover) without anything being rewritten. Spend is counted in whole minutes, rounded up, as
GitHub bills it.

Everything here is pure except the ledger's reading and writing at the end.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from automation.core import schemas
from automation.core.atomic import atomic_write_json
from automation.core.errors import DataError, UsageError
from automation.core.jsondata import read_json
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp
from automation.registry.queue import load_queue
from automation.registry.staging import Staging

RUNNERS = ("linux", "macos")
DEFAULT_LIMITS: Mapping[str, int] = {"linux": 20_000, "macos": 1_000}
DEFAULT_SAMPLE_SIZE = 10
DEFAULT_MINUTES_PER_RECIPE = 2.0
LEDGER_DIR = "runner-minutes"
_WEEK = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_runner(runner: str) -> str:
    """``linux`` or ``macos`` (UsageError naming the flag otherwise)."""
    if runner not in RUNNERS:
        raise UsageError(f"--runner must be one of {', '.join(RUNNERS)}, not {runner!r}")
    return runner


def week_start(now: datetime) -> str:
    """The Monday (UTC) of ``now``'s week, ``YYYY-MM-DD``."""
    day = now.date() - timedelta(days=now.weekday())
    return day.isoformat()


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    """The limits read from ``batch-control.json``'s ``budget`` (defaults where absent)."""

    limits: Mapping[str, int]
    sample_size: int = DEFAULT_SAMPLE_SIZE
    minutes_per_recipe: float = DEFAULT_MINUTES_PER_RECIPE

    @classmethod
    def from_control(cls, budget: Mapping[str, Any]) -> BudgetConfig:
        def number(key: str, default: float) -> float:
            value = budget.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DataError(
                    f"budget.{key} must be a number >= 0", path="batch-control.json", where=key
                )
            return float(value)

        limits = {r: int(number(f"{r}_minutes_limit", DEFAULT_LIMITS[r])) for r in RUNNERS}
        return cls(
            limits=limits,
            sample_size=int(number("macos_sample_size", DEFAULT_SAMPLE_SIZE)),
            minutes_per_recipe=max(number("minutes_per_recipe", DEFAULT_MINUTES_PER_RECIPE), 0.1),
        )


@dataclass(frozen=True, slots=True)
class Spend:
    """One job's minutes (a ledger file)."""

    runner: str
    environment: str
    batch_id: str
    minutes: int
    week_start: str
    recorded_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "environment": self.environment,
            "batch_id": self.batch_id,
            "minutes": self.minutes,
            "week_start": self.week_start,
            "recorded_at": self.recorded_at,
        }


def billed_minutes(seconds: float) -> int:
    """Whole minutes, rounded up (at least 1 for a job that ran at all)."""
    return max(1, math.ceil(seconds / 60)) if seconds > 0 else 0


def used_minutes(spends: Sequence[Spend], week: str) -> dict[str, int]:
    """Minutes spent per runner kind in ``week`` (other weeks' spend does not count)."""
    used = dict.fromkeys(RUNNERS, 0)
    for spend in spends:
        if spend.week_start == week:
            used[spend.runner] += spend.minutes
    return used


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    """Whether a job of ``runner`` may start now, and for macOS how many recipes it samples."""

    runner: str
    week_start: str
    limit: int
    used: int
    requested: int
    allowed: bool
    top: int | None = None  # recipes to validate (macOS with a batch); None: all
    sampled: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    affordable: int = 0  # recipes the remaining minutes pay for (the nightly run's limit)

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "week_start": self.week_start,
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining,
            "requested": self.requested,
            "allowed": self.allowed,
            "top": self.top,
            "sampled": list(self.sampled),
            "deferred": list(self.deferred),
            "affordable": self.affordable,
        }


def sample_top(
    batch: Sequence[tuple[str, int]], top: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(sampled, deferred)``: the ``top`` recipes of ``batch`` (``(recipe, priority)`` in
    generation order) by priority, 1 first, ties in batch order; both in batch order."""
    ranked = sorted(range(len(batch)), key=lambda i: (batch[i][1], i))
    chosen = set(ranked[: max(top, 0)])
    sampled = tuple(batch[i][0] for i in range(len(batch)) if i in chosen)
    deferred = tuple(batch[i][0] for i in range(len(batch)) if i not in chosen)
    return sampled, deferred


def decide(
    runner: str,
    minutes: int,
    config: BudgetConfig,
    spends: Sequence[Spend],
    now: datetime,
    batch: Sequence[tuple[str, int]] | None = None,
) -> BudgetDecision:
    """May a ``runner`` job needing ``minutes`` start in ``now``'s week?

    Deferred (``allowed`` false) when the week's remaining minutes are fewer than ``minutes``.
    ``batch`` (``(recipe, priority)`` in generation order) samples a macOS job: the top-N by
    priority (1 first, ties in batch order), N the smaller of ``sample_size`` and what the
    remaining minutes pay for at ``minutes_per_recipe``; the others are deferred.
    """
    check_runner(runner)
    if minutes < 0:
        raise UsageError("--minutes must be at least 0")
    week = week_start(now)
    limit = config.limits[runner]
    used = used_minutes(spends, week)[runner]
    allowed = limit - used >= minutes and limit - used > 0
    affordable = int((limit - used) // config.minutes_per_recipe) if allowed else 0
    decision = BudgetDecision(runner, week, limit, used, minutes, allowed, affordable=affordable)
    if batch is None or runner != "macos":
        return decision
    top = max(min(config.sample_size, affordable, len(batch)), 0)
    sampled, deferred = sample_top(batch, top)
    allowed = allowed and top > 0
    return BudgetDecision(
        runner, week, limit, used, minutes, allowed, top, sampled, deferred, affordable
    )


def summary(budget: Mapping[str, Any], spends: Sequence[Spend], now: datetime) -> dict[str, Any]:
    """``batch-control.json``'s ``budget`` with the reference's summary fields brought up to
    date (a new week starts at zero); limits and unknown keys kept."""
    week = week_start(now)
    used = used_minutes(spends, week)
    config = BudgetConfig.from_control(budget)
    out = dict(budget)
    out["week_start"] = week
    out["linux_minutes_used"] = used["linux"]
    out["macos_minutes_used"] = used["macos"]
    # Sampling is what macOS always does; "active" says the cap already bites this week.
    out["sampling_active"] = (
        used["macos"] + config.sample_size * config.minutes_per_recipe > (config.limits["macos"])
    )
    return out


# --- the ledger (edge) ---------------------------------------------------------------------------


def ledger_dir(layout: RegistryLayout) -> Path:
    return layout.metrics_dir / LEDGER_DIR


def _parse_spend(document: Any, path: Path) -> Spend:
    problems = schemas.check(document, "runner-minutes", path=str(path))
    if problems:
        raise DataError("; ".join(f"{p.where}: {p.message}" for p in problems), path=str(path))
    return Spend(
        runner=document["runner"],
        environment=document["environment"],
        batch_id=document["batch_id"],
        minutes=document["minutes"],
        week_start=document["week_start"],
        recorded_at=document["recorded_at"],
    )


def read_week(layout: RegistryLayout, week: str) -> list[Spend]:
    """Every ledger file of ``week`` (DataError naming a bad one)."""
    if not _WEEK.fullmatch(week):
        raise UsageError(f"week {week!r} is not YYYY-MM-DD")
    folder = ledger_dir(layout) / week
    if not folder.is_dir():
        return []
    spends = []
    for path in sorted(folder.glob("*.json")):
        document, problem = read_json(path, str(path))
        if problem is not None:
            raise DataError(problem.message, path=str(path), where=problem.where)
        spends.append(_parse_spend(document, path))
    return spends


def write_spend(layout: RegistryLayout, spend: Spend) -> Path:
    """The job's ledger file (rewritten when the same job records again)."""
    problems = schemas.check(spend.to_json(), "runner-minutes", path="<spend>")
    if problems:
        raise UsageError("; ".join(p.message for p in problems))
    path = ledger_dir(layout) / spend.week_start / f"{spend.batch_id}.{spend.environment}.json"
    atomic_write_json(path, spend.to_json())
    return path


def new_spend(runner: str, environment: str, batch_id: str, seconds: float, now: datetime) -> Spend:
    """A job's spend: ``seconds`` of wall time billed in whole minutes, in ``now``'s week."""
    return Spend(
        check_runner(runner),
        environment,
        batch_id,
        billed_minutes(seconds),
        week_start(now),
        format_timestamp(now),
    )


def batch_priorities(layout: RegistryLayout, batch_id: str) -> list[tuple[str, int]]:
    """``(recipe, queue priority)`` of a batch's generated recipes, in generation order (an
    entry missing from the queue ranks last). UsageError for an unknown batch."""
    staging = Staging(layout, batch_id)
    if not staging.exists():
        raise UsageError(f"no batch {batch_id!r}: {staging.log_path} does not exist")
    priorities = {e.name.lower(): e.priority for e in load_queue(layout.queue).entries}
    return [(o.name, priorities.get(o.name.lower(), 99)) for o in staging.generated()]
