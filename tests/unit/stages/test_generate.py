"""A batch's wall-clock budget: entries not started when it runs out stay pending, not failed."""

from __future__ import annotations

import json
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


# --- entries whose recipe the registry already has ----------------------------------------------

EXISTING = '[metadata]\nname = "bee"\n\n[[steps]]\naction = "pipx_install"\npackage = "bee"\n'


def _with_recipe(layout: RegistryLayout, name: str, text: str) -> bytes:
    path = layout.recipe_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.read_bytes()


def test_an_entry_whose_recipe_exists_is_skipped_with_the_reason_not_built(
    tmp_path: Path,
) -> None:
    layout = RegistryLayout.at(tmp_path)
    _with_recipe(layout, "bee", EXISTING)
    staging = Staging(layout, BATCH)
    fetched: list[str] = []
    fetch = make_fetch(UPSTREAM)

    def counting_fetch(ecosystem: str, identifier: str) -> Any:
        fetched.append(identifier)
        return fetch(ecosystem, identifier)

    report = generate_entries(staging, entries(), fetch=counting_fetch, workers=1)
    assert "bee" not in fetched  # not even fetched
    assert not staging.recipe_path("bee").exists()
    (bee,) = [o for o in staging.outcomes() if o.name == "bee"]  # logged, so merge sees it
    assert (bee.status, bee.forced) == ("skipped", False)
    reason = "recipe exists: recipes/b/bee.toml; pass --force bee to replace it"
    assert bee.message == reason
    assert report.exit_code == ExitCode.OK  # not a failure
    document = report.to_json()
    assert (document["attempted"], document["generated"], document["failed"]) == (4, 4, 0)
    assert document["skipped_recipe_exists"] == 1
    text = report.to_text()
    assert "4 attempted, 4 generated, 0 failed, 1 skipped (recipe exists)" in text
    assert reason in text


def test_force_builds_an_existing_recipe_and_logs_it_forced(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    _with_recipe(layout, "bee", EXISTING)
    staging = Staging(layout, BATCH)
    report = generate_entries(
        staging, entries(), fetch=make_fetch(UPSTREAM), workers=1, force=["BEE"]
    )
    assert report.counts["skipped"] == 0 and report.counts["generated"] == 5
    forced = {o.name: o.forced for o in staging.outcomes()}
    assert forced == {"ant": False, "bee": True, "cat": False, "dog": False, "eel": False}
    assert staging.recipe_path("bee").exists()
    # The log says so only where it is so: other lines are as they always were.
    lines = staging.log_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line).get("forced") for line in lines].count(True) == 1
    assert sum("forced" in json.loads(line) for line in lines) == 1


def test_force_does_not_build_over_a_curated_recipe(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    _with_recipe(layout, "bee", EXISTING.replace("\n\n", "\ncurated = true\n\n", 1))
    staging = Staging(layout, BATCH)
    report = generate_entries(
        staging, entries(), fetch=make_fetch(UPSTREAM), workers=1, force=["bee"]
    )
    (bee,) = [o for o in report.outcomes if o.name == "bee"]
    assert bee.status == "skipped" and bee.forced
    assert "recipes/b/bee.toml is curated" in bee.message
    assert not staging.recipe_path("bee").exists()


def test_a_rerun_with_force_builds_what_the_first_run_skipped(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    _with_recipe(layout, "bee", EXISTING)
    staging = Staging(layout, BATCH)
    generate_entries(staging, entries(), fetch=make_fetch(UPSTREAM), workers=1)
    plain_rerun = generate_entries(staging, entries(), fetch=make_fetch(UPSTREAM), workers=1)
    assert plain_rerun.outcomes == [] and plain_rerun.skipped_already_done == 5
    forced = generate_entries(
        staging, entries(), fetch=make_fetch(UPSTREAM), workers=1, force=["bee"]
    )
    assert [(o.name, o.status, o.forced) for o in forced.outcomes] == [("bee", "generated", True)]
    (bee,) = [o for o in staging.outcomes() if o.name == "bee"]  # the later line decides
    assert (bee.status, bee.forced) == ("generated", True)
    again = generate_entries(
        staging, entries(), fetch=make_fetch(UPSTREAM), workers=1, force=["bee"]
    )
    assert again.outcomes == []  # already done with force: not redone


def test_the_log_takes_seedings_download_count_for_the_same_source(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    path = tmp_path / "data" / "queues" / "popularity.json"
    path.parent.mkdir(parents=True)
    record = {
        "ecosystem": "pypi",
        "identifier": "ant",
        "downloads": 5000,
        "rank": 9,
        "percentile": 99.5,
        "period": "30 days",
        "source": "shipped copy",
        "as_of": None,
    }
    other = {**record, "ecosystem": "npm", "identifier": "bee"}  # another package named bee
    document = {"schema_version": 1, "updated_at": "2026-12-05T00:00:00Z"}
    path.write_text(json.dumps({**document, "entries": {"ant": record, "bee": other}}))
    staging = Staging(layout, BATCH)
    report = generate_entries(staging, entries()[:2], fetch=make_fetch(UPSTREAM), workers=1)
    by_name = {o.name: o for o in report.outcomes}
    assert (by_name["ant"].downloads, by_name["ant"].downloads_period) == (5000, "30 days")
    assert by_name["bee"].downloads is None and by_name["bee"].downloads_period is None
    logged = {o.name: o for o in staging.outcomes()}
    assert logged["ant"].downloads_period == "30 days"
    lines = [json.loads(x) for x in staging.log_path.read_text().splitlines()]
    bee = next(x for x in lines if x["name"] == "bee")
    assert "downloads_period" not in bee  # logged only when known: older lines look the same
    # A file seeding left broken costs the counts, not the batch.
    path.write_text("{")
    again = generate_entries(
        Staging(layout, "2026-11-27-130000-pypi"), entries()[:1], fetch=make_fetch(UPSTREAM)
    )
    assert again.outcomes[0].status == "generated" and again.outcomes[0].downloads is None
