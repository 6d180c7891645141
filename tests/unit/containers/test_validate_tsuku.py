"""Container validation with ``--installer tsuku``, through a runner that records commands: the
binary mounted read-only, ``tsuku install`` on the recipe file, the network cut, the recipe's
verify run from ``tools/current``, and tsuku's outcomes as result lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from automation.containers.environments import load_environments
from automation.containers.runtime import Completed, PodmanRuntime
from automation.containers.tsuku import Installer, TsukuBinary
from automation.containers.validate import (
    PAYLOAD_DIR,
    TSUKU_HOME_IN_CONTAINER,
    TSUKU_IN_CONTAINER,
    Recipe,
    ValidationOptions,
    ValidationResult,
    load_recipe,
    validate_in_environment,
)
from automation.core.layout import RegistryLayout
from automation.registry.results import read_results_file
from tests.support.container_runner import FakeRunner

BY_ID = {e.id: e for e in load_environments()}
BINARY = TsukuBinary("/opt/tools/tsuku", "0.13.0", "tsuku version 0.13.0")
TSUKU = Installer("tsuku", BINARY)
STATE = {"installed": {"cowsay": {"active_version": "1.6.0", "versions": {"1.6.0": {}}}}}
RECIPE_TEXT = (
    "# as generated\n"
    '[metadata]\nname = "cowsay"\n\n[[steps]]\naction = "npm_install"\n'
    'package = "cowsay"\nexecutables = ["cowsay"]\n\n'
    '[verify]\ncommand = "cowsay --version"\npattern = "{version}"\n'
)


@pytest.fixture
def recipe(tmp_path: Path) -> Recipe:
    path = tmp_path / "cowsay.toml"
    path.write_text(RECIPE_TEXT)
    return load_recipe(path)


def options(**kw: object) -> ValidationOptions:
    return ValidationOptions(batch_id="b1", installer=TSUKU, **kw)  # type: ignore[arg-type]


def is_install(argv: list[str]) -> bool:
    return argv[1] == "exec" and TSUKU_IN_CONTAINER in argv and "install" in argv


def is_state(argv: list[str]) -> bool:
    return argv[1] == "exec" and argv[-2] == "cat"


def is_verify(argv: list[str]) -> bool:
    return argv[1] == "exec" and "/bin/sh" in argv


def answer(code: int, stdout: str = "", stderr: str = "") -> Callable[[list[str]], Completed]:
    return lambda argv: Completed(tuple(argv), code, stdout, stderr)


STATE_ANSWER = (is_state, answer(0, json.dumps(STATE)))


def run(recipe: Recipe, runner: FakeRunner, tmp_path: Path, **kw: object) -> list[ValidationResult]:
    return validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(**kw),
        sleep=lambda _s: None,
    )


def test_tsuku_installs_in_the_container_and_the_recipe_verify_runs_offline(
    tmp_path: Path, recipe: Recipe
) -> None:
    copied: list[dict[str, str]] = []

    def payload(argv: list[str]) -> Completed:
        folder = Path(argv[2])
        copied.append(
            {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.*")}
        )
        return Completed(tuple(argv), 0)

    runner = FakeRunner(
        [
            (lambda a: a[1] == "cp", payload),
            (is_install, answer(0, "", "Installing cowsay@1.6.0\n")),
            STATE_ANSWER,
            (is_verify, answer(0, "cowsay 1.6.0\n")),
        ]
    )
    [result] = run(recipe, runner, tmp_path)

    assert runner.verbs() == ["run", "cp", "exec", "exec", "network disconnect", "exec", "rm"]
    started = runner.calls[0]
    assert f"{BINARY.path}:{TSUKU_IN_CONTAINER}:ro" in started  # read-only bind mount
    # The recipe goes in as written (tsuku reads the TOML), nothing else (no kit folder).
    assert copied == [{"recipes/cowsay.toml": RECIPE_TEXT}]
    install = runner.calls[2]
    assert install[-6:] == [
        TSUKU_IN_CONTAINER,
        "install",
        "--json",
        "--force",
        "--recipe",
        f"{PAYLOAD_DIR}/recipes/cowsay.toml",
    ]
    assert f"TSUKU_HOME={TSUKU_HOME_IN_CONTAINER}" in install
    assert "TSUKU_NO_TELEMETRY=1" in install and "TSUKU_NO_UPDATE_CHECK=1" in install
    verify = runner.calls[5]
    assert verify[-1].endswith("cowsay --version") and verify[-1].startswith("exec 2>&1")
    path = next(a for a in verify if a.startswith("PATH="))
    assert path.startswith(f"PATH={TSUKU_HOME_IN_CONTAINER}/tools/current:")
    assert (result.status, result.version, result.installer) == ("pass", "1.6.0", "tsuku 0.13.0")
    assert "without network" in result.message
    scan = read_results_file(RegistryLayout.at(tmp_path).results_file("b1", "debian-12"))
    assert scan.problems == [] and scan.lines[0].installer == "tsuku 0.13.0"


def test_a_verify_that_misses_the_version_fails_the_recipe(tmp_path: Path, recipe: Recipe) -> None:
    runner = FakeRunner(
        [(is_install, answer(0)), STATE_ANSWER, (is_verify, answer(0, "cowsay 9.9.9\n"))]
    )
    [result] = run(recipe, runner, tmp_path)
    assert (result.status, result.category, result.subcategory) == (
        "fail",
        "verify_failed",
        "pattern_mismatch",
    )
    assert "saw version 9.9.9" in result.message


def test_network_failures_are_retried_others_are_not(tmp_path: Path, recipe: Recipe) -> None:
    document = {"status": "error", "message": "dial tcp: i/o timeout", "install_exit_code": 5}
    network = answer(5, json.dumps(document | {"subcategory": "timeout"}, indent=2))
    runner = FakeRunner([(is_install, network)])
    [result] = run(recipe, runner, tmp_path)
    assert (result.category, result.subcategory, result.attempts) == ("network_error", "timeout", 3)
    assert [c[1] for c in runner.calls].count("rm") == 3  # a fresh container per attempt

    missing = document | {"install_exit_code": 8, "missing_recipes": ["nodejs"]}
    runner = FakeRunner([(is_install, answer(8, json.dumps(missing, indent=2), "Error: x\n"))])
    [result] = run(recipe, runner, tmp_path)
    assert (result.status, result.category, result.subcategory, result.attempts) == (
        "fail",
        "missing_dep",
        "dependency_not_found",
        1,
    )
    assert result.exit_code == 8 and "nodejs" in result.message


@pytest.mark.parametrize(
    ("code", "stderr"),
    [
        (126, "exec format error"),  # docker
        # podman with crun, for a binary whose interpreter the image lacks (seen here).
        (1, f"exec {TSUKU_IN_CONTAINER}: no such file or directory"),
    ],
)
def test_a_tsuku_that_cannot_run_in_the_image_is_a_container_error(
    tmp_path: Path, recipe: Recipe, code: int, stderr: str
) -> None:
    runner = FakeRunner([(is_install, answer(code, "", stderr))])
    [result] = run(recipe, runner, tmp_path)
    assert (result.status, result.subcategory) == ("skipped", "container_error")
    assert stderr in result.message and "tsuku 0.13.0" in result.message


def test_a_tool_failing_with_the_same_words_is_still_the_recipes_failure(
    tmp_path: Path, recipe: Recipe
) -> None:
    said = "Error: npm: no such file or directory"
    runner = FakeRunner([(is_install, answer(1, "", said)), STATE_ANSWER])
    [result] = run(recipe, runner, tmp_path)
    assert (result.status, result.category, result.subcategory) == (
        "fail",
        "install_failed",
        "exit_1",
    )


def test_an_install_timeout_is_classified(tmp_path: Path, recipe: Recipe) -> None:
    runner = FakeRunner(
        [(is_install, lambda a: Completed(tuple(a), 124, "", "", timed_out=True)), STATE_ANSWER]
    )
    [result] = run(recipe, runner, tmp_path, install_timeout=5)
    assert (result.category, result.subcategory) == ("install_failed", "timeout")


def test_a_recipe_the_environment_is_excluded_from_is_skipped_without_a_container(
    tmp_path: Path,
) -> None:
    path = tmp_path / "macos.toml"
    path.write_text(RECIPE_TEXT.replace("[metadata]\n", '[metadata]\nsupported_os = ["darwin"]\n'))
    runner = FakeRunner()
    [result] = run(load_recipe(path), runner, tmp_path)
    assert runner.calls == []
    assert (result.status, result.subcategory) == ("skipped", "unsupported_platform")
    assert "supported_os" in result.message
