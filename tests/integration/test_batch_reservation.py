"""Reservations: two batches that are generated but not yet merged never pick the same entries.

A batch's ``selection.json`` reserves its entries until the batch is merged, rolled back,
abandoned (``invoke abandon``) or 24 hours old; shards of one batch share its selection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from automation.core.atomic import atomic_write_text, registry_lock
from automation.core.errors import DataError, LockedError, UsageError
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp, now
from automation.registry.queue import load_queue
from automation.registry.reservation import (
    ABANDON_MARKER,
    RESERVATION_TTL,
    abandon_batch,
    abandoned_dir,
    manifest_status,
    scan_reservations,
)
from automation.registry.staging import Staging
from automation.stages.generate import GenerateReport
from automation.stages.merge import merge_batch
from automation.stages.pipeline import run_generate
from automation.stages.rollback import rollback_batch
from tests.support import pipeline_fakes as fakes
from tests.support import python_env

REPOSITORY = Path(__file__).resolve().parents[2]
A, B, C = "2026-11-27-180000-pypi", "2026-11-27-180001-pypi", "2026-11-27-180002-pypi"
INVOKE = (sys.executable, "-m", "invoke")
SIX = ("alpaca", "bravura", "cumulus", "dynamo", "everest", "fjordkit")


def _generate(root: Path, batch_id: str, size: int, shard: str | None = None) -> GenerateReport:
    report = run_generate(
        RegistryLayout.at(root),
        "pypi",
        batch_size=size,
        batch_id=batch_id,
        shard=shard,
        workers=2,
        fetch=fakes.fetch,
    )
    assert isinstance(report, GenerateReport)
    return report


def _selected(root: Path, batch_id: str) -> list[str]:
    names = Staging(RegistryLayout.at(root), batch_id).selection()
    assert names is not None
    return names


def _status(root: Path) -> dict[str, str]:
    return {e.name: e.status for e in load_queue(RegistryLayout.at(root).queue).entries}


def _age(root: Path, batch_id: str, hours: float) -> None:
    """Pretend the batch selected its entries ``hours`` ago."""
    staging = Staging(RegistryLayout.at(root), batch_id)
    names = staging.selection()
    assert names is not None
    staging.save_selection("pypi", names, format_timestamp(now() - timedelta(hours=hours)))


def test_a_then_b_are_disjoint_and_b_lists_what_a_holds(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    first = _generate(tmp_path, A, 3)
    second = _generate(tmp_path, B, 3)
    a, b = _selected(tmp_path, A), _selected(tmp_path, B)
    assert len(a) == len(b) == 3 and not set(a) & set(b)
    assert {o.name for o in first.outcomes} == set(a)
    assert {o.name for o in second.outcomes} == set(b)
    assert first.reserved_skips == []
    doc = second.to_json()
    assert doc["reserved_skips"] == [{"name": n, "source": f"pypi:{n}", "batch_id": A} for n in a]
    assert doc["expired_reservations"] == []
    assert f"3 skipped, reserved by open batch {A}" in second.to_text()
    # Nothing left for a third batch while A and B are open: an empty batch, not a stop.
    third = _generate(tmp_path, C, 3)
    assert third.outcomes == [] and third.stopped is None
    assert {s.batch_id for s in third.reserved_skips} == {A, B}
    assert json.loads(json.dumps(third.to_json()))["reserved_skips"][0]["batch_id"] == A


def test_after_a_is_merged_b_takes_what_a_left_pending(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    _generate(tmp_path, A, 3)
    _generate(tmp_path, B, 3)
    a, b = _selected(tmp_path, A), _selected(tmp_path, B)
    merge_batch(RegistryLayout.at(tmp_path), A)  # not validated: A's entries stay pending
    assert manifest_status(RegistryLayout.at(tmp_path), A) == "merged"
    assert all(_status(tmp_path)[n] == "pending" for n in a)
    third = _generate(tmp_path, C, 6)
    assert set(_selected(tmp_path, C)) == set(a)  # A's leftovers, not B's open reservation
    assert {s.name for s in third.reserved_skips} == set(b)


def test_a_rolled_back_batch_releases_its_entries(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    fakes.run_stage(tmp_path, A, batch_size=3)  # generate, validate, merge
    a = _selected(tmp_path, A)
    assert all(_status(tmp_path)[n] == "success" for n in a)
    rollback_batch(RegistryLayout.at(tmp_path), A)
    assert all(_status(tmp_path)[n] == "pending" for n in a)
    report = _generate(tmp_path, B, 6)
    assert set(_selected(tmp_path, B)) == set(SIX) and report.reserved_skips == []


def test_an_interrupted_merge_keeps_the_reservation(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    _generate(tmp_path, A, 3)
    layout = RegistryLayout.at(tmp_path)
    manifest = layout.batch_manifest(A)
    atomic_write_text(manifest, json.dumps({"batch_id": A, "status": "in_progress"}))
    assert manifest_status(layout, A) == "in_progress"  # compact form: read in full
    _generate(tmp_path, B, 6)
    assert not set(_selected(tmp_path, A)) & set(_selected(tmp_path, B))
    # Abandon would undo that merge, but this manifest does not say what it wrote: refused
    # before anything is written, the reservation still held.
    with pytest.raises(DataError, match="schema_version"):
        abandon_batch(layout, A)
    assert not (Staging(layout, A).dir / ABANDON_MARKER).exists()
    assert manifest_status(layout, A) == "in_progress"


def test_abandon_releases_at_once_and_the_batch_is_gone_for_good(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    _generate(tmp_path, A, 3)
    a = _selected(tmp_path, A)
    layout = RegistryLayout.at(tmp_path)
    report = abandon_batch(layout, A, reason="stale", by="test")
    assert report.released == a and not report.already_abandoned
    assert report.moved_to == f"data/staging/.abandoned/{A}"
    marker = json.loads((abandoned_dir(layout, A) / ABANDON_MARKER).read_text())
    assert marker["reason"] == "stale" and marker["released"] == a
    assert not Staging(layout, A).dir.exists()
    _generate(tmp_path, B, 6)
    assert set(_selected(tmp_path, B)) == set(SIX)
    with pytest.raises(UsageError, match="abandoned"):
        _generate(tmp_path, A, 3)  # resuming it would reselect under the old id
    with pytest.raises(UsageError, match="no batch"):
        merge_batch(layout, A)
    assert abandon_batch(layout, A).already_abandoned  # idempotent
    with pytest.raises(UsageError, match="no batch"):
        abandon_batch(layout, C)


def test_abandon_refuses_a_merged_batch_and_one_being_generated(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    layout = RegistryLayout.at(tmp_path)
    _generate(tmp_path, A, 2)
    merge_batch(layout, A)
    with pytest.raises(UsageError, match="merged"):
        abandon_batch(layout, A)
    _generate(tmp_path, B, 2)
    running = layout.cache_dir / "locks" / f"{B}-s1of2.lock"  # a shard of B is generating
    with registry_lock(running, timeout=0), pytest.raises(LockedError, match="being generated"):
        abandon_batch(layout, B)
    assert Staging(layout, B).selection_path.exists()  # untouched


def test_abandon_killed_between_marker_and_move_already_releases_and_a_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    layout = RegistryLayout.at(tmp_path)
    _generate(tmp_path, A, 3)

    def killed(*_args: Any) -> None:
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as patch:
        patch.setattr(os, "rename", killed)
        with pytest.raises(KeyboardInterrupt):
            abandon_batch(layout, A)
    assert (Staging(layout, A).dir / ABANDON_MARKER).exists()
    assert scan_reservations(layout, now()).open == ()
    with pytest.raises(UsageError, match="abandoned"):
        _generate(tmp_path, A, 3)
    assert not abandon_batch(layout, A).already_abandoned
    assert abandoned_dir(layout, A).is_dir() and not Staging(layout, A).dir.exists()


def test_a_reservation_expires_after_24_hours_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    layout = RegistryLayout.at(tmp_path)
    _generate(tmp_path, A, 3)
    a = _selected(tmp_path, A)
    selected_at = Staging(layout, A).selection_record()
    assert selected_at is not None
    assert timedelta(hours=24) == RESERVATION_TTL
    young = scan_reservations(layout, selected_at.selected_at + timedelta(hours=23))
    old = scan_reservations(layout, selected_at.selected_at + timedelta(hours=25))
    assert [r.batch_id for r in young.open] == [A] and young.expired == ()
    assert old.open == () and [r.batch_id for r in old.expired] == [A]

    _age(tmp_path, A, 25)
    report = _generate(tmp_path, B, 3)
    assert set(_selected(tmp_path, B)) == set(a) and report.reserved_skips == []
    expired = report.to_json()["expired_reservations"]
    assert [(e["batch_id"], e["entries"], e["ttl_hours"]) for e in expired] == [(A, a, 24.0)]
    assert "expired" in report.to_text() and f"invoke abandon --batch-id {A}" in report.to_text()
    assert f"reservation of batch {A}" in capsys.readouterr().err
    # Resuming the expired batch leaves alone what the open batch B took meanwhile.
    Staging(layout, A).log_path.unlink()
    resumed = _generate(tmp_path, A, 3)
    assert resumed.outcomes == [] and {s.name for s in resumed.reserved_skips} == set(a)
    assert {s.batch_id for s in resumed.reserved_skips} == {B}


def test_shards_of_one_batch_share_its_selection_and_skip_other_batches(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    _generate(tmp_path, A, 2)
    a = _selected(tmp_path, A)
    done: list[str] = []
    for k in (2, 1, 3):
        report = _generate(tmp_path, B, 50, shard=f"{k}/3")
        done += [o.name for o in report.outcomes]
        # The shard that selected skipped A's entries; the others work on B's plan, which A's
        # entries are not in (and B's own reservation does not hold them back).
        assert {s.name for s in report.reserved_skips} == (set(a) if k == 2 else set())
    b = _selected(tmp_path, B)
    assert sorted(done) == sorted(b) == sorted(set(SIX) - set(a))
    layout = RegistryLayout.at(tmp_path)
    assert Staging(layout, B).missing_shards() == []
    assert {o.name for o in Staging(layout, B).outcomes()} == set(b)


CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from tests.support import pipeline_fakes as fakes
    from automation.core.layout import RegistryLayout
    from automation.stages.pipeline import run_generate
    root, batch, size, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    fetch = fakes.fetch
    if mode == "kill-while-saving":  # SIGKILL in the middle of writing selection.json
        import automation.core.atomic
        real = os.replace
        def replace(src, dst):
            if str(dst).endswith("selection.json"):
                os.kill(os.getpid(), signal.SIGKILL)
            real(src, dst)
        automation.core.atomic.os.replace = replace
    if mode == "hang-while-fetching":
        def fetch(ecosystem, identifier):
            print("FETCHING", flush=True)
            time.sleep(600)
    print("READY", flush=True)
    report = run_generate(
        RegistryLayout.at(root), "pypi", batch_size=size, batch_id=batch, workers=1,
        fetch=fetch, lock_wait=60,
    )
    print(json.dumps(report.to_json()), flush=True)
    """
)


def _spawn(root: Path, batch_id: str, size: int, mode: str = "") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), batch_id, str(size), mode],
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    return proc


def test_generates_started_together_in_separate_processes_never_share_an_entry(
    tmp_path: Path,
) -> None:
    fakes.make_registry(tmp_path)  # 14 pypi entries
    layout = RegistryLayout.at(tmp_path)
    batches = [f"2026-11-27-19000{i}-pypi" for i in range(4)]
    with registry_lock(layout.lock_file):  # all four queue up on the lock, then race for it
        procs = [_spawn(tmp_path, batch, 3) for batch in batches]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    selections = [_selected(tmp_path, batch) for batch in batches]
    every = [name for names in selections for name in names]
    assert all(len(names) == 3 for names in selections)
    assert len(every) == len(set(every)) == 12
    # Whoever came later saw the reservations of those before it, and said so.
    skips = sorted(len(r["reserved_skips"]) for r in reports)
    assert skips == [0, 3, 6, 9]


def test_kill_nine_during_generate_leaves_a_whole_reservation_or_none(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    layout = RegistryLayout.at(tmp_path)

    # Killed while waiting for the lock: nothing selected, nothing reserved.
    with registry_lock(layout.lock_file):
        waiting = _spawn(tmp_path, A, 3)
        waiting.kill()
        waiting.wait(30)
    assert not Staging(layout, A).selection_path.exists()

    # Killed in the middle of writing selection.json: no selection, so no reservation.
    saving = _spawn(tmp_path, A, 3, "kill-while-saving")
    saving.wait(60)
    assert saving.returncode == -signal.SIGKILL
    assert not Staging(layout, A).selection_path.exists()
    assert scan_reservations(layout, now()).open == ()

    # Killed after selecting, while generating: the reservation is whole and honoured.
    hanging = _spawn(tmp_path, A, 3, "hang-while-fetching")
    assert hanging.stdout is not None
    assert hanging.stdout.readline().strip() == "FETCHING"
    hanging.send_signal(signal.SIGKILL)
    hanging.wait(30)
    a = _selected(tmp_path, A)
    assert len(a) == 3
    report = _generate(tmp_path, B, 6)
    assert set(_selected(tmp_path, B)) == set(SIX) - set(a)
    assert {(s.name, s.batch_id) for s in report.reserved_skips} == {(n, A) for n in a}
    # ... until it expires.
    record = Staging(layout, A).selection_record()
    assert record is not None
    later = scan_reservations(layout, record.selected_at + RESERVATION_TTL + timedelta(seconds=1))
    assert A in [r.batch_id for r in later.expired]
    # A rerun of the killed batch finishes it on its own plan.
    resumed = _generate(tmp_path, A, 3)
    assert sorted(o.name for o in Staging(layout, A).outcomes()) == sorted(a)
    assert resumed.reserved_skips == []


def test_invoke_abandon_json(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, SIX, impossible=False)
    _generate(tmp_path, A, 2)
    done = subprocess.run(
        [
            *INVOKE,
            "abandon",
            "--batch-id",
            A,
            "--reason",
            "stale",
            "--root",
            str(tmp_path),
            "--json",
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["batch_id"] == A and doc["released"] == _abandoned_selection(tmp_path, A)


def _abandoned_selection(root: Path, batch_id: str) -> list[str]:
    path = abandoned_dir(RegistryLayout.at(root), batch_id) / "selection.json"
    names = json.loads(path.read_text())["entries"]
    assert isinstance(names, list)
    return names


def test_an_unreadable_reservation_stops_generate_until_fixed_or_abandoned(tmp_path: Path) -> None:
    from automation.core.errors import DataError

    fakes.make_registry(tmp_path, SIX, impossible=False)
    layout = RegistryLayout.at(tmp_path)
    _generate(tmp_path, A, 2)
    selection = Staging(layout, A).selection_path
    selection.write_text('{"entries": ["alpaca"], "selected_at": "yesterday"}')
    with pytest.raises(DataError, match="selected_at") as caught:
        _generate(tmp_path, B, 2)
    assert caught.value.path == str(selection)
    assert abandon_batch(layout, A).released == []
    _generate(tmp_path, B, 6)
    assert set(_selected(tmp_path, B)) == set(SIX)


# --- across checkouts: a batch waiting as a pull request on branch batch/<id> -----------------


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          check=True, env={**os.environ, "GIT_AUTHOR_NAME": "t",
                          "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                          "GIT_COMMITTER_EMAIL": "t@t"})  # fmt: skip
    return done.stdout


def _checkout(origin: Path, where: Path) -> Path:
    """What a CI job does: clone main, then fetch the open batch branches."""
    _git(origin.parent, "clone", "-q", str(origin), str(where))
    _git(where, "fetch", "-q", "origin", "+refs/heads/batch/*:refs/remotes/origin/batch/*")
    return where


def test_a_batch_waiting_as_a_pull_request_reserves_its_entries_in_other_checkouts(
    tmp_path: Path,
) -> None:
    origin = tmp_path / "origin"
    fakes.make_registry(origin, SIX, impossible=False)
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "registry")
    # Hour 1: generate, validate and merge batch A; its pull request branch holds the result.
    first = _checkout(origin, tmp_path / "run1")
    fakes.run_stage(first, A, batch_size=3)
    a = _selected(first, A)
    _git(first, "checkout", "-qb", f"batch/{A}")
    landed = ("recipes", "data/queues", "data/batches", "data/failures", "data/metrics")
    _git(first, "add", *[p for p in landed if (first / p).exists()])  # the workflow's add-paths
    _git(first, "commit", "-qm", f"batch {A}")
    _git(first, "push", "-q", "origin", f"batch/{A}")
    # Hour 2 starts from main, where A's entries are still pending.
    second = _checkout(origin, tmp_path / "run2")
    assert all(_status(second)[n] == "pending" for n in a)
    refs = "refs/remotes/origin/batch/"
    held = scan_reservations(RegistryLayout.at(second), now(), branch_refs=refs)
    assert held.holders() == {n.lower(): A for n in a}
    os.environ["AUTOMATION_RESERVE_FROM_REFS"] = refs
    try:
        report = _generate(second, B, 6)
    finally:
        del os.environ["AUTOMATION_RESERVE_FROM_REFS"]
    assert not set(_selected(second, B)) & set(a)
    assert {s.name for s in report.reserved_skips} == set(a)
    # Without the branches a checkout of main would take A's entries again (the old defect).
    third = _checkout(origin, tmp_path / "run3")
    _generate(third, B, 6)
    assert set(a) <= set(_selected(third, B))
    # Once the pull request is merged, main's queue says what happened: nothing is held.
    _git(origin, "merge", "-q", "--ff-only", f"batch/{A}")
    fourth = _checkout(origin, tmp_path / "run4")
    assert scan_reservations(RegistryLayout.at(fourth), now(), branch_refs=refs).holders() == {}
    assert all(_status(fourth)[n] == "success" for n in a)


def test_an_unreadable_manifest_on_a_batch_branch_stops_generate(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    fakes.make_registry(origin, SIX, impossible=False)
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "registry")
    _git(origin, "checkout", "-qb", f"batch/{A}")
    (origin / "data" / "batches").mkdir(parents=True, exist_ok=True)
    (origin / "data" / "batches" / f"{A}.json").write_text("{not json")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "broken")
    _git(origin, "checkout", "-q", "main")
    work = _checkout(origin, tmp_path / "run")
    with pytest.raises(DataError) as caught:
        scan_reservations(RegistryLayout.at(work), now(), branch_refs="refs/remotes/origin/batch/")
    assert f"batch/{A}:data/batches/{A}.json" in str(caught.value.path)
    with pytest.raises(UsageError):
        scan_reservations(RegistryLayout.at(work), now(), branch_refs="../../etc")
