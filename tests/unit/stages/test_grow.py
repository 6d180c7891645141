"""``invoke grow`` with fake stages: targets, exhaustion, resume, the state file, the summary.

The fakes keep the contracts grow relies on: seeding widens a window over a popularity list,
generation resumes a batch id it has seen (its selection is kept), validation writes real result
lines and may be interrupted, merge writes recipes into ``recipes/`` and says when a batch is
already merged.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.core import schemas
from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.results import ResultLine, write_result_lines
from automation.stages.grow import (
    GrowPlan,
    GrowStages,
    PlainDisplay,
    grow,
    load_state,
    recipe_counts,
    state_path,
)

ENVS = ("local", "debian-12")
KNOWN = ("npm", "pypi")


class Interrupted(Exception):
    """Stands for a kill: raised from inside a stage."""


class World:
    """Upstream lists per ecosystem and the fake stages' memory of batches (what the real
    stages keep in staging logs, result files and manifests)."""

    def __init__(self, upstream: dict[str, list[str]], failing: Sequence[str] = ()):
        self.upstream = upstream
        self.failing = frozenset(failing)
        self.selections: dict[str, list[str]] = {}
        self.merged: set[str] = set()
        self.calls: Counter[tuple[str, str]] = Counter()  # (stage, batch id or ecosystem)
        self.interrupt: tuple[str, int] | None = None  # (stage, at which call of that stage)
        self.stage_calls: Counter[str] = Counter()

    def _maybe_interrupt(self, stage: str) -> None:
        self.stage_calls[stage] += 1
        if self.interrupt == (stage, self.stage_calls[stage]):
            raise Interrupted(stage)

    def seed(self, layout: RegistryLayout, eco: str, limit: int) -> Any:
        self.calls[("seed", eco)] += 1
        queue = load_queue(layout.queue)
        have = {e.name for e in queue.entries}
        accepted = [name for name in self.upstream[eco][:limit] if name not in have]
        entries = [
            QueueEntry(n, f"{eco}:{n}", 3, "pending", "auto", None, 0, None) for n in accepted
        ]
        save_queue(layout.queue, queue.with_entries([*queue.entries, *entries]), previous=queue)
        return SimpleNamespace(accepted=accepted, stopped=None)

    def generate(
        self, layout: RegistryLayout, eco: str, size: int, batch_id: str, tick: Any
    ) -> Any:
        self.calls[("generate", batch_id)] += 1
        self._maybe_interrupt("generate")
        if batch_id in self.selections:  # a rerun of the batch: its log says all is done
            done = len(self.selections[batch_id])
            return SimpleNamespace(
                outcomes=[],
                counts=Counter(),
                skipped_already_done=done,
                stopped=None,
                nothing_selected=None,
            )
        taken = {n for names in self.selections.values() for n in names}
        picks = [
            e.name
            for e in load_queue(layout.queue).entries
            if e.source.startswith(f"{eco}:") and e.status == "pending" and e.name not in taken
        ][:size]
        if not picks:
            return SimpleNamespace(
                outcomes=[],
                counts=Counter(),
                skipped_already_done=0,
                stopped=None,
                nothing_selected="no pending entries",
            )
        self.selections[batch_id] = picks
        for _ in picks:
            tick("")
        outcomes = [SimpleNamespace(status="generated") for _ in picks]
        return SimpleNamespace(
            outcomes=outcomes,
            counts=Counter(generated=len(picks)),
            skipped_already_done=0,
            stopped=None,
            nothing_selected=None,
        )

    def validate(
        self, layout: RegistryLayout, batch_id: str, envs: Sequence[str], tick: Any
    ) -> Any:
        self.calls[("validate", batch_id)] += 1
        self._maybe_interrupt("validate")
        for env in envs:
            path = layout.results_file(batch_id, env)
            done = set()
            if path.exists():
                done = {json.loads(line)["recipe"] for line in path.read_text().splitlines()}
            lines = [
                ResultLine(
                    recipe=name,
                    environment=env,
                    platform="linux-debian-glibc-x86_64",
                    status="fail" if name in self.failing else "pass",
                    category="verify_failed" if name in self.failing else None,
                    subcategory="no_version_output" if name in self.failing else None,
                    exit_code=1 if name in self.failing else 0,
                    attempts=1,
                    message="",
                    timestamp="2026-12-05T08:00:00Z",
                    batch_id=batch_id,
                )
                for name in self.selections[batch_id]
                if name not in done
            ]
            if lines:
                write_result_lines(path, lines)
            for _ in lines:
                tick(env)
        return SimpleNamespace(exit_code=ExitCode.OK)

    def merge(self, layout: RegistryLayout, batch_id: str) -> Any:
        self.calls[("merge", batch_id)] += 1
        self._maybe_interrupt("merge")
        if batch_id in self.merged:
            return SimpleNamespace(decisions=[], counts=Counter(), already_merged=True)
        decisions = []
        queue = load_queue(layout.queue)
        status: dict[str, str] = {}
        for name in self.selections[batch_id]:
            if name in self.failing:
                decisions.append(
                    SimpleNamespace(
                        action="failed", category="verify_failed", subcategory="no_version_output"
                    )
                )
                status[name] = "failed"
                continue
            path = layout.recipe_path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f'[metadata]\nname = "{name}"\n')
            decisions.append(SimpleNamespace(action="merged", category="", subcategory=""))
            status[name] = "success"
        entries = [e.with_changes(status=status.get(e.name, e.status)) for e in queue.entries]
        save_queue(layout.queue, queue.with_entries(entries), previous=queue)
        self.merged.add(batch_id)
        return SimpleNamespace(
            decisions=decisions, counts=Counter(d.action for d in decisions), already_merged=False
        )

    def stages(self) -> GrowStages:
        return GrowStages(self.seed, self.generate, self.validate, self.merge)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.moment = datetime(2026, 12, 5, 8, 0, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        self.t += 1.5
        return self.t

    def now(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(count)]


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    (tmp_path / "recipes").mkdir()
    return RegistryLayout.at(tmp_path)


def run(layout: RegistryLayout, world: World, target: int, batch_size: int = 4, **kw: Any) -> Any:
    plan = GrowPlan.of(target, ["pypi", "npm"], ["debian-12"], batch_size, KNOWN)
    clock = Clock()
    return grow(layout, plan, stages=world.stages(), clock=clock.monotonic, now=clock.now, **kw)


def test_reaches_a_target_across_two_ecosystems(layout: RegistryLayout) -> None:
    world = World({"pypi": names("py", 30), "npm": names("nd", 30)}, failing=["py001", "nd002"])
    report = run(layout, world, target=15)
    assert report.status == "reached" and report.exit_code == ExitCode.OK
    counts = recipe_counts(layout)
    assert counts["total"] >= 15 and counts["pypi"] > 0 and counts["npm"] > 0
    state = load_state(layout)
    assert state is not None
    # the ecosystems take turns: every round has one batch of each, pypi first
    first = state["rounds"][0]["batches"]
    assert [b["ecosystem"] for b in first] == ["pypi", "npm"]
    assert all(b["stage"] == "merged" for r in state["rounds"] for b in r["batches"])
    # no batch was merged twice, and nothing was generated twice
    assert all(n == 1 for (stage, _), n in world.calls.items() if stage in ("merge", "generate"))
    # local runs first even when not asked for
    assert state["environments"] == ["local", "debian-12"]


def test_exhaustion_stops_with_a_clear_message(layout: RegistryLayout) -> None:
    world = World({"pypi": names("py", 5), "npm": names("nd", 3)})
    report = run(layout, world, target=100)
    assert report.status == "exhausted" and report.exit_code == ExitCode.PARTIAL
    assert "exhausted" in report.state["message"]
    assert recipe_counts(layout)["total"] == 8
    assert sorted(report.state["exhausted"]) == ["npm", "pypi"]
    # a rerun adds nothing and says so again
    again = run(layout, world, target=100)
    assert again.status == "exhausted" and recipe_counts(layout)["total"] == 8
    assert again.state["history"][0]["status"] == "exhausted"


def test_rounds_that_merge_nothing_end_the_run(layout: RegistryLayout) -> None:
    failing = names("py", 40) + names("nd", 40)
    world = World({"pypi": names("py", 40), "npm": names("nd", 40)}, failing=failing)
    report = run(layout, world, target=10, batch_size=2)
    assert report.status == "idle" and len(report.state["rounds"]) == 3
    assert recipe_counts(layout)["total"] == 0


@pytest.mark.parametrize(
    ("stage", "call"),
    [
        ("generate", 3),  # between batches: the third batch dies as it starts
        ("validate", 2),  # mid-batch: generated, not yet validated
        ("merge", 3),  # mid-batch: validated, not merged
    ],
)
def test_resume_after_an_interruption_redoes_nothing_merged(
    layout: RegistryLayout, stage: str, call: int
) -> None:
    upstream = {"pypi": names("py", 30), "npm": names("nd", 30)}
    world = World(upstream)
    world.interrupt = (stage, call)
    with pytest.raises(Interrupted):
        run(layout, world, target=16)
    interrupted = load_state(layout)
    assert interrupted is not None and interrupted["status"] == "running"
    open_batches = [
        b for r in interrupted["rounds"] for b in r["batches"] if b["stage"] != "merged"
    ]
    assert len(open_batches) == 1
    open_id = open_batches[0]["batch_id"]
    merged_before = set(world.merged)
    world.interrupt = None
    report = run(layout, world, target=16)
    assert report.status == "reached"
    # merged batches were not touched again; the open one went on under its own id
    for batch_id in merged_before:
        assert world.calls[("merge", batch_id)] == 1
        assert world.calls[("validate", batch_id)] == 1
        assert world.calls[("generate", batch_id)] == 1
    assert open_id in world.merged
    assert world.calls[("merge", open_id)] == (2 if stage == "merge" else 1)
    # the resumed batch's entries were not selected twice
    chosen = [n for names_ in world.selections.values() for n in names_]
    assert len(chosen) == len(set(chosen))
    assert report.state["started_at"] == interrupted["started_at"]
    assert len(report.state["history"]) == 0


def test_a_batch_abandoned_while_the_run_was_stopped_is_left_and_the_run_goes_on(
    layout: RegistryLayout,
) -> None:
    """An operator stops a run in a batch not worth finishing and `invoke abandon`s it: the
    resumed run neither validates nor merges it, records it as abandoned, and reaches the
    target with new batches."""
    from automation.registry.reservation import abandoned_dir

    world = World({"pypi": names("py", 30), "npm": names("nd", 30)})
    world.interrupt = ("validate", 1)
    with pytest.raises(Interrupted):
        run(layout, world, target=10)
    interrupted = load_state(layout)
    assert interrupted is not None
    [open_id] = [
        b["batch_id"] for r in interrupted["rounds"] for b in r["batches"] if b["stage"] != "merged"
    ]
    abandoned_dir(layout, open_id).mkdir(parents=True)  # what `invoke abandon` leaves
    world.interrupt = None
    report = run(layout, world, target=10)
    assert report.status == "reached" and recipe_counts(layout)["total"] >= 10
    batches = {b["batch_id"]: b for r in report.state["rounds"] for b in r["batches"]}
    assert batches[open_id]["stage"] == "abandoned" and batches[open_id]["merged"] == 0
    assert world.calls[("validate", open_id)] == 1 and world.calls[("merge", open_id)] == 0
    path = state_path(layout)
    assert schemas.check(json.loads(path.read_text()), "grow-state", path=str(path)) == []


def test_the_state_file_validates_against_its_schema(layout: RegistryLayout) -> None:
    world = World({"pypi": names("py", 10), "npm": names("nd", 10)}, failing=["nd000"])
    run(layout, world, target=6)
    path = state_path(layout)
    assert path == layout.root / "data" / "grow-state.json"
    document = json.loads(path.read_text())
    assert schemas.check(document, "grow-state", path=str(path)) == []
    broken = dict(document, status="sleeping")
    assert schemas.check(broken, "grow-state", path=str(path))
    assert not list(path.parent.glob(".*.tmp"))  # replaced whole, no temp file left


def test_the_json_summary(layout: RegistryLayout) -> None:
    layout.recipe_path("existing").parent.mkdir(parents=True, exist_ok=True)
    layout.recipe_path("existing").write_text('[metadata]\nname = "existing"\n')
    world = World({"pypi": names("py", 10), "npm": names("nd", 10)}, failing=["py002", "nd001"])
    report = run(layout, world, target=9)
    doc = report.to_json()
    assert doc["status"] == "reached" and doc["exit_code"] == 0
    assert doc["recipes"]["before"] == {"total": 1, "other": 1}
    after = doc["recipes"]["after"]
    assert after["total"] >= 9 and after["other"] == 1
    assert doc["recipes"]["added"]["total"] == after["total"] - 1
    assert set(doc["pass_rate"]) == {"local", "debian-12"}
    local = doc["pass_rate"]["local"]
    assert local["fail"] == 2 and local["rate"] == round(local["pass"] / (local["pass"] + 2), 4)
    assert doc["failures_by_code"] == {"verify_failed/no_version_output": 2}
    assert doc["rounds"] >= 1 and doc["batches"] >= 2 and doc["seconds"] > 0
    assert doc["state_file"] == "data/grow-state.json"
    text = report.to_text()
    assert "pass rate per environment" in text and "verify_failed/no_version_output" in text


def test_plain_progress_lines_give_rate_and_eta(layout: RegistryLayout) -> None:
    stream = io.StringIO()
    clock = Clock()
    world = World({"pypi": names("py", 10), "npm": names("nd", 10)})
    plan = GrowPlan.of(8, ["pypi", "npm"], ["local"], 4, KNOWN)
    display = PlainDisplay(stream, clock.monotonic)
    grow(layout, plan, stages=world.stages(), display=display, clock=clock.monotonic, now=clock.now)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("grow: 0/8 recipes")
    assert any(
        re.fullmatch(r"  round 1 pypi: validate local: 4 done in \d+ s", line) for line in lines
    ), lines
    assert any("/min, ETA " in line and line.startswith("grow: 4/8") for line in lines)
    assert lines[-1] == "grow: target of 8 recipes reached"


def test_the_plan_is_checked_before_anything_runs() -> None:
    with pytest.raises(UsageError, match="--target"):
        GrowPlan.of(0, ["pypi"], [], 4, KNOWN)
    with pytest.raises(UsageError, match="--ecosystem"):
        GrowPlan.of(5, ["nope"], [], 4, KNOWN)
    with pytest.raises(UsageError, match="--batch-size"):
        GrowPlan.of(5, ["pypi"], [], 0, KNOWN)
    plan = GrowPlan.of(5, ["pypi", "pypi", "npm"], ["ubuntu-24.04", "local"], 4, KNOWN)
    assert plan.ecosystems == ("pypi", "npm")
    assert plan.environments == ("local", "ubuntu-24.04")


def test_timestamps_are_the_kits_form() -> None:
    assert format_timestamp(Clock().now()) == "2026-12-05T08:00:01Z"


def test_check_data_checks_the_state_file_with_its_schema() -> None:
    from automation.ops.checkdata import classify

    names = frozenset(schemas.schema_names())
    assert classify(("data", "grow-state.json"), names) == ("schema_checked", "")


def test_the_rich_display_takes_every_event() -> None:
    from automation.stages.grow import RichDisplay

    with RichDisplay() as display:
        display.recipes(3, 10)
        display.stage("round 1 pypi: generate", 4)
        display.tick("round 1 pypi: generate")
        display.tick("round 1 pypi: unknown stage")  # ignored, never a crash
        display.stage("round 1 pypi: validate local", 0)
        display.say("a line above the bars")
        display.recipes(5, 10)
    assert display.progress.tasks[0].completed == 5


def test_grow_writes_each_batchs_review_where_asked(tmp_path: Path) -> None:
    """`invoke grow --review-dir DIR`: the merge stage writes the batch's review (the pull-request
    body: every held recipe with its reasons) to DIR/<batch>.md, nothing when not asked."""
    from automation.registry.staging import Staging
    from automation.stages.grow import pipeline_stages
    from tests.support.interrupted_merge import BATCH, validated_registry

    layout = validated_registry(tmp_path / "registry")
    # One recipe the registry's verify gate holds: it checks only a clean exit.
    (layout.root / "automation.toml").write_text('[merge]\nverify = "version"\n')
    staged = Staging(layout, BATCH).recipe_path("bravura")
    staged.write_text(staged.read_text().replace('pattern = "{version}"', 'pattern = ""'))
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    report = pipeline_stages(review_dir=reviews).merge(layout, BATCH)
    held = [d.name for d in report.decisions if d.action == "held"]
    assert "bravura" in held  # the review is what a reviewer reads
    body = (reviews / f"{BATCH}.md").read_text(encoding="utf-8")
    full = (reviews / f"{BATCH}.full.md").read_text(encoding="utf-8")
    for name in held:
        assert name in body and name in full
    assert "checks only a clean exit" in full  # the gate's reason, for the reviewer

    quiet = validated_registry(tmp_path / "again")
    pipeline_stages().merge(quiet, BATCH)
    assert not list((tmp_path / "again").rglob(f"{BATCH}.md"))


def test_the_next_ecosystem_is_seeded_while_a_batch_validates_and_never_beside_a_merge(
    layout: RegistryLayout,
) -> None:
    """Seeding waits on the network, validation on the CPU: npm's seeding runs beside pypi's
    validation, ends before pypi's merge (both write the queue), and counts as npm's batch's
    seeding (which then does not seed again)."""
    import threading

    events: list[tuple[str, str, str]] = []  # (what, ecosystem or batch, thread)
    seeding = threading.Event()
    world = World({"pypi": names("py", 30), "npm": names("nd", 30)})
    plain_seed, plain_validate, plain_merge = world.seed, world.validate, world.merge

    def seed(layout: RegistryLayout, eco: str, limit: int) -> Any:
        seeding.set()
        events.append(("seed", eco, threading.current_thread().name))
        try:
            return plain_seed(layout, eco, limit)
        finally:
            seeding.clear()

    def validate(layout: RegistryLayout, batch_id: str, envs: Sequence[str], tick: Any) -> Any:
        events.append(("validate", batch_id, threading.current_thread().name))
        return plain_validate(layout, batch_id, envs, tick)

    def merge(layout: RegistryLayout, batch_id: str) -> Any:
        assert not seeding.is_set(), "a merge ran beside seeding"
        events.append(("merge", batch_id, threading.current_thread().name))
        return plain_merge(layout, batch_id)

    plan = GrowPlan.of(12, ["pypi", "npm"], ["debian-12"], 4, KNOWN)
    clock = Clock()
    report = grow(
        layout,
        plan,
        stages=GrowStages(seed, world.generate, validate, merge),
        clock=clock.monotonic,
        now=clock.now,
    )
    assert report.status == "reached"
    first_pypi = report.state["rounds"][0]["batches"][0]["batch_id"]
    npm_seeds = [e for e in events if e[:2] == ("seed", "npm")]
    # npm was first seeded in the background, started with pypi's validation, before its merge
    assert npm_seeds[0][2] == "seed-ahead"
    assert events.index(npm_seeds[0]) < events.index(("merge", first_pypi, "MainThread"))
    assert events.index(("seed", "pypi", "MainThread")) < events.index(npm_seeds[0])
    # and npm's first batch counts it, without seeding again in the main thread
    npm_batch = report.state["rounds"][0]["batches"][1]
    assert npm_batch["ecosystem"] == "npm" and npm_batch["seeded"] > 0
    assert npm_batch["seed_tried"] is True
    assert ("seed", "npm", "MainThread") not in events


def test_seeding_ahead_that_fails_leaves_the_seeding_to_the_batch(layout: RegistryLayout) -> None:
    world = World({"pypi": names("py", 30), "npm": names("nd", 30)})
    plain_seed = world.seed
    failures: list[str] = []

    def seed(layout: RegistryLayout, eco: str, limit: int) -> Any:
        if eco == "npm" and not failures:
            failures.append(eco)
            raise OSError("registry unreachable")
        return plain_seed(layout, eco, limit)

    plan = GrowPlan.of(12, ["pypi", "npm"], ["debian-12"], 4, KNOWN)
    clock, out = Clock(), io.StringIO()
    report = grow(
        layout,
        plan,
        stages=GrowStages(seed, world.generate, world.validate, world.merge),
        clock=clock.monotonic,
        now=clock.now,
        display=PlainDisplay(out),
    )
    assert report.status == "reached" and failures == ["npm"]
    assert "seeding npm ahead failed (registry unreachable)" in out.getvalue()
    npm_batch = report.state["rounds"][0]["batches"][1]
    assert npm_batch["seeded"] > 0 and npm_batch["stage"] == "merged"
