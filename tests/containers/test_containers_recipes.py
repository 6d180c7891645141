"""Per recipe and environment: install, executables exist and run, verify output matches.

Uses the smoke recipes in containers/smoke (a PyPI and an npm package), so it also needs the
live registries (marked `network`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.containers import installer
from automation.containers.runtime import ContainerRuntime
from automation.containers.validate import (
    KIT_DIR,
    PAYLOAD_DIR,
    PREFIX,
    SMOKE_RECIPES_DIR,
    installer_path_in_container,
    write_kit,
)
from tests.containers.container_spec import SPEC_ENVS, Running, start

pytestmark = [pytest.mark.containers, pytest.mark.network, pytest.mark.slow]
RECIPES = sorted(SMOKE_RECIPES_DIR.glob("*.toml"))


@pytest.fixture(
    params=[(e, r) for e in SPEC_ENVS for r in RECIPES], ids=lambda p: f"{p[0].id}-{p[1].stem}"
)
def installed(
    request: pytest.FixtureRequest, runtime: ContainerRuntime, tmp_path: Path
) -> Iterator[tuple[Running, dict]]:
    env, recipe_path = request.param
    recipe = tomllib.loads(recipe_path.read_text())
    payload = tmp_path / "payload"
    payload.mkdir()
    write_kit(payload / KIT_DIR)
    (payload / "recipe.json").write_text(json.dumps(recipe))
    for box in start(runtime, env, recipe_path.stem):
        assert runtime.copy_in(box.name, payload, PAYLOAD_DIR).ok
        done = runtime.exec(
            box.name,
            [
                env.python,
                installer_path_in_container(),
                "install",
                f"{PAYLOAD_DIR}/recipe.json",
                "--platform",
                env.platform,
                "--prefix",
                PREFIX,
            ],
            timeout=900,
        )
        record = json.loads(done.stdout.strip().splitlines()[-1])
        assert record["status"] == "pass", record
        yield box, recipe


def test_executables_exist_and_are_executable(installed: tuple[Running, dict]) -> None:
    box, recipe = installed
    for step in recipe["steps"]:
        for exe in step.get("executables", []):
            assert box.host.file(f"{PREFIX}/bin/{exe}").is_executable, exe


def test_verify_output_matches_without_network(installed: tuple[Running, dict]) -> None:
    box, recipe = installed
    assert box.runtime.disconnect_network(box.name).ok
    assert box.host.run("curl -sS --max-time 5 -o /dev/null https://pypi.org/").rc != 0
    out = box.host.run(f"PATH={PREFIX}/bin:$PATH {recipe['verify']['command']}")
    assert out.rc == 0, out.stderr
    ok, _ = installer.pattern_matches(
        recipe["verify"].get("pattern", ""), out.stdout + out.stderr, None
    )
    assert ok, out.stdout
