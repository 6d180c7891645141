"""`invoke budget-check` / `budget-record`: jobs deferred when the week's minutes are spent, the
macOS sample of a batch, the workflow's outputs, spend recorded, week rollover."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.ops.budget import budget_check, budget_record
from automation.registry.control import load_control
from automation.registry.queue import load_queue
from automation.registry.staging import Staging
from tests.support.interrupted_merge import BATCH, validated_registry

FRIDAY = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    layout = validated_registry(tmp_path)
    control = json.loads(layout.control_file.read_text()) if layout.control_file.exists() else {}
    control["budget"] = {
        "macos_minutes_used": 0,
        "linux_minutes_used": 0,
        "week_start": "",
        "sampling_active": False,
        "macos_minutes_limit": 60,
        "linux_minutes_limit": 600,
        "macos_sample_size": 2,
        "minutes_per_recipe": 10,
    }
    layout.control_file.write_text(json.dumps(control))
    return layout


def test_jobs_are_deferred_once_the_weeks_minutes_are_spent(layout: RegistryLayout) -> None:
    first = budget_check(layout, "macos", 30, now=FRIDAY)
    assert first.decision.allowed and first.exit_code == ExitCode.OK
    budget_record(layout, "macos", "darwin-arm64", BATCH, seconds=45 * 60, now=FRIDAY)
    budget_record(layout, "macos", "darwin-x86_64", BATCH, seconds=14 * 60 + 1, now=FRIDAY)
    spent = budget_check(layout, "macos", 30, now=FRIDAY)
    assert (spent.decision.used, spent.decision.allowed) == (60, False)
    assert spent.exit_code == ExitCode.DEFERRED == 7
    assert "DEFERRED" in spent.to_text()
    # Linux has its own allowance.
    assert budget_check(layout, "linux", 30, now=FRIDAY).decision.allowed
    # The summary fields of batch-control.json follow the ledger.
    summary = load_control(layout.control_file).budget
    assert (summary["macos_minutes_used"], summary["week_start"]) == (60, "2026-11-23")
    assert summary["macos_minutes_limit"] == 60  # the limits survive the rewrite


def test_week_rollover_resets(layout: RegistryLayout) -> None:
    budget_record(layout, "macos", "darwin-arm64", BATCH, seconds=3600, now=FRIDAY)
    assert not budget_check(layout, "macos", 1, now=FRIDAY).decision.allowed
    monday = budget_check(layout, "macos", 1, now=NEXT_MONDAY)
    assert monday.decision.allowed and monday.decision.used == 0
    assert monday.decision.week_start == "2026-11-30"


def test_macos_samples_the_top_of_the_batch_by_priority(layout: RegistryLayout) -> None:
    generated = [o.name for o in Staging(layout, BATCH).generated()]
    priorities = {e.name: e.priority for e in load_queue(layout.queue).entries}
    report = budget_check(layout, "macos", 5, batch_id=BATCH, now=FRIDAY)
    decision = report.decision
    assert decision.top == min(2, len(generated))
    ranked = sorted(generated, key=lambda n: (priorities.get(n, 99), generated.index(n)))
    assert set(decision.sampled) == set(ranked[: decision.top])
    assert set(decision.deferred) == set(generated) - set(decision.sampled)
    assert "deferred to the nightly run" in report.to_text() or not decision.deferred


def test_github_output_carries_the_decision_and_exits_zero(
    layout: RegistryLayout, tmp_path: Path
) -> None:
    budget_record(layout, "macos", "darwin-arm64", BATCH, seconds=3600, now=FRIDAY)
    output = tmp_path / "github-output"
    report = budget_check(layout, "macos", 1, batch_id=BATCH, github_output=output, now=FRIDAY)
    assert report.exit_code == ExitCode.OK  # the workflow reads allowed=, never a failed step
    assert output.read_text().splitlines() == [
        "allowed=false",
        "top=0",
        "remaining=0",
        "affordable=0",
        f"started={int(FRIDAY.timestamp())}",
    ]
    linux = budget_check(layout, "linux", 1, github_output=output, now=FRIDAY)
    assert linux.decision.allowed and output.read_text().splitlines()[5:7] == [
        "allowed=true",
        "top=",
    ]


def test_usage_errors(layout: RegistryLayout) -> None:
    with pytest.raises(UsageError, match="--runner"):
        budget_check(layout, "windows", 1, now=FRIDAY)
    with pytest.raises(UsageError, match="no batch"):
        budget_check(layout, "macos", 1, batch_id="2026-01-01-nothing", now=FRIDAY)
    with pytest.raises(UsageError, match="future"):
        budget_record(layout, "linux", "debian-12", BATCH, seconds=-5, now=FRIDAY)


def test_check_data_reads_the_ledger(layout: RegistryLayout) -> None:
    from automation.ops.checkdata import check_data

    budget_record(layout, "macos", "darwin-arm64", BATCH, seconds=600, now=FRIDAY)
    report = check_data(layout)
    assert report.kind("runner_minutes").files == 1
    assert not [p for _, p in report.problems if "runner-minutes" in p.path]
    ledger = next((layout.metrics_dir / "runner-minutes").rglob("*.json"))
    ledger.write_text('{"runner": "windows"}')
    broken = check_data(layout)
    assert [p for _, p in broken.problems if "runner-minutes" in p.path and p.severity == "error"]
