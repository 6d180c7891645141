"""tsuku's runtimes in the containers: npm tools run on the pinned official Node.js, PyPI tools
on the pinned CPython, and every result line says which (issue: verdicts a tsuku user can trust).

Needs the runtime cache (``make setup-runtimes``: a download and a ~4-minute build, which
``.ci/run`` does first), the debian-12 and ubuntu-24.04 images and the live registries.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.containers.runtimes import find
from automation.containers.validate import SMOKE_RECIPES_DIR, run_validation
from automation.core.ecosystem_facts import facts_for
from automation.core.errors import UsageError
from automation.registry.results import read_results_file

pytestmark = [pytest.mark.containers, pytest.mark.network, pytest.mark.slow]
ENVS = ("debian-12", "ubuntu-24.04")


def test_smoke_recipes_run_on_the_pinned_runtimes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    npm, pypi = facts_for("npm"), facts_for("pypi")
    assert npm is not None and pypi is not None and npm.runtime and pypi.runtime
    if find(npm) is None or find(pypi) is None:
        pytest.skip("runtimes not provisioned here: run `make setup-runtimes`")
    monkeypatch.setenv("AUTOMATION_RUNTIMES", "provision")
    try:
        report = run_validation(
            root=tmp_path,
            environment_ids=ENVS,
            recipe_paths=sorted(SMOKE_RECIPES_DIR.glob("*.toml")),
            batch_id="runtimes-smoke",
            build=False,
        )
    except UsageError as exc:  # an image not built here
        pytest.skip(str(exc))
    expected = {
        "cowsay": ("node", npm.runtime.version, "official Node.js"),
        "httpie": ("python3", pypi.runtime.version, "Debian's source package"),
    }
    for env in ENVS:
        lines = read_results_file(tmp_path / "data/results/runtimes-smoke" / f"{env}.jsonl").lines
        assert {line.recipe for line in lines} == set(expected)
        for line in lines:
            name, version, build = expected[line.recipe]
            assert line.status == "pass", (env, line.recipe, line.message)
            ran = {r["name"]: r for r in line.runtimes}
            assert ran[name]["version"] == version, (env, line.recipe, line.runtimes)
            assert build in ran[name]["build"], (env, line.recipe, line.runtimes)
    assert report.exit_code == 0
