"""Crash safety: a batch killed at any moment leaves valid data, and a rerun ends where an
uninterrupted run ends (nothing duplicated, nothing lost).

The kill-9 test runs generate -> validate -> merge as a child process
(``tests/support/pipeline_fakes.py``:
real stages, faked upstream and processes, forked from a fork server that has imported them) on a
scratch registry, SIGKILLs it after a random delay (seeded; drawn from the measured length of an
uninterrupted run), checks every data file with ``check_data``, reruns the same batch and
compares the normalised registry with an uninterrupted run's (``CRASH_ITERATIONS`` overrides
the 100 iterations).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import os
import random
import shutil
import signal
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from automation.core.layout import RegistryLayout
from automation.ops.checkdata import check_data
from automation.registry.staging import GenerationOutcome, Staging
from automation.stages.merge import merge_batch
from tests.support import pipeline_fakes as fakes

BATCH = "2026-11-27-120000-pypi"
ITERATIONS = int(os.environ.get("CRASH_ITERATIONS", "100"))
WORKERS = max(2, min(6, 2 * (os.cpu_count() or 1)))
SEED = 20261127


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.support.pipeline_fakes"])
    return context


def _start(context: multiprocessing.context.ForkServerContext, root: Path) -> Any:
    """A whole batch (generate, validate, merge) in a child process of its own."""
    process = context.Process(target=fakes.child_run, args=(str(root), BATCH))
    process.start()
    return process


def _run_to_end(context: multiprocessing.context.ForkServerContext, root: Path) -> float:
    """Run the whole batch uninterrupted; returns its seconds."""
    done = root.parent / f"{root.name}.done"
    done.unlink(missing_ok=True)
    started = time.monotonic()
    process = _start(context, root)
    process.join(120)
    error = root.parent / f"{root.name}.error.txt"
    assert not error.exists(), error.read_text()
    assert done.exists() and done.read_text() == "ok", process.exitcode
    return time.monotonic() - started


@dataclass
class Outcome:
    iteration: int
    delay: float
    killed: bool
    errors: list[str]
    converged: bool
    diff: str


def _errors(root: Path) -> list[str]:
    report = check_data(RegistryLayout.at(root))
    return [f"{p.path}:{p.where}: {p.message}" for _, p in report.problems if p.severity == "error"]


def _diff(mine: dict[str, Any], expected: dict[str, Any]) -> str:
    return "; ".join(
        f"{key}: {mine.get(key)!r:.400} != {expected.get(key)!r:.400}"
        for key in expected
        if mine.get(key) != expected.get(key)
    )


@pytest.mark.slow
def test_kill_nine_at_random_moments_then_rerun_converges(tmp_path: Path) -> None:
    context = _context()
    template = tmp_path / "template"
    fakes.make_registry(template)
    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    warm_up = tmp_path / "warm-up"  # starts the fork server: not part of the measured run
    fakes.make_registry(warm_up)
    _run_to_end(context, warm_up)
    work = _run_to_end(context, reference)
    # The runs below go WORKERS at a time: measure an uninterrupted run under that load too, so
    # the kills spread over generate, validate and merge alike.
    loaded = [tmp_path / f"loaded{i}" for i in range(WORKERS)]
    for root in loaded:
        shutil.copytree(template, root)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        work = max(work, statistics.median(pool.map(lambda r: _run_to_end(context, r), loaded)))
    expected = fakes.normalised_state(reference)
    assert all(fakes.normalised_state(root) == expected for root in loaded)
    assert not _errors(reference)
    assert expected["litter"] == []

    rng = random.Random(SEED)
    delays = [rng.uniform(0, work) for _ in range(ITERATIONS)]

    def one(i: int) -> Outcome:
        root = tmp_path / f"run{i:03}"
        shutil.copytree(template, root)
        process = _start(context, root)
        time.sleep(delays[i])
        killed = process.is_alive()
        if killed:
            # It may finish between the check and the signal: then it was not killed.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
        process.join(60)
        killed = killed and process.exitcode == -signal.SIGKILL
        errors = _errors(root)
        _run_to_end(context, root)
        state = fakes.normalised_state(root)
        outcome = Outcome(i, delays[i], killed, errors, state == expected, _diff(state, expected))
        if outcome.converged and not errors:
            shutil.rmtree(root)  # keep failing registries for a look
        return outcome

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(one, range(ITERATIONS)))
    elapsed = time.monotonic() - started
    killed = sum(o.killed for o in outcomes)
    print(f"{ITERATIONS} iterations, {killed} killed mid-run, work {work:.2f}s, {elapsed:.1f}s")
    invalid = [(o.iteration, o.delay, o.errors[:3]) for o in outcomes if o.errors]
    diverged = [(o.iteration, o.delay, o.diff) for o in outcomes if not o.converged]
    assert invalid == []
    assert diverged == []
    # Most delays interrupt a run; the rest check that a rerun of a finished batch changes nothing.
    assert killed >= ITERATIONS // 3


def test_generation_log_ignores_and_repairs_a_torn_last_line(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    staging = Staging(layout, BATCH)
    first = GenerationOutcome("alpaca", "pypi:alpaca", "generated", version="1.0.0")
    staging.record(first, "[metadata]\n")
    with staging.log_path.open("ab") as handle:  # a crash cut the next line short
        handle.write(b'{"name": "bravura", "sou')
    assert [o.name for o in staging.outcomes()] == ["alpaca"]
    staging.record(GenerationOutcome("cumulus", "pypi:cumulus", "failed", "network_error", "x"))
    assert [o.name for o in staging.outcomes()] == ["alpaca", "cumulus"]
    assert staging.log_path.read_text().count("\n") == 2


def test_breaker_votes_of_a_resumed_merge_count_once(tmp_path: Path) -> None:
    """A merge killed after its breaker votes landed, then rerun: each outcome votes once."""
    fakes.make_registry(tmp_path, ["alpaca", "quokka"])  # two votes: a doubling would show
    fakes.run_stage(tmp_path, BATCH, "generate")
    fakes.run_stage(tmp_path, BATCH, "validate")
    layout = RegistryLayout.at(tmp_path)
    twin = tmp_path.parent / "twin"
    shutil.copytree(tmp_path, twin, ignore=shutil.ignore_patterns(".automation.lock"))
    merge_batch(RegistryLayout.at(twin), BATCH)

    import automation.stages.merge as merge_module

    real = merge_module._write_file
    calls = {"n": 0}

    def killed_after_votes(lay: RegistryLayout, write: merge_module.FileWrite) -> None:
        if write.path.startswith("data/metrics/"):  # metrics land after the breaker votes
            calls["n"] += 1
            raise KeyboardInterrupt("killed")
        real(lay, write)

    merge_module._write_file = killed_after_votes  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            merge_batch(layout, BATCH)
    finally:
        merge_module._write_file = real  # type: ignore[assignment]
    assert calls["n"] == 1
    assert merge_batch(layout, BATCH).resumed_partial
    mine, theirs = fakes.normalised_state(tmp_path), fakes.normalised_state(twin)
    assert mine["control"]["breakers"]["pypi"]["window"] == ["success", "failure"]
    assert mine["control"] == theirs["control"]
    assert mine == theirs
