"""Operations: the emergency stop reaches every task, and structurally impossible entries leave
the queue's selectable statuses with their reason recorded."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from automation.core.errors import ExitCode, StoppedError
from automation.core.layout import RegistryLayout
from automation.ops.checkdata import check_data
from automation.ops.maintenance import exclude_impossible
from automation.registry.control import emergency_stop, resume
from automation.registry.failures import iter_failures
from automation.registry.queue import load_queue
from automation.stages.merge import merge_batch
from tests.support import pipeline_fakes as fakes

REPOSITORY = Path(__file__).resolve().parents[2]
BATCH = "2026-11-27-170000-pypi"
PINNED_RECIPE = """[metadata]
name = "boundary"
description = "Secure remote access"
homepage = "https://example.org/"

[version]
github_repo = "hashicorp/boundary"

[[steps]]
action = "download"
url = "http://127.0.0.1:9/boundary/{version}/boundary_{version}_{os}_{arch}.zip"
checksum_url = "http://127.0.0.1:9/boundary/{version}/boundary_{version}_SHA256SUMS"

[[steps]]
action = "install_binaries"
outputs = ["boundary"]
"""


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cache" not in p.parts and p.name != ".automation.lock"
    }


@pytest.fixture(scope="module")
def stopped_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with a staged, validated batch and a pinned recipe, then an emergency stop."""
    root = tmp_path_factory.mktemp("stopped")
    fakes.make_registry(root)
    fakes.run_stage(root, BATCH, "generate")
    fakes.run_stage(root, BATCH, "validate")
    recipe = RegistryLayout.at(root).recipe_path("boundary")
    recipe.parent.mkdir(parents=True, exist_ok=True)
    recipe.write_text(PINNED_RECIPE)
    emergency_stop(RegistryLayout.at(root), "drill", by="test_operations")
    return root


TASKS = {
    "seed": ["seed", "--source", "pypi", "--limit", "1"],
    "generate": ["generate", "--ecosystem", "pypi", "--batch-size", "3"],
    "generate-shard": ["generate", "--ecosystem", "pypi", "--shard", "1/2", "--batch-id", BATCH],
    "validate-local": ["validate", "--batch-id", BATCH],
    "validate-container": ["validate", "--batch-id", BATCH, "--env", "debian-12"],
    "validate-containers": ["validate-containers", "--env", "debian-12"],
    "merge": ["merge", "--batch-id", BATCH],
    "requeue": ["requeue"],
    "reorder": ["reorder"],
    "exclude-impossible": ["exclude-impossible"],
    "drift": ["drift", "--budget", "1"],
    "pipeline": ["pipeline", "--ecosystem", "pypi", "--no-seed"],
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_stops_with_exit_5_and_changes_nothing(
    stopped_registry: Path, task: str
) -> None:
    before = _files(stopped_registry)
    done = subprocess.run(
        [sys.executable, "-m", "invoke", *TASKS[task], "--root", str(stopped_registry), "--json"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == ExitCode.STOPPED, done.stdout[-2000:] + done.stderr[-2000:]
    assert "emergency stop" in done.stdout + done.stderr
    assert _files(stopped_registry) == before


def test_a_stop_during_generate_takes_effect_before_the_next_item(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    calls: list[str] = []

    def fetch_then_stop(ecosystem: str, identifier: str) -> Any:
        calls.append(identifier)
        if len(calls) == 2:
            emergency_stop(layout, "incident during the batch")
        return fakes.fetch(ecosystem, identifier)

    from automation.stages.pipeline import run_generate

    report = run_generate(
        layout, "pypi", batch_size=50, batch_id=BATCH, workers=1, fetch=fetch_then_stop
    )
    assert report.exit_code == ExitCode.STOPPED
    assert len(report.outcomes) == 2 and len(calls) == 2
    resume(layout)
    again = run_generate(layout, "pypi", batch_id=BATCH, workers=1, fetch=fakes.fetch)
    assert again.skipped_already_done == 2
    assert len(again.outcomes) == len(fakes.NAMES) - 2


def test_a_stop_during_merge_puts_back_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.make_registry(tmp_path)
    fakes.run_stage(tmp_path, BATCH, "generate")
    fakes.run_stage(tmp_path, BATCH, "validate")
    twin = tmp_path.parent / f"{tmp_path.name}-twin"
    shutil.copytree(tmp_path, twin)
    fakes.run_stage(twin, BATCH, "merge")
    layout = RegistryLayout.at(tmp_path)
    before = {k: v for k, v in _files(tmp_path).items() if not k.startswith("data/batches/")}

    import automation.stages.merge as merge_module
    from automation.registry.control import check_allowed_now as real

    checks = {"n": 0}

    def stop_at_the_fifth_item(lay: RegistryLayout, ecosystem: str | None) -> None:
        checks["n"] += 1
        if checks["n"] == 6:  # the check before the merge, then one per item
            raise StoppedError("emergency stop in batch-control.json (drill)")
        real(lay, ecosystem)

    monkeypatch.setattr(merge_module, "check_allowed_now", stop_at_the_fifth_item)
    with pytest.raises(StoppedError):
        merge_batch(layout, BATCH)
    monkeypatch.undo()
    after = {k: v for k, v in _files(tmp_path).items() if not k.startswith("data/batches/")}
    assert after == before  # recipes merged before the stop were taken back
    assert merge_batch(layout, BATCH).resumed_partial
    assert fakes.normalised_state(tmp_path) == fakes.normalised_state(twin)


# --- structurally impossible entries -------------------------------------------------------


def test_exclude_impossible_marks_and_records_each_case_once(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    dry = exclude_impossible(layout, dry_run=True)
    assert {(e.entry.name, e.reason.status, e.reason.subcategory) for e in dry.exclusions} == {
        ("tapped", "excluded", "tap_name"),
        ("nixonly", "excluded", "unsupported_ecosystem"),
        ("handmade", "requires_manual", "manual_source"),
    }
    assert load_queue(layout.queue).by_name()["tapped"].status == "pending"  # dry run
    report = exclude_impossible(layout)
    assert report.exit_code == ExitCode.OK
    statuses = {e.name: e.status for e in load_queue(layout.queue).entries}
    assert (statuses["tapped"], statuses["nixonly"], statuses["handmade"]) == (
        "excluded",
        "excluded",
        "requires_manual",
    )
    assert statuses["alpaca"] == "pending"
    records = {(r.name, r.category, r.subcategory) for r in iter_failures(layout)}
    assert records == {
        ("tapped", "recipe_not_found", "tap_name"),
        ("nixonly", "recipe_not_found", "unsupported_ecosystem"),
        ("handmade", "recipe_not_found", "manual_source"),
    }
    again = exclude_impossible(layout)
    assert again.exclusions == [] and again.failure_files == []
    assert not [p for _, p in check_data(layout).problems if p.severity == "error"]


def test_history_proves_bottle_less_and_library_only_entries(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, ["alpaca", "bravura", "cumulus"], impossible=False)
    layout = RegistryLayout.at(tmp_path)
    layout.failures_dir.mkdir(parents=True)
    legacy = {
        "schema_version": 1,
        "ecosystem": "pypi",
        "environment": "linux-x86_64",
        "updated_at": "2026-02-03T10:00:00Z",
        "failures": [
            {
                "package_id": "pypi:alpaca",
                "category": "generation_failed",
                "message": "no bottles available for alpaca",
                "timestamp": "2026-02-03T10:00:00Z",
            },
            {
                "package_id": "pypi:bravura",
                "category": "generation_failed",
                "message": "[library_only] bravura has only lib/",
                "timestamp": "2026-02-03T10:00:00Z",
            },
        ],
    }
    (layout.failures_dir / "pypi-2026-02-03T10-00-00Z.jsonl").write_text(json.dumps(legacy) + "\n")
    report = exclude_impossible(layout)
    assert {(e.entry.name, e.reason.subcategory) for e in report.exclusions} == {
        ("alpaca", "no_bottles"),
        ("bravura", "library_only"),
    }
    assert exclude_impossible(layout, history=False, dry_run=True).exclusions == []


def test_reference_queue_tap_names_and_the_rest(reference_dir: Path, tmp_path: Path) -> None:
    """On the reference queue: what would go, and why (915 tap names among it)."""
    dry = exclude_impossible(RegistryLayout.at(reference_dir), dry_run=True)
    counts = Counter(f"{e.reason.status}/{e.reason.subcategory}" for e in dry.exclusions)
    print(dict(sorted(counts.items())), len(dry.exclusions))
    assert counts["excluded/tap_name"] == 915
    assert set(counts) <= {
        "excluded/tap_name",
        "excluded/unsupported_ecosystem",
        "excluded/no_bottles",
        "excluded/formula_disabled",
        "excluded/library_only",
        "requires_manual/llm_only_source",
        "requires_manual/manual_source",
        "requires_manual/no_source_prefix",
    }
    # And for real, on a copy of the queue: each entry once, with its record, check-data clean.
    layout = RegistryLayout.at(tmp_path)
    layout.queue.parent.mkdir(parents=True)
    shutil.copy(reference_dir / "data" / "queues" / "priority-queue.json", layout.queue)
    report = exclude_impossible(layout)
    queue_only = Counter(f"{e.reason.status}/{e.reason.subcategory}" for e in report.exclusions)
    assert queue_only["excluded/tap_name"] == 915
    records = Counter(r.subcategory for r in iter_failures(layout))
    assert records["tap_name"] == 915
    statuses = Counter(e.status for e in load_queue(layout.queue).entries)
    assert statuses["excluded"] >= 915 + 6
    assert exclude_impossible(layout).exclusions == []
    assert not [p for _, p in check_data(layout).problems if p.severity == "error"]
