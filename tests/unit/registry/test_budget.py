"""The runner budget: weekly minutes per runner kind, macOS sampling, the ledger, rollover."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.errors import DataError, UsageError
from automation.core.layout import RegistryLayout
from automation.registry import budget as bd

MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 11, 30, 0, 0, 1, tzinfo=UTC)
CONFIG = bd.BudgetConfig(limits={"linux": 600, "macos": 100}, sample_size=3, minutes_per_recipe=5)


def _spend(
    runner: str, minutes: int, week: str = "2026-11-23", env: str = "darwin-arm64"
) -> bd.Spend:
    return bd.Spend(runner, env, "2026-11-27-120000-pypi", minutes, week, "2026-11-27T12:00:00Z")


def test_weeks_start_on_monday_utc() -> None:
    assert bd.week_start(MONDAY) == bd.week_start(FRIDAY) == "2026-11-23"
    assert bd.week_start(datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)) == "2026-11-23"
    assert bd.week_start(NEXT_MONDAY) == "2026-11-30"


def test_minutes_are_billed_whole_and_rounded_up() -> None:
    assert [bd.billed_minutes(s) for s in (0, 1, 60, 61, 3599)] == [0, 1, 1, 2, 60]


def test_a_job_starts_while_the_week_has_its_minutes() -> None:
    decision = bd.decide("macos", 30, CONFIG, [_spend("macos", 60)], FRIDAY)
    assert decision.allowed and (decision.used, decision.remaining) == (60, 40)


def test_a_job_is_deferred_when_the_weeks_minutes_are_spent() -> None:
    spent = [_spend("macos", 60), _spend("macos", 40, env="darwin-x86_64")]
    decision = bd.decide("macos", 1, CONFIG, spent, FRIDAY)
    assert not decision.allowed and decision.remaining == 0
    # Not enough left for what the job needs is a deferral too.
    assert not bd.decide("macos", 50, CONFIG, [_spend("macos", 60)], FRIDAY).allowed
    # Linux minutes are their own budget.
    assert bd.decide("linux", 30, CONFIG, spent, FRIDAY).allowed


def test_week_rollover_resets_the_budget() -> None:
    spent = [_spend("macos", 100)]
    assert not bd.decide("macos", 10, CONFIG, spent, FRIDAY).allowed
    monday = bd.decide("macos", 10, CONFIG, spent, NEXT_MONDAY)
    assert monday.allowed and monday.used == 0 and monday.week_start == "2026-11-30"


def test_macos_samples_the_top_n_by_priority_and_defers_the_rest() -> None:
    batch = [("a", 2), ("b", 1), ("c", 3), ("d", 1), ("e", 2)]
    decision = bd.decide("macos", 0, CONFIG, [], FRIDAY, batch)
    assert decision.top == 3
    assert decision.sampled == ("a", "b", "d")  # priority 1, 1, then the first 2: batch order
    assert decision.deferred == ("c", "e")
    # What the remaining minutes pay for bounds the sample: 12 minutes left = 2 recipes at 5.
    short = bd.decide("macos", 0, CONFIG, [_spend("macos", 88)], FRIDAY, batch)
    assert (short.top, short.sampled) == (2, ("b", "d"))
    # Nothing left: no recipe is validated, the job is deferred.
    none = bd.decide("macos", 0, CONFIG, [_spend("macos", 100)], FRIDAY, batch)
    assert (none.allowed, none.top, none.sampled) == (False, 0, ())
    assert none.deferred == ("a", "b", "c", "d", "e")


def test_config_defaults_and_bad_values() -> None:
    config = bd.BudgetConfig.from_control({"macos_minutes_used": 0})
    assert config.limits == {"linux": 20_000, "macos": 1_000} and config.sample_size == 10
    assert bd.BudgetConfig.from_control({"macos_minutes_limit": 50}).limits["macos"] == 50
    with pytest.raises(DataError, match="macos_minutes_limit"):
        bd.BudgetConfig.from_control({"macos_minutes_limit": "lots"})
    with pytest.raises(UsageError, match="--runner"):
        bd.decide("windows", 1, CONFIG, [], FRIDAY)


def test_summary_keeps_the_reference_fields_up_to_date() -> None:
    budget = {"macos_minutes_used": 999, "week_start": "2026-11-16", "macos_minutes_limit": 100}
    spent = [_spend("macos", 90), _spend("linux", 30, env="debian-12-arm64")]
    out = bd.summary(budget, spent, FRIDAY)
    assert out["week_start"] == "2026-11-23"
    assert (out["macos_minutes_used"], out["linux_minutes_used"]) == (90, 30)
    assert out["sampling_active"] is True and out["macos_minutes_limit"] == 100
    assert bd.summary(budget, spent, NEXT_MONDAY)["macos_minutes_used"] == 0


def test_the_ledger_is_one_file_per_job_read_by_week(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    spend = bd.new_spend("macos", "darwin-arm64", "2026-11-27-120000-pypi", 125.0, FRIDAY)
    path = bd.write_spend(layout, spend)
    assert (
        path
        == tmp_path
        / "data/metrics/runner-minutes/2026-11-23/2026-11-27-120000-pypi.darwin-arm64.json"
    )
    assert bd.read_week(layout, "2026-11-23") == [spend] and spend.minutes == 3
    assert bd.read_week(layout, "2026-11-30") == []
    path.write_text('{"runner": "macos"}')
    with pytest.raises(DataError, match="minutes"):
        bd.read_week(layout, "2026-11-23")
