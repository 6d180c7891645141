"""A merge killed mid-apply, in a process of its own, and the checks of what it left.

Shared by the merge, rollback and abandon tests: each starts from the same interrupted batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from automation.core.layout import RegistryLayout
from automation.ops.checkdata import check_data
from automation.registry.reservation import manifest_status
from automation.registry.staging import Staging
from automation.stages.pipeline import run_generate
from tests.support import REPOSITORY_ROOT
from tests.support import pipeline_fakes as fakes

BATCH = "2026-11-27-120000-pypi"


NEXT = "2026-11-27-130000-pypi"


# Not registry data: the failure index cache a reader refreshes, and the lock files.
NOT_REGISTRY = (".cache", ".automation.lock")


def registry_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every registry file's bytes and mtime (ns)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in NOT_REGISTRY:
            out[rel.as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


def checkdata_errors(layout: RegistryLayout) -> list[str]:
    """The errors check-data finds in the registry, one line each."""
    report = check_data(layout)
    return [f"{p.path}:{p.where}: {p.message}" for _, p in report.problems if p.severity == "error"]


KILL_AT_WRITE = """
import os, signal, sys
import automation.stages.merge as merge
from automation.core.layout import RegistryLayout
real, count = merge._write_file, [0]
def dying(layout, write):
    count[0] += 1
    if count[0] == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    real(layout, write)
merge._write_file = dying
merge.merge_batch(RegistryLayout.at(sys.argv[1]), sys.argv[2])
"""


def merge_killed_mid_apply(layout: RegistryLayout, at_write: int) -> None:
    """``merge`` in a process of its own, SIGKILLed right before its ``at_write``-th file."""
    done = subprocess.run(
        [sys.executable, "-c", KILL_AT_WRITE, str(layout.root), BATCH, str(at_write)],
        cwd=REPOSITORY_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr
    assert manifest_status(layout, BATCH) == "in_progress"


def pristine_data(layout: RegistryLayout) -> dict[str, bytes]:
    """Registry data a batch's undo must give back (queue, recipes, failures, metrics)."""
    return {
        rel: data
        for rel, (data, _) in registry_tree(layout.root).items()
        if rel.startswith(("recipes/", "data/queues/", "data/failures/", "data/metrics/"))
    }


def entries_are_free_again(layout: RegistryLayout) -> None:
    """The batch's entries can be selected by the next batch."""
    report = run_generate(layout, "pypi", batch_id=NEXT, workers=1, fetch=fakes.fetch)
    assert report.reserved_skips == []
    assert "alpaca" in (Staging(layout, NEXT).selection() or [])


def validated_registry(root: Path) -> RegistryLayout:
    """A registry at ``root`` whose batch is generated and validated, not merged."""
    fakes.make_registry(root)
    fakes.run_stage(root, BATCH, "generate")
    fakes.run_stage(root, BATCH, "validate")
    return RegistryLayout.at(root)
