"""Two runs on one registry at the same time never lose an update.

Writers of a registry serialise on its lock: with ``--wait`` (``lock_wait``) the second waits,
without it the second fails fast with LockedError (exit 5) and changes nothing, and a retry lands
its change. The control file has its own short lock, so a stop gets through a running batch, and
no writer may put back a control value it read before someone else's stop.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from automation.core.atomic import registry_lock
from automation.core.errors import ExitCode, LockedError
from automation.core.layout import RegistryLayout
from automation.registry.breaker import BreakerState
from automation.registry.control import emergency_stop, load_control
from automation.registry.queue import load_queue
from automation.registry.staging import Staging
from automation.stages.merge import merge_batch
from tests.support import driver_command, python_env
from tests.support import pipeline_fakes as fakes

FIRST = ("alpaca", "bravura", "cumulus", "quokka", "phantom", "libonly")
X, Y = "2026-11-27-150000-pypi", "2026-11-27-150001-pypi"
SECOND = ("dynamo", "everest", "fjordkit", "gizmo", "harbor", "rhubarb", "saffron", "wraith")


def _spawn(*argv: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        driver_command(*argv),
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    return proc


def _code(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _two_staged_batches(root: Path) -> None:
    """Batches X and Y, generated and validated, over disjoint entries (recorded plans)."""
    fakes.make_registry(root, (*FIRST, *SECOND))
    layout = RegistryLayout.at(root)
    for batch, names in ((X, FIRST), (Y, SECOND)):
        Staging(layout, batch).save_selection("pypi", list(names), "2026-11-27T12:00:00Z")
        fakes.run_stage(root, batch, "generate")
        fakes.run_stage(root, batch, "validate")


def _landed(root: Path) -> dict[str, Any]:
    state = fakes.normalised_state(root)
    return {k: state[k] for k in ("recipes", "queue", "failures", "manifests")}


def test_two_merges_at_once_both_land_when_writers_wait(tmp_path: Path) -> None:
    concurrent, sequential = tmp_path / "concurrent", tmp_path / "sequential"
    _two_staged_batches(concurrent)
    _two_staged_batches(sequential)
    merge_batch(RegistryLayout.at(sequential), X)
    merge_batch(RegistryLayout.at(sequential), Y)

    procs = [
        _spawn("run", str(concurrent), batch, "--stage", "merge", "--wait", "60")
        for batch in (X, Y)
    ]
    assert [_code(p)[0] for p in procs] == [0, 0]
    assert _landed(concurrent) == _landed(sequential)
    statuses = {e.name: e.status for e in load_queue(RegistryLayout.at(concurrent).queue).entries}
    assert all(statuses[n] != "pending" for n in (*FIRST, *SECOND))
    breaker = load_control(RegistryLayout.at(concurrent).control_file).breaker("pypi")
    assert sorted(breaker.extra["voted_batches"]) == [X, Y]
    assert len(breaker.window) == 10  # every vote of both batches counted (window is capped)


def test_a_locked_out_writer_fails_fast_with_exit_5_and_its_retry_lands(tmp_path: Path) -> None:
    _two_staged_batches(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    with registry_lock(layout.lock_file):  # another run is merging
        code, err = _code(_spawn("run", str(tmp_path), X, "--stage", "merge", "--wait", "0"))
        assert code == ExitCode.STOPPED
        assert "registry lock" in err and "--wait" in err
        with pytest.raises(LockedError):
            merge_batch(layout, Y, lock_wait=0.2)
    assert not layout.batch_manifest(X).exists()  # the locked-out run changed nothing
    code, _ = _code(_spawn("run", str(tmp_path), X, "--stage", "merge", "--wait", "0"))
    assert code == 0
    assert merge_batch(layout, Y).decisions
    assert [m[1] for m in fakes.normalised_state(tmp_path)["manifests"]] == ["merged", "merged"]


def test_queue_edits_merges_and_stops_at_once_lose_nothing(tmp_path: Path) -> None:
    _two_staged_batches(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    added_a = [f"newa{i:02}" for i in range(15)]
    added_b = [f"newb{i:02}" for i in range(15)]
    procs = [
        _spawn("add", str(tmp_path), *added_a, "--wait", "60"),
        _spawn("add", str(tmp_path), *added_b, "--wait", "60"),
        _spawn("run", str(tmp_path), X, "--stage", "merge", "--wait", "60"),
        _spawn("toggle", str(tmp_path), "10"),
        _spawn("run", str(tmp_path), Y, "--stage", "merge", "--wait", "60"),
    ]
    results = [_code(p) for p in procs]
    # A merge may meet a stop of the drill: exit 5 and nothing half-done; it is simply rerun.
    for batch, (code, err) in ((X, results[2]), (Y, results[4])):
        assert code in (0, ExitCode.STOPPED), err
        if code:
            merge_batch(layout, batch, lock_wait=10)
    assert [code for code, _ in results[:2] + results[3:4]] == [0, 0, 0]
    names = [e.name for e in load_queue(layout.queue).entries]
    assert len(names) == len(set(names))
    assert set(added_a + added_b) <= set(names)
    statuses = {e.name: e.status for e in load_queue(layout.queue).entries}
    assert all(statuses[n] != "pending" for n in (*FIRST, *SECOND))
    assert load_control(layout.control_file).enabled  # the drill ended with a resume
    assert [m[1] for m in fakes.normalised_state(tmp_path)["manifests"]] == ["merged", "merged"]


def test_a_stop_made_while_generate_selects_is_not_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """generate advances breaker probe cursors after selecting; it must write only that change,
    not the whole control value it read before an operator's ``invoke stop``."""
    import automation.stages.pipeline as pipeline

    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    from automation.stages.selection import select_batch as real

    def select_while_someone_stops(*args: Any, **kwargs: Any) -> Any:
        selection = real(*args, **kwargs)
        emergency_stop(layout, "incident 42", by="operator")  # another process, meanwhile
        moved = replace(BreakerState(), probe_cursor="alpaca")
        return replace(selection, control=selection.control.with_breaker("pypi", moved))

    monkeypatch.setattr(pipeline, "select_batch", select_while_someone_stops)
    report = fakes.run_stage(tmp_path, "2026-11-27-140000-pypi", "generate")
    control = load_control(layout.control_file)
    assert not control.enabled and control.reason == "incident 42"
    assert control.breaker("pypi").probe_cursor == "alpaca"
    assert report.stopped  # and the stop took effect before the first item
    assert report.outcomes == []


def test_generate_waits_for_a_busy_registry_by_default(tmp_path: Path) -> None:
    """A CI matrix starts its shards together: selection waits for the lock instead of failing."""
    from automation.stages.pipeline import GENERATE_LOCK_WAIT

    assert GENERATE_LOCK_WAIT >= 30
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    with registry_lock(layout.lock_file):
        proc = _spawn(
            "run", str(tmp_path), "2026-11-27-160000-pypi", "--stage", "generate", "--shard", "1/2"
        )
        try:
            proc.wait(timeout=1.0)
            pytest.fail("generate did not wait for the lock")
        except subprocess.TimeoutExpired:
            pass
    assert _code(proc)[0] == 0
