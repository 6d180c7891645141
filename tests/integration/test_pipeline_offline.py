"""generate -> validate -> merge -> rollback on a scratch registry, upstream and processes faked.

What a maintainer relies on: passing recipes land, failures are recorded with specific codes, the
queue moves, a rerun changes nothing, rollback restores every file byte for byte, and a merge
killed half-way is finished by the next run exactly as an uninterrupted one would have been.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from automation.stages.merge import merge_batch
from automation.stages.rollback import rollback_batch
from automation.stages.validate import validate_batch_locally
from automation.stages.validate_local import LocalValidator
from tests.support.pipeline_fakes import FakeProcesses, make_fetch

BATCH = "2026-11-27-120000-pypi"
UPSTREAM = {
    "goodtool": ("1.0.0", ("goodtool",)),
    "libonly": ("2.0.0", ()),
    "brokentool": ("3.0.0", ("brokentool",)),
}


fetch = make_fetch(UPSTREAM)


def entry(name: str) -> QueueEntry:
    return QueueEntry(name, f"pypi:{name}", 3, "pending", "auto", None, 0, None)


@pytest.fixture
def registry(tmp_path: Path) -> RegistryLayout:
    layout = RegistryLayout.at(tmp_path)
    queue = load_queue(layout.queue)  # a new registry: empty queue
    save_queue(
        layout.queue,
        queue.with_entries(
            [entry("goodtool"), entry("libonly"), entry("brokentool"), entry("ghost")]
        ),
    )
    return layout


def run_batch(layout: RegistryLayout) -> None:
    staging = Staging(layout, BATCH)
    generate_entries(staging, load_queue(layout.queue).entries, fetch=fetch, workers=2)
    validate_batch_locally(
        layout, BATCH, validator=LocalValidator(runner=FakeProcesses(UPSTREAM, good=("goodtool",)))
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """The registry's files, minus the batch's own working files and the control file (breaker
    votes are observations and an emergency stop must survive a rollback: not batch state)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and ".cache" not in p.parts
        and "staging" not in p.parts
        and "results" not in p.parts
        and "batches" not in p.parts
        and p.name not in (".automation.lock", "batch-control.json")
    }


def test_batch_lands_what_passed_and_records_the_rest(registry: RegistryLayout) -> None:
    run_batch(registry)
    report = merge_batch(registry, BATCH, requeue=False)
    actions = {d.name: (d.action, d.subcategory) for d in report.decisions}
    assert actions == {
        "goodtool": ("merged", ""),
        "libonly": ("excluded", "no_executables"),
        "brokentool": ("failed", "nonzero_exit"),
        "ghost": ("excluded", "not_found"),
    }
    recipe = tomllib.loads(registry.recipe_path("goodtool").read_text())
    assert recipe["verify"] == {"command": "goodtool --version", "pattern": "{version}"}
    assert not registry.recipe_path("brokentool").exists()
    statuses = {
        e.name: (e.status, e.failure_count, e.next_retry_at is not None)
        for e in load_queue(registry.queue).entries
    }
    assert statuses == {
        "goodtool": ("success", 0, False),
        "libonly": ("excluded", 0, False),
        "brokentool": ("failed", 1, True),
        "ghost": ("excluded", 0, False),
    }
    failures = [
        json.loads(line)
        for p in sorted(registry.failures_dir.glob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]
    by_name = {
        f["name"]: (env["environment"], f["category"], f["subcategory"])
        for env in failures
        for f in env["failures"]
    }
    assert by_name["brokentool"][1:] == ("verify_failed", "nonzero_exit")
    assert by_name["brokentool"][0].startswith("linux-") or by_name["brokentool"][0].startswith(
        "darwin-"
    )
    assert "ImportError: boom" in next(
        f["message"] for env in failures for f in env["failures"] if f["name"] == "brokentool"
    )
    metrics = [json.loads(p.read_text()) for p in registry.metrics_dir.glob("batch-runs-*.jsonl")]
    assert metrics[0]["merged"] == 1 and metrics[0]["total"] == 4
    assert metrics[0]["generation"] == {"attempted": 4, "succeeded": 2, "failed": 2, "blocked": 0}


def test_merge_twice_changes_nothing(registry: RegistryLayout) -> None:
    run_batch(registry)
    merge_batch(registry, BATCH, requeue=False)
    after_first = snapshot(registry.root)
    again = merge_batch(registry, BATCH, requeue=False)
    assert again.already_merged
    assert snapshot(registry.root) == after_first


def test_rollback_restores_every_file_byte_for_byte(registry: RegistryLayout) -> None:
    run_batch(registry)
    before = snapshot(registry.root)
    merge_batch(registry, BATCH, requeue=False)
    assert snapshot(registry.root) != before
    report = rollback_batch(registry, BATCH)
    assert report.conflicts == []
    assert snapshot(registry.root) == before
    assert rollback_batch(registry, BATCH).already_rolled_back


def test_rollback_keeps_queue_edits_made_after_the_batch(registry: RegistryLayout) -> None:
    run_batch(registry)
    merge_batch(registry, BATCH, requeue=False)
    queue = load_queue(registry.queue)
    save_queue(
        registry.queue, queue.with_entries([*queue.entries, entry("newcomer")]), previous=queue
    )
    rollback_batch(registry, BATCH)
    statuses = {e.name: e.status for e in load_queue(registry.queue).entries}
    assert statuses == {
        "goodtool": "pending",
        "libonly": "pending",
        "brokentool": "pending",
        "ghost": "pending",
        "newcomer": "pending",
    }


@pytest.mark.parametrize("crash_after", [1, 2, 3, 4])
def test_merge_killed_midway_converges(
    registry: RegistryLayout,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    crash_after: int,
) -> None:
    # The uninterrupted result, on a copy.
    import shutil

    import automation.stages.merge as merge_module

    twin = RegistryLayout.at(tmp_path_factory.mktemp("twin") / "registry")
    run_batch(registry)
    shutil.copytree(registry.root, twin.root, ignore=shutil.ignore_patterns(".automation.lock"))
    merge_batch(twin, BATCH, requeue=False)

    real_write = merge_module._write_file
    writes = {"n": 0}

    def crashing_write(layout: RegistryLayout, write: merge_module.FileWrite) -> None:
        # The apply writes recipes, failure records, the queue, metrics: die at the n-th.
        writes["n"] += 1
        if writes["n"] == crash_after:
            raise KeyboardInterrupt("killed")
        real_write(layout, write)

    monkeypatch.setattr(merge_module, "_write_file", crashing_write)
    with pytest.raises(KeyboardInterrupt):
        merge_batch(registry, BATCH, requeue=False)
    monkeypatch.undo()
    report = merge_batch(registry, BATCH, requeue=False)
    assert report.resumed_partial
    mine = {k: v for k, v in snapshot(registry.root).items() if "failures" not in k}
    theirs = {k: v for k, v in snapshot(twin.root).items() if "failures" not in k}
    assert mine.keys() == theirs.keys()
    # Only timestamps may differ (queue updated_at, next_retry_at; metrics timestamp/duration).
    assert {k for k in mine if mine[k] != theirs[k]} <= {"data/queues/priority-queue.json"} | {
        k for k in mine if k.startswith("data/metrics/")
    }
    assert [e.status for e in load_queue(registry.queue).entries] == [
        e.status for e in load_queue(twin.queue).entries
    ]
    assert len(list(registry.failures_dir.glob("*.jsonl"))) == len(
        list(twin.failures_dir.glob("*.jsonl"))
    )
