"""Sharding for a CI matrix: ``generate --shard K/N --batch-id ID`` for K = 1..N, then one merge,
lands exactly what one unsharded batch lands, whatever the order the shards ran or arrived in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from automation.core.errors import UsageError
from automation.core.layout import RegistryLayout
from automation.registry.staging import Staging
from automation.stages.generate import in_shard
from automation.stages.merge import merge_batch
from tests.support import driver_command, python_env
from tests.support import pipeline_fakes as fakes

BATCH = "2026-11-27-130000-pypi"
N = 3


def _generate_shard(root: Path, k: int, n: int = N) -> subprocess.Popen[str]:
    argv = ["run", str(root), BATCH, "--shard", f"{k}/{n}", "--stage", "generate"]
    return subprocess.Popen(
        driver_command(*argv),
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> None:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("unsharded")
    fakes.make_registry(root)
    fakes.run_stage(root, BATCH)
    return fakes.normalised_state(root)


def test_every_entry_lands_in_exactly_one_shard() -> None:
    names = [f"tool{i}" for i in range(300)]
    owners = [[k for k in range(1, 5) if in_shard(name, (k, 4))] for name in names]
    assert all(len(o) == 1 for o in owners)
    assert {o[0] for o in owners} == {1, 2, 3, 4}  # and the split is not degenerate


def test_shards_run_in_any_order_in_separate_processes_merge_to_the_unsharded_batch(
    tmp_path: Path, unsharded: dict[str, object]
) -> None:
    fakes.make_registry(tmp_path)
    for k in (3, 1, 2):
        _finish(_generate_shard(tmp_path, k))
    staging = Staging(RegistryLayout.at(tmp_path), BATCH)
    assert sorted(p.name for p in staging.log_paths()) == [
        "generation-s1of3.jsonl",
        "generation-s2of3.jsonl",
        "generation-s3of3.jsonl",
    ]
    fakes.run_stage(tmp_path, BATCH, "validate")
    fakes.run_stage(tmp_path, BATCH, "merge")
    assert fakes.normalised_state(tmp_path) == unsharded
    before = fakes.normalised_state(tmp_path)
    assert merge_batch(RegistryLayout.at(tmp_path), BATCH).already_merged  # merge twice: no-op
    assert fakes.normalised_state(tmp_path) == before


def test_shards_started_together_wait_for_the_lock_and_merge_to_the_unsharded_batch(
    tmp_path: Path, unsharded: dict[str, object]
) -> None:
    fakes.make_registry(tmp_path)
    procs = [_generate_shard(tmp_path, k) for k in range(1, N + 1)]
    for proc in procs:
        _finish(proc)
    fakes.run_stage(tmp_path, BATCH, "validate")
    fakes.run_stage(tmp_path, BATCH, "merge")
    assert fakes.normalised_state(tmp_path) == unsharded


@pytest.mark.parametrize("arrival", [(1, 2, 3), (3, 2, 1), (2, 3, 1)])
def test_staging_from_separate_checkouts_combines_in_any_order(
    tmp_path: Path, unsharded: dict[str, object], arrival: tuple[int, ...]
) -> None:
    """The CI matrix: each shard on its own checkout; the merge job copies their staging in."""
    template = tmp_path / "template"
    fakes.make_registry(template)
    checkouts = {}
    for k in range(1, N + 1):
        checkouts[k] = tmp_path / f"job{k}"
        shutil.copytree(template, checkouts[k])
        fakes.run_stage(checkouts[k], BATCH, "generate", shard=f"{k}/{N}")
    merger = tmp_path / "merge-job"
    shutil.copytree(template, merger)
    layout = RegistryLayout.at(merger)
    target = Staging(layout, BATCH).dir
    for index, k in enumerate(arrival):
        shutil.copytree(
            Staging(RegistryLayout.at(checkouts[k]), BATCH).dir, target, dirs_exist_ok=True
        )
        if index < N - 1:
            with pytest.raises(UsageError, match="have not reported"):
                merge_batch(layout, BATCH)
    fakes.run_stage(merger, BATCH, "validate")
    fakes.run_stage(merger, BATCH, "merge")
    assert fakes.normalised_state(merger) == unsharded


def test_a_shard_with_nothing_to_do_still_reports(tmp_path: Path) -> None:
    only = "alpaca"
    fakes.make_registry(tmp_path, [only], impossible=False)
    owner = next(k for k in range(1, N + 1) if in_shard(only, (k, N)))
    for k in range(1, N + 1):
        report = fakes.run_stage(tmp_path, BATCH, "generate", shard=f"{k}/{N}")
        assert len(report.outcomes) == (1 if k == owner else 0)
    assert Staging(RegistryLayout.at(tmp_path), BATCH).missing_shards() == []


def test_shard_without_batch_id_is_a_usage_error(tmp_path: Path) -> None:
    from automation.stages.pipeline import run_generate

    fakes.make_registry(tmp_path)
    with pytest.raises(UsageError, match="--batch-id"):
        run_generate(RegistryLayout.at(tmp_path), "pypi", shard="1/2", fetch=fakes.fetch)
