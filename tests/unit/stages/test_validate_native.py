"""Native validation (macOS runners): result lines under the environment's id and platform, only
on a host of that platform, and the budget's sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.containers.environments import load_environments
from automation.core.errors import UsageError
from automation.core.layout import RegistryLayout
from automation.registry.queue import load_queue
from automation.registry.results import read_results_file
from automation.registry.staging import Staging
from automation.stages.pipeline import run_validate
from automation.stages.validate_local import LocalValidator
from automation.stages.validate_native import validate_native
from tests.support import pipeline_fakes as fakes
from tests.support.interrupted_merge import BATCH

NATIVE = {e.id: e for e in load_environments(native=True) if e.native}


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    fakes.make_registry(tmp_path)
    fakes.run_stage(tmp_path, BATCH, "generate")
    return RegistryLayout.at(tmp_path)


def _validator() -> LocalValidator:
    return LocalValidator(runner=fakes.FakeProcesses())


def test_results_carry_the_native_environment_and_platform(layout: RegistryLayout) -> None:
    env = NATIVE["darwin-arm64"]
    report = validate_native(layout, BATCH, env, host="darwin-arm64", validator=_validator())
    generated = {o.name for o in Staging(layout, BATCH).generated()}
    lines = read_results_file(layout.results_file(BATCH, "darwin-arm64")).lines
    assert {line.recipe for line in lines} == generated
    assert {(line.environment, line.platform) for line in lines} == {
        ("darwin-arm64", "darwin-arm64")
    }
    assert not layout.results_file(BATCH, "local").exists()
    assert report.deferred == () and report.to_json()["environment"] == "darwin-arm64"


def test_a_native_environment_refuses_another_host(layout: RegistryLayout) -> None:
    with pytest.raises(UsageError, match="macos-13"):
        validate_native(layout, BATCH, NATIVE["darwin-x86_64"], host="linux-debian-glibc-x86_64")
    assert not layout.results_file(BATCH, "darwin-x86_64").exists()


def test_top_validates_the_batchs_highest_priorities_and_lists_the_rest(
    layout: RegistryLayout,
) -> None:
    generated = [o.name for o in Staging(layout, BATCH).generated()]
    priority = {e.name: e.priority for e in load_queue(layout.queue).entries}
    report = validate_native(
        layout, BATCH, NATIVE["darwin-arm64"], top=1, host="darwin-arm64", validator=_validator()
    )
    [validated] = [line.recipe for line in report.validate.lines]
    best = min(generated, key=lambda n: (priority.get(n, 99), generated.index(n)))
    assert validated == best
    assert set(report.deferred) == set(generated) - {best}
    assert "deferred by the budget" in report.to_text()


def test_the_front_door_validates_a_native_environment_alone(layout: RegistryLayout) -> None:
    with pytest.raises(UsageError, match="alone"):
        run_validate(layout, BATCH, ["darwin-arm64", "debian-12"])
    with pytest.raises(UsageError, match="--top"):
        run_validate(layout, BATCH, ["local"], top=2)
    with pytest.raises(UsageError, match="darwin-arm64 runner"):
        # This test machine is no Apple silicon runner (the CI and development hosts are Linux).
        run_validate(layout, BATCH, ["darwin-arm64"])


def _merged_registry(root: Path) -> RegistryLayout:
    fakes.make_registry(root)
    fakes.run_stage(root, BATCH, "all")  # local validation only: darwin untested, left out
    return RegistryLayout.at(root)


def test_the_nightly_run_validates_what_the_budget_deferred_and_admits_the_passes(
    tmp_path: Path,
) -> None:
    import tomllib
    from datetime import UTC, datetime

    from automation.registry.constraints import ConstraintFields, Point, admitted_points
    from automation.stages.validate_native import deferred_candidates, validate_deferred

    layout = _merged_registry(tmp_path)
    env = NATIVE["darwin-arm64"]
    merged = sorted(p.stem for p in layout.recipe_files())
    assert merged
    candidates = [name for name, _ in deferred_candidates(layout, env)]
    assert sorted(candidates) == merged  # nothing merged was tested on darwin

    now = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    first = validate_deferred(
        layout, env, limit=1, host="darwin-arm64", validator=_validator(), now=now
    )
    assert first.batch_id == "2026-11-28-nightly" and first.candidates == len(merged)
    [line] = first.lines
    assert (line.recipe, line.environment, line.platform) == (
        candidates[0],
        "darwin-arm64",
        "darwin-arm64",
    )
    lines = read_results_file(layout.results_file("2026-11-28-nightly", "darwin-arm64")).lines
    assert [x.recipe for x in lines] == [candidates[0]]
    path = layout.recipe_path(candidates[0])
    metadata = tomllib.loads(path.read_text())["metadata"]
    points = admitted_points(ConstraintFields.from_metadata(metadata))
    if line.status == "pass":
        assert first.admitted == (candidates[0],)
        assert Point("darwin", "arm64", None) in points
        assert Point("darwin", "amd64", None) not in points  # still untested there
        assert Point("linux", "amd64", "glibc") in points  # what local tested stays
    else:
        assert first.admitted == () and Point("darwin", "arm64", None) not in points
    # Tried once: the next night takes the next ones.
    rest = [name for name, _ in deferred_candidates(layout, env)]
    assert rest == candidates[1:]
    second = validate_deferred(
        layout, env, limit=10, host="darwin-arm64", validator=_validator(), now=now
    )
    assert [x.recipe for x in second.lines] == candidates[1:]
    assert deferred_candidates(layout, env) == []
    # Another platform's host is refused, as for a batch.
    with pytest.raises(UsageError, match="macos-13"):
        validate_deferred(layout, NATIVE["darwin-x86_64"], limit=1, host="darwin-arm64")
