"""Reservation reads other batches' files within the data bounds: a manifest on a batch branch
(another checkout's) and abandon markers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.registry.reservation import (
    ABANDON_MARKER,
    abandon_batch,
    abandoned_dir,
    branch_reservations,
)
from automation.registry.staging import staging_dir
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

BATCH = "2026-11-27-180000-pypi"
HUGE_MANIFEST = json.dumps(
    {"batch_id": BATCH, "created_at": "2026-11-27T18:00:00Z", "queue_changes": [], "size": HUGE}
)
CASES = pytest.mark.parametrize(
    ("text", "message"),
    [(deep_nested(), DEEP_MESSAGE), (HUGE_MANIFEST, HUGE_MESSAGE)],
    ids=["deep-nested", "huge-int"],
)
MARKERS = pytest.mark.parametrize(
    "text",
    [deep_nested(), json.dumps({"batch_id": BATCH, "abandoned_at": HUGE})],
    ids=["deep-nested", "huge-int"],
)


def _git(root: Path, *args: str) -> None:
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    identity |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env = {**os.environ, **identity}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


@CASES
def test_a_branch_manifest_out_of_bounds_is_a_data_error_naming_ref_and_file(
    tmp_path: Path, text: str, message: str
) -> None:
    layout = RegistryLayout.at(tmp_path)
    (tmp_path / "README.md").write_text("registry\n")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "registry")
    _git(tmp_path, "checkout", "-qb", f"batch/{BATCH}")
    layout.batches_dir.mkdir(parents=True)
    layout.batch_manifest(BATCH).write_text(text)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "batch")
    _git(tmp_path, "checkout", "-q", "main")  # the manifest is only on the batch branch
    assert not layout.batch_manifest(BATCH).exists()
    with pytest.raises(DataError) as caught:
        branch_reservations(layout, "refs/heads/batch/")
    assert caught.value.path == f"refs/heads/batch/{BATCH}:data/batches/{BATCH}.json"
    assert message in str(caught.value)


@MARKERS
def test_an_out_of_bounds_marker_of_an_abandoned_batch(tmp_path: Path, text: str) -> None:
    layout = RegistryLayout.at(tmp_path)
    target = abandoned_dir(layout, BATCH)
    target.mkdir(parents=True)
    (target / ABANDON_MARKER).write_text(text)
    report = abandon_batch(layout, BATCH)
    assert report.already_abandoned and report.abandoned_at == ""  # the time is unknown


@MARKERS
def test_an_out_of_bounds_marker_of_a_killed_abandon_is_kept_and_the_move_finishes(
    tmp_path: Path, text: str
) -> None:
    layout = RegistryLayout.at(tmp_path)
    source = staging_dir(layout, BATCH)
    source.mkdir(parents=True)
    (source / ABANDON_MARKER).write_text(text)
    report = abandon_batch(layout, BATCH)
    assert not source.exists() and report.abandoned_at == ""
    assert (abandoned_dir(layout, BATCH) / ABANDON_MARKER).read_text() == text
