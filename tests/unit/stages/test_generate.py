"""A batch's wall-clock budget: entries not started when it runs out stay pending, not failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries, nothing_selected_reason
from tests.support.pipeline_fakes import make_fetch

UPSTREAM = {name: ("1.0.0", (name,)) for name in ("ant", "bee", "cat", "dog", "eel")}


BATCH = "2026-11-27-120000-pypi"


def entries() -> list[QueueEntry]:
    return [QueueEntry(n, f"pypi:{n}", 3, "pending", "auto", None, 0, None) for n in UPSTREAM]


class SlowClock:
    """Each fetch takes 10 s of (fake) wall-clock time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.fetch = make_fetch(UPSTREAM)

    def __call__(self) -> float:
        return self.now

    def slow_fetch(self, ecosystem: str, identifier: str) -> Any:
        self.now += 10.0
        return self.fetch(ecosystem, identifier)


def test_entries_not_started_within_the_budget_are_left_pending(tmp_path: Path) -> None:
    staging = Staging(RegistryLayout.at(tmp_path), BATCH)
    clock = SlowClock()
    report = generate_entries(
        staging, entries(), fetch=clock.slow_fetch, workers=1, budget_seconds=25, clock=clock
    )
    # Started at 0, 10 and 20 s; at 30 s the budget is spent.
    assert [o.name for o in report.outcomes] == ["ant", "bee", "cat"]
    assert report.counts["generated"] == 3 and report.counts["failed"] == 0
    assert report.left_pending == 2
    assert report.exit_code == ExitCode.PARTIAL
    assert report.to_json()["budget"] == {"seconds": 25, "left_pending": 2}
    assert "2 entries not started, left pending" in report.to_text()
    assert [o.name for o in staging.outcomes()] == ["ant", "bee", "cat"]  # nothing logged failed

    # A rerun of the batch does exactly what the budget left.
    rerun = generate_entries(staging, entries(), fetch=clock.slow_fetch, workers=1)
    assert [o.name for o in rerun.outcomes] == ["dog", "eel"]
    assert rerun.skipped_already_done == 3 and rerun.exit_code == ExitCode.OK
    assert "budget" not in rerun.to_json()  # no budget, the document as before


def test_budget_must_be_positive(tmp_path: Path) -> None:
    staging = Staging(RegistryLayout.at(tmp_path), BATCH)
    with pytest.raises(UsageError, match="--budget-seconds"):
        generate_entries(staging, entries(), fetch=make_fetch(UPSTREAM), budget_seconds=0)


def test_nothing_selected_with_pending_entries_says_why_not_to_seed_blindly() -> None:
    """Entries queued but not selectable (tier, backoff, reservations) are counted, so the user
    is not told the queue is empty when it is not."""
    reason, hint = nothing_selected_reason(entries(), "pypi", 1, reserved=2)
    assert reason.startswith("5 pending pypi entries, none selectable now")
    assert "--max-tier 1" in reason and "2 reserved by another open batch" in reason
    assert hint == "to queue some, seed first: invoke seed --source pypi"


def test_nothing_selected_for_an_ecosystem_without_a_seed_source_names_another_way() -> None:
    reason, hint = nothing_selected_reason(entries(), "go", 3, reserved=0)
    assert reason == "the queue has no pending go entries; no batch was created"
    assert "invoke seed" not in hint and "invoke create --from go:<identifier>" in hint
