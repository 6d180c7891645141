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
