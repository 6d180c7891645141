"""Rollback of an interrupted merge: it says what it restores and refuses a corrupt queue."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from automation.core.errors import DataError, ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.registry.queue import load_queue
from automation.registry.reservation import manifest_status
from automation.stages.merge import merge_batch
from automation.stages.rollback import rollback_batch
from tests.support import REPOSITORY_ROOT
from tests.support import pipeline_fakes as fakes
from tests.support.interrupted_merge import (
    BATCH,
    checkdata_errors,
    entries_are_free_again,
    merge_killed_mid_apply,
    pristine_data,
    registry_tree,
)

INVOKE = (sys.executable, "-m", "invoke")


def test_rollback_of_a_merge_killed_mid_apply(validated: RegistryLayout) -> None:
    pristine = pristine_data(validated)
    merge_killed_mid_apply(validated, at_write=3)
    assert pristine_data(validated) != pristine  # two recipes landed
    announced: list[str] = []
    report = rollback_batch(validated, BATCH, announce=announced.append)
    assert report.exit_code == ExitCode.OK and report.conflicts == []
    assert len(report.deleted) == 2 and all(p.startswith("recipes/") for p in report.deleted)
    assert all(path in announced[0] for path in report.deleted)  # said before it wrote
    assert pristine_data(validated) == pristine
    assert manifest_status(validated, BATCH) == "rolled_back"
    assert checkdata_errors(validated) == []
    entries_are_free_again(validated)
    with pytest.raises(UsageError, match="rolled back"):
        merge_batch(validated, BATCH)


def test_invoke_rollback_of_an_interrupted_merge_says_first_what_it_restores(
    validated: RegistryLayout,
) -> None:
    merge_killed_mid_apply(validated, at_write=2)
    done = subprocess.run(
        [*INVOKE, "rollback", "--batch-id", BATCH, "--root", str(validated.root), "--json"],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert len(doc["deleted"]) == 1 and doc["deleted"][0] in done.stderr
    assert "putting back" in done.stderr


def test_rollback_with_a_corrupt_queue_refuses_before_any_write(validated: RegistryLayout) -> None:
    merge_batch(validated, BATCH)
    queue = load_queue(validated.queue)
    from automation.registry.queue import save_queue

    save_queue(validated.queue, queue.with_entries([*queue.entries, fakes.entry("newcomer")]))
    good = validated.queue.read_bytes()
    validated.queue.write_bytes(good[: len(good) // 2])  # edited since, then broken
    before = registry_tree(validated.root)
    with pytest.raises(DataError):
        rollback_batch(validated, BATCH)
    assert registry_tree(validated.root) == before
    validated.queue.write_bytes(good)
    report = rollback_batch(validated, BATCH)
    assert report.queue_entries_restored and report.deleted
    assert "newcomer" in load_queue(validated.queue).by_name()
