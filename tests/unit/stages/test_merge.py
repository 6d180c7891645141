"""Merge as plan-then-apply: planning writes nothing, every bad input stops the merge before its
first write, and a batch in any state has a way out (merge again, rollback, abandon)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.errors import DataError, UsageError
from automation.core.layout import RegistryLayout
from automation.registry import manifest as mf
from automation.registry.queue import load_queue
from automation.registry.reservation import abandon_batch
from automation.registry.staging import Staging
from automation.stages.merge import MergeReport, apply_merge, merge_batch, plan_merge
from automation.stages.pipeline import run_generate
from automation.stages.rollback import rollback_batch
from tests.support import pipeline_fakes as fakes
from tests.support.interrupted_merge import (
    BATCH,
    checkdata_errors,
    merge_killed_mid_apply,
    registry_tree,
)

NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)


def test_planning_writes_nothing_and_apply_writes_exactly_the_plan(
    validated: RegistryLayout,
) -> None:
    before = registry_tree(validated.root)
    plan = plan_merge(validated, BATCH)
    assert registry_tree(validated.root) == before  # bytes and mtimes
    assert plan.manifest is not None and plan.manifest.status == "in_progress"
    written = {w.path for w in plan.writes}
    assert {c.path for c in plan.manifest.files} == written | {"data/queues/priority-queue.json"}
    assert any(p.startswith("recipes/") for p in written)
    assert any(p.startswith("data/failures/") for p in written)
    assert f"data/metrics/batch-runs-{BATCH}.jsonl" in written
    # Each before-image is the file as it is now; each planned digest is what apply writes.
    for change in plan.manifest.files:
        path = validated.root / change.path
        assert change.before_bytes() == (path.read_bytes() if path.exists() else None)
    apply_merge(validated, plan)
    for write in plan.writes:
        assert (validated.root / write.path).read_bytes() == write.data, write.path
    assert mf.load_manifest(validated, BATCH).status == "merged"
    assert checkdata_errors(validated) == []


def test_a_truncated_queue_stops_merge_before_any_write_and_the_repaired_queue_is_kept(
    validated: RegistryLayout,
) -> None:
    good = validated.queue.read_bytes()
    validated.queue.write_bytes(good[: len(good) // 2])
    before = registry_tree(validated.root)
    with pytest.raises(DataError) as stopped:
        merge_batch(validated, BATCH)
    assert int(stopped.value.exit_code) == 3
    assert registry_tree(validated.root) == before  # no manifest, no before-image of the bad bytes
    assert not validated.batch_manifest(BATCH).exists()
    validated.queue.write_bytes(good)  # the operator repairs it
    report = merge_batch(validated, BATCH)
    assert not report.resumed_partial and report.counts["merged"] > 0
    queue = load_queue(validated.queue)  # the good queue, with this batch's transitions
    assert queue.by_name()["alpaca"].status == "success"
    assert len(queue.entries) == len(fakes.NAMES) + len(fakes.IMPOSSIBLE)
    manifest = mf.load_manifest(validated, BATCH)
    assert manifest.file("data/queues/priority-queue.json").before_bytes() == good  # type: ignore[union-attr]
    assert checkdata_errors(validated) == []


def test_a_stale_before_image_of_an_interrupted_merge_is_never_written_back(
    validated: RegistryLayout,
) -> None:
    """What the old merge left: an in_progress manifest holding the truncated queue as its
    before-image. The queue was repaired since: the next merge keeps the repaired queue."""
    good = validated.queue.read_bytes()
    truncated = good[: len(good) // 2]
    queue_image = mf.FileChange(
        "data/queues/priority-queue.json",
        "queue",
        mf.FileState.of_bytes(truncated, keep_content=True),
    )
    stale = replace(mf.new_manifest(BATCH, ["pypi"]), files=(queue_image,))
    mf.save_manifest(validated, stale)
    report = merge_batch(validated, BATCH)
    assert report.resumed_partial
    assert report.kept_as_found == ["data/queues/priority-queue.json"]
    assert load_queue(validated.queue).by_name()["alpaca"].status == "success"
    assert mf.load_manifest(validated, BATCH).status == "merged"


def test_a_free_form_batch_id_is_refused_before_anything_is_written(
    validated: RegistryLayout,
) -> None:
    free_form = Staging(validated, "b1").dir
    Staging(validated, BATCH).dir.rename(free_form)  # staged under an id of the old front door
    before = registry_tree(validated.root)
    with pytest.raises(UsageError, match=r"batch id 'b1' does not match") as refused:
        merge_batch(validated, "b1")
    assert int(refused.value.exit_code) == 2
    assert registry_tree(validated.root) == before
    assert abandon_batch(validated, "b1").released  # its way out


def test_an_out_of_range_exit_code_stops_merge_before_any_write(validated: RegistryLayout) -> None:
    (results,) = (validated.root / "data" / "results" / BATCH).glob("*.jsonl")
    lines = results.read_text().splitlines()
    broken = next(i for i, line in enumerate(lines) if '"recipe":"quokka"' in line)
    doc = json.loads(lines[broken])
    lines[broken] = lines[broken].replace(
        f'"exit_code":{doc["exit_code"]}', '"exit_code":1000000000000000000000000000000'
    )
    results.write_text("\n".join(lines) + "\n")
    before = registry_tree(validated.root)
    with pytest.raises(DataError, match="exit_code"):
        merge_batch(validated, BATCH)
    assert registry_tree(validated.root) == before
    assert not validated.batch_manifest(BATCH).exists()


def test_a_rerun_after_a_kill_mid_apply_converges(
    validated: RegistryLayout, tmp_path_factory: pytest.TempPathFactory
) -> None:
    twin = tmp_path_factory.mktemp("twin") / "registry"
    shutil.copytree(validated.root, twin, ignore=shutil.ignore_patterns(".automation.lock"))
    merge_batch(RegistryLayout.at(twin), BATCH)
    merge_killed_mid_apply(validated, at_write=4)
    report = merge_batch(validated, BATCH)
    assert report.resumed_partial and report.kept_as_found == []
    assert fakes.normalised_state(validated.root) == fakes.normalised_state(twin)
    assert checkdata_errors(validated) == []


def test_requeue_decided_in_the_plan_equals_requeue_after_the_writes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """An entry blocked on a recipe this batch lands goes back to pending in the same write,
    exactly as ``requeue_for_merged`` run after the merge decides."""
    from automation.learn.requeue import requeue_for_merged
    from automation.registry.failures import NewFailure, write_failures
    from automation.registry.queue import save_queue

    roots = []
    for name in ("planned", "after"):
        root = tmp_path_factory.mktemp(name) / "registry"
        fakes.make_registry(root)
        layout = RegistryLayout.at(root)
        queue = load_queue(layout.queue)
        needy = fakes.entry("needy").with_changes(status="blocked")
        save_queue(layout.queue, queue.with_entries([*queue.entries, needy]), previous=queue)
        blocked = NewFailure("needy", "pypi:needy", "missing_dep", "missing_dep", "needs alpaca")
        write_failures(layout, "pypi", "linux", [replace(blocked, blocked_by=("alpaca",))], NOW)
        fakes.run_stage(root, BATCH, "generate")
        fakes.run_stage(root, BATCH, "validate")
        roots.append(layout)
    planned, after = roots
    report = merge_batch(planned, BATCH, now=NOW)
    assert report.requeued == ["needy"]
    merged = merge_batch(after, BATCH, now=NOW, requeue=False)
    names = [d.name for d in merged.decisions if d.action == "merged"]
    assert requeue_for_merged(after, names, now=NOW).plan.changes
    assert load_queue(planned.queue).entries == load_queue(after.queue).entries
    assert load_queue(planned.queue).by_name()["needy"].status == "pending"
    # One write covers transitions and requeue: rollback puts the entry back as it was.
    rollback_batch(planned, BATCH)
    assert load_queue(planned.queue).by_name()["needy"].status == "blocked"


# --- recipes the registry already has -----------------------------------------------------------

HAND_WRITTEN = (
    '[metadata]\nname = "{name}"\ndescription = "by hand"\n{extra}\n'
    '[[steps]]\naction = "pipx_install"\npackage = "{name}"\n'
)


def _write_recipe(layout: RegistryLayout, name: str, *, curated: bool = False) -> bytes:
    path = layout.recipe_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HAND_WRITTEN.format(name=name, extra="curated = true\n" if curated else ""))
    return path.read_bytes()


def _decisions(report: MergeReport) -> dict[str, tuple[str, list[str]]]:
    return {d.name: (d.action, d.reasons) for d in report.decisions}


def test_a_recipe_that_appeared_after_generation_is_not_overwritten(
    validated: RegistryLayout,
) -> None:
    """The second line of defence: generated without --force, so never written over a file."""
    before = _write_recipe(validated, "alpaca")
    report = merge_batch(validated, BATCH, now=NOW)
    action, reasons = _decisions(report)["alpaca"]
    assert action == "skipped"
    assert reasons == ["recipe exists: recipes/a/alpaca.toml; pass --force alpaca to replace it"]
    assert validated.recipe_path("alpaca").read_bytes() == before
    assert _decisions(report)["bravura"][0] == "merged"  # the rest of the batch lands
    entry = load_queue(validated.queue).by_name()["alpaca"]
    assert (entry.status, entry.failure_count, entry.next_retry_at) == ("success", 0, None)
    assert checkdata_errors(validated) == []
    # Rollback puts the queue entry back; the recipe was never the batch's to touch.
    rollback_batch(validated, BATCH)
    assert load_queue(validated.queue).by_name()["alpaca"].status == "pending"
    assert validated.recipe_path("alpaca").read_bytes() == before


def test_a_forced_batch_replaces_a_plain_recipe_but_never_a_curated_one(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    _write_recipe(layout, "alpaca")
    run_generate(layout, "pypi", batch_id=BATCH, fetch=fakes.fetch, force=["alpaca", "bravura"])
    fakes.run_stage(tmp_path, BATCH, "validate")
    curated = _write_recipe(layout, "bravura", curated=True)  # made curated meanwhile
    report = merge_batch(layout, BATCH, now=NOW)
    decisions = _decisions(report)
    assert decisions["alpaca"][0] == "merged"
    replaced = layout.recipe_path("alpaca").read_text(encoding="utf-8")
    assert 'llm_validation = "skipped"' in replaced and "by hand" not in replaced
    action, reasons = decisions["bravura"]
    assert action == "skipped" and "recipes/b/bravura.toml is curated" in reasons[0]
    assert layout.recipe_path("bravura").read_bytes() == curated
    assert load_queue(layout.queue).by_name()["bravura"].status == "success"


def test_a_skipped_entry_whose_recipe_went_away_stays_pending(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    _write_recipe(layout, "alpaca")
    fakes.run_stage(tmp_path, BATCH, "generate")
    fakes.run_stage(tmp_path, BATCH, "validate")
    layout.recipe_path("alpaca").unlink()
    report = merge_batch(layout, BATCH, now=NOW)
    action, reasons = _decisions(report)["alpaca"]
    assert action == "skipped" and "no longer holds it back" in reasons[-1]
    assert load_queue(layout.queue).by_name()["alpaca"].status == "pending"
    assert not layout.recipe_path("alpaca").exists()


def test_skipped_entries_are_no_generation_attempts_in_the_metrics(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    for name in ("alpaca", "bravura"):
        _write_recipe(layout, name)
    report = fakes.run_stage(tmp_path, BATCH, "all")
    assert report.counts["skipped"] == 2
    record = json.loads((layout.metrics_dir / f"batch-runs-{BATCH}.jsonl").read_text())
    assert record["generation"]["skipped"] == 2
    # Every pypi entry of the queue was in the batch; the two skipped were not attempted.
    assert record["total"] == record["generation"]["attempted"] == len(fakes.NAMES) - 2
    assert record["ecosystems"] == {"pypi": len(fakes.NAMES) - 2}
