"""Container validation outcomes, offline: a fake engine plays the containers.

Every installer outcome lands as a valid results line in canonical terms, with the tool's output
kept, and only network failures are retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.containers.runtime import PodmanRuntime
from automation.containers.validate import (
    Recipe,
    ValidationOptions,
    canonical_outcome,
    load_recipe,
    validate_one,
)
from automation.registry.failures import CATEGORIES
from tests.support.container_matrix import BY_ID, Engine, record

CASES = [
    (record("pass"), "install", ("pass", None, None)),
    (record("pass", sub="no_verify"), "verify", ("pass", None, "no_verify")),
    (
        record("skipped", "unsupported_platform", "constraints"),
        "install",
        ("skipped", None, "unsupported_platform"),
    ),
    (record("fail", "install_failed", "exit_1"), "install", ("fail", "install_failed", "exit_1")),
    (
        record("fail", "install_failed", "exit_1", output="ERROR: No matching distribution found"),
        "install",
        ("fail", "recipe_not_found", "package_not_found"),
    ),
    (
        record("fail", "verify_failed", "pattern_mismatch"),
        "verify",
        ("fail", "verify_failed", "pattern_mismatch"),
    ),
    (record("fail", "network_error", "http_503"), "install", ("fail", "network_error", "http_503")),
    (record("fail", "timeout", "install"), "install", ("fail", "install_failed", "timeout")),
    (record("fail", "timeout", "verify"), "verify", ("fail", "verify_failed", "timeout")),
    (
        # The environment lacks the toolchain: an environment gap, not the package's failure.
        record("fail", "missing_runtime", "python3.11"),
        "install",
        ("skipped", None, "missing_toolchain"),
    ),
    (
        record("fail", "container_error", "engine"),
        "container",
        ("skipped", None, "container_error"),
    ),
]


@pytest.mark.parametrize(("raw", "phase", "expected"), CASES)
def test_installer_outcomes_map_onto_the_canonical_six(
    raw: dict, phase: str, expected: tuple
) -> None:
    status, category, subcategory = canonical_outcome(raw, phase)
    assert (status, category, subcategory) == expected
    assert category is None or category in CATEGORIES
    assert (category is None) == (status != "fail")


@pytest.fixture
def recipe(tmp_path: Path) -> Recipe:
    path = tmp_path / "goodtool.toml"
    path.write_text(
        '[metadata]\nname = "goodtool"\n\n[[steps]]\naction = "pipx_install"\n'
        'package = "goodtool"\nexecutables = ["goodtool"]\n\n[verify]\n'
        'command = "goodtool --version"\npattern = "{version}"\n'
    )
    return load_recipe(path)


@pytest.mark.parametrize(
    ("answer", "attempts", "sleeps"),
    [
        (record("fail", "network_error", "dns_error"), 3, [2.0, 4.0]),
        (record("fail", "network_error", "tls_error"), 1, []),  # configuration: not retried
        (record("fail", "install_failed", "exit_1"), 1, []),
        (record("fail", "timeout", "install"), 1, []),
        (record("fail", "missing_runtime", "npm"), 1, []),
    ],
)
def test_only_transient_network_failures_are_retried_at_most_three_times(
    recipe: Recipe, answer: dict, attempts: int, sleeps: list[float]
) -> None:
    slept: list[float] = []
    engine = Engine(lambda env, name, phase: answer)
    result = validate_one(
        recipe,
        BY_ID["debian-12"],
        PodmanRuntime(engine),
        ValidationOptions(batch_id="b1"),
        sleep=slept.append,
    )
    assert (result.attempts, slept) == (attempts, sleeps)
    assert [c[1] for c in engine.calls].count("rm") == attempts  # one container per attempt


def test_tool_output_is_kept_in_the_line(tmp_path: Path, recipe: Recipe) -> None:
    # pip's real shape: a long build log, the error at the end.
    pip_output = "Collecting goodtool\n" + "building...\n" * 4000 + "ERROR: Failed building wheel"
    engine = Engine(
        lambda env, name, phase: record(
            "fail", "install_failed", "exit_1", message="pip install exited 1", output=pip_output
        )
    )
    result = validate_one(
        recipe, BY_ID["debian-12"], PodmanRuntime(engine), ValidationOptions(batch_id="b1")
    )
    line = result.to_result_line()
    assert line.message.startswith("pip install exited 1\n")
    assert line.message.endswith("ERROR: Failed building wheel")
    assert len(line.message) <= 16384
