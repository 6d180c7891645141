"""``grow`` over the real stages (selection, generation log, local validation, merge), with only
upstream and processes faked: a run interrupted in the middle of validating a batch resumes that
batch under its id, the stages skip what is already done, and nothing merged is redone."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.core.layout import RegistryLayout
from automation.core.process import Completed
from automation.registry.manifest import manifest_files
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.stages.grow import GrowPlan, GrowStages, grow, load_state
from automation.stages.merge import merge_batch
from automation.stages.pipeline import run_generate
from automation.stages.validate import validate_batch_locally
from automation.stages.validate_local import LocalValidator
from tests.support.pipeline_fakes import BROKEN, GOOD, FakeProcesses, fetch

RANKING = [*GOOD[:3], BROKEN[0], *GOOD[3:], *BROKEN[1:]]  # the fake popularity order


class Killed(BaseException):
    """A kill in the middle of a stage (not an Exception: no stage may take it for a failure)."""


class Runner:
    """The faked processes, dying once at the ``die_at``-th call."""

    def __init__(self, die_at: int | None):
        self.inner = FakeProcesses()
        self.calls = 0
        self.die_at = die_at
        self.kill_in_validation: int | None = None  # which validation (1, 2, ...) dies
        self.validations = 0
        self.per_recipe = 0

    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        self.calls += 1
        if self.calls == self.die_at:
            self.die_at = None
            raise Killed
        return self.inner(argv, env, cwd, timeout)


def stages(runner: Runner, reports: list[Any]) -> GrowStages:
    def seed(layout: RegistryLayout, eco: str, limit: int) -> Any:
        queue = load_queue(layout.queue)
        have = {e.name for e in queue.entries}
        new = [n for n in RANKING[:limit] if n not in have]
        entries = [QueueEntry(n, f"{eco}:{n}", 3, "pending", "auto", None, 0, None) for n in new]
        save_queue(layout.queue, queue.with_entries([*queue.entries, *entries]), previous=queue)
        return SimpleNamespace(accepted=new, stopped=None)

    def generate(layout: RegistryLayout, eco: str, size: int, batch_id: str, tick: Any) -> Any:
        report = run_generate(
            layout, eco, batch_size=size, batch_id=batch_id, workers=1, fetch=fetch, progress=tick
        )
        reports.append(report)
        return report

    def validate(layout: RegistryLayout, batch_id: str, envs: Sequence[str], tick: Any) -> Any:
        runner.validations += 1
        if runner.validations == runner.kill_in_validation:
            # about one and a half recipes into this batch
            runner.die_at = runner.calls + runner.per_recipe + runner.per_recipe // 2
        before = runner.calls
        report = validate_batch_locally(
            layout,
            batch_id,
            validator=LocalValidator(runner=runner),
            progress=lambda _line: tick("local"),
        )
        if report.lines and not runner.per_recipe:
            runner.per_recipe = (runner.calls - before) // len(report.lines)
        reports.append(report)
        return report

    def merge(layout: RegistryLayout, batch_id: str) -> Any:
        report = merge_batch(layout, batch_id)
        reports.append(report)
        return report

    return GrowStages(seed, generate, validate, merge)


def run(layout: RegistryLayout, runner: Runner, reports: list[Any], start: datetime) -> Any:
    moments = iter(start + timedelta(seconds=i) for i in range(10_000))
    plan = GrowPlan.of(len(GOOD), ["pypi"], ["local"], 4, ("pypi",))
    return grow(layout, plan, stages=stages(runner, reports), now=lambda: next(moments))


@pytest.fixture(autouse=True)
def host_runtimes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMATION_RUNTIMES", "host")


def test_a_kill_mid_validation_resumes_the_batch_and_redoes_nothing(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    start = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)
    reports: list[Any] = []
    runner = Runner(die_at=None)
    runner.kill_in_validation = 2  # the second batch's validation dies half-way
    with pytest.raises(Killed):
        run(layout, runner, reports, start)
    state = load_state(layout)
    assert state is not None and state["status"] == "running"
    batches = [b for r in state["rounds"] for b in r["batches"]]
    assert [b["stage"] for b in batches] == ["merged", "validating"]
    killed_batch = batches[1]["batch_id"]
    lines_before = _result_lines(layout, killed_batch)
    assert 0 < len(lines_before) < 4

    reports.clear()
    resumed = run(layout, Runner(die_at=None), reports, start + timedelta(hours=1))
    assert resumed.status in ("reached", "exhausted", "idle"), resumed.state["message"]
    # the killed batch went on under its own id: validation skipped the recipes it had done
    validations = [
        r
        for r in reports
        if getattr(r, "environment", "") == "local" and r.batch_id == killed_batch
    ]
    assert validations and validations[0].skipped_already_done == len(lines_before)
    # one result line per recipe of that batch: nothing validated twice
    lines_after = _result_lines(layout, killed_batch)
    assert len(lines_after) == len(set(lines_after)) == 4
    # the first batch was not generated, validated or merged again
    assert all(getattr(r, "batch_id", None) != batches[0]["batch_id"] for r in reports)
    # one manifest per merged batch, every one merged once
    manifests = Counter(json.loads(p.read_text())["status"] for p in manifest_files(layout))
    assert manifests == {"merged": len(_merged(resumed.state))}
    recipes = {p.stem for p in layout.recipe_files()}
    assert recipes == set(GOOD)
    assert resumed.status == "reached"


def _merged(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for r in state["rounds"] for b in r["batches"] if b["stage"] == "merged"]


def _result_lines(layout: RegistryLayout, batch_id: str) -> list[str]:
    path = layout.results_file(batch_id, "local")
    if not path.exists():
        return []
    return [json.loads(line)["recipe"] for line in path.read_text().splitlines() if line]


def test_a_kill_after_merge_before_the_state_is_saved_is_not_merged_again(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    start = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)
    real = stages(Runner(die_at=None), [])

    def merge_then_die(layout: RegistryLayout, batch_id: str) -> Any:
        real.merge(layout, batch_id)
        raise Killed  # the merge is on disk; grow never heard of it

    dying = GrowStages(real.seed, real.generate, real.validate, merge_then_die)
    plan = GrowPlan.of(len(GOOD), ["pypi"], ["local"], 4, ("pypi",))
    with pytest.raises(Killed):
        grow(layout, plan, stages=dying, now=lambda: start)
    state = load_state(layout)
    assert state is not None
    batch = state["rounds"][0]["batches"][0]
    assert batch["stage"] == "merging" and batch["merged"] == 0
    on_disk = len(layout.recipe_files())
    assert on_disk > 0

    reports: list[Any] = []
    resumed = run(layout, Runner(die_at=None), reports, start + timedelta(hours=1))
    first = resumed.state["rounds"][0]["batches"][0]
    assert first["batch_id"] == batch["batch_id"] and first["stage"] == "merged"
    assert first["merged"] == on_disk  # read back from the batch's manifest
    merges = [r for r in reports if getattr(r, "batch_id", None) == batch["batch_id"]]
    assert [r.already_merged for r in merges] == [True]
    assert resumed.status == "reached" and {p.stem for p in layout.recipe_files()} == set(GOOD)
