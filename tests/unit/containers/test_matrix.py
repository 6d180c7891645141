"""Container validation in the pipeline, offline: a fake engine plays the containers.

What a maintainer relies on: every installer outcome lands as a valid results line in canonical
terms, with the tool's output kept; only network failures are retried; several environments of
one batch each get their own file and resume independently; and merge turns the per-environment
matrix into the right constraints.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from automation.containers import installer
from automation.containers.environments import load_environments
from automation.containers.runtime import Completed, PodmanRuntime
from automation.containers.validate import (
    Recipe,
    ValidationOptions,
    canonical_outcome,
    load_recipe,
    validate_batch_in_environments,
    validate_one,
)
from automation.core.errors import ExitCode, StoppedError
from automation.core.layout import RegistryLayout
from automation.ecosystems.recipe import UpstreamPackage
from automation.registry.failures import CATEGORIES
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.results import read_results_file
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from automation.stages.merge import merge_batch

BY_ID = {e.id: e for e in load_environments()}
BATCH = "2026-11-27-120000-pypi"


def record(status: str, category: str = "", sub: str = "", **kw: object) -> dict:
    return installer.result(status, category, sub, kw.pop("message", "msg"), **kw)  # type: ignore[arg-type]


# --- classification ----------------------------------------------------------------------------

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
        record("fail", "missing_runtime", "python3.11"),
        "install",
        ("fail", "missing_dep", "missing_runtime"),
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


class Engine:
    """A fake podman: ``answer(env_id, recipe, phase)`` gives the installer's record (or None
    for a process that printed nothing), and containers are tracked by name."""

    def __init__(self, answer: Callable[[str, str, str], dict | Completed]):
        self.answer = answer
        self.names: dict[str, tuple[str, str]] = {}
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        argv = list(args)
        self.calls.append(argv)
        if argv[1] == "run":
            name = argv[argv.index("--name") + 1]
            env = next(e for e in BY_ID if e in argv[argv.index("--pull=never") :][-4])
            recipe = name.split("-")[1]
            self.names[name] = (env, recipe)
        if argv[1] == "exec":
            env, recipe = self.names[argv[2]]
            phase = "verify" if "verify" in argv else "install"
            got = self.answer(env, recipe, phase)
            if isinstance(got, Completed):
                return got
            return Completed(tuple(argv), int(got["exit_code"]), json.dumps(got) + "\n")
        return Completed(tuple(argv), 0)


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


# --- a batch through generate -> validate (several environments) -> merge --------------------


def fetch(ecosystem: str, identifier: str) -> UpstreamPackage:
    return UpstreamPackage(
        ecosystem,
        identifier,
        "1.0.0",
        f"{identifier} does things",
        (f"https://example.org/{identifier}",),
        (identifier,),
        f"https://pypi.org/project/{identifier}/",
    )


@pytest.fixture
def batch(tmp_path: Path) -> RegistryLayout:
    layout = RegistryLayout.at(tmp_path)
    entries = [
        QueueEntry(n, f"pypi:{n}", 3, "pending", "auto", None, 0, None)
        for n in ("goodtool", "ubuntubroken", "muslbroken")
    ]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries))
    generate_entries(Staging(layout, BATCH), load_queue(layout.queue).entries, fetch=fetch)
    return layout


def matrix_answer(env: str, name: str, phase: str) -> dict:
    broken = (name == "ubuntubroken" and env == "ubuntu-24.04") or (
        name == "muslbroken" and env == "alpine-3.21"
    )
    if broken and phase == "verify":
        return record(
            "fail",
            "verify_failed",
            "exit_code",
            message="'x --version' exited 1, expected 0",
            output="ModuleNotFoundError: No module named 'distutils'",
        )
    return record("pass", version="1.0.0")


def test_environments_write_their_own_files_resume_and_merge_derives_constraints(
    batch: RegistryLayout,
) -> None:
    engine = Engine(matrix_answer)
    envs = ["debian-12", "ubuntu-24.04", "alpine-3.21"]
    report = validate_batch_in_environments(
        batch, BATCH, envs, runtime=PodmanRuntime(engine), build=False, ca_bundle=False
    )
    assert report.exit_code == ExitCode.PARTIAL
    assert report.counts == {"pass": 7, "fail": 2}
    for env in envs:
        path = batch.results_file(BATCH, env)
        scan = read_results_file(path)
        assert scan.problems == [] and len(scan.lines) == 3
        assert {line.platform for line in scan.lines} == {BY_ID[env].platform}
    [failed] = [r for r in report.results if r.environment == "ubuntu-24.04" and r.status == "fail"]
    assert (failed.category, failed.subcategory) == ("verify_failed", "exit_code")
    assert "distutils" in failed.message

    # A rerun finds every (recipe, environment) done and starts no container.
    engine.calls.clear()
    again = validate_batch_in_environments(
        batch, BATCH, envs, runtime=PodmanRuntime(engine), build=False, ca_bundle=False
    )
    assert again.results == () and again.already_done == 9
    assert not [c for c in engine.calls if c[1] in ("run", "exec")]

    merged = merge_batch(batch, BATCH)
    decisions = {d.name: d for d in merged.decisions}
    assert {n: d.action for n, d in decisions.items()} == {
        "goodtool": "merged",
        "ubuntubroken": "merged",
        "muslbroken": "merged",
    }
    recipe = {n: tomllib.loads(batch.recipe_path(n).read_text())["metadata"] for n in decisions}
    # Passed everywhere: no constraints.
    assert not {k for k in recipe["goodtool"] if k.startswith(("supported", "unsupported"))}
    # Musl failed, glibc passed: the loader can express it.
    assert recipe["muslbroken"]["unsupported_platforms"] == ["linux/amd64/musl"]
    # One of two distributions on the same platform failed: inexpressible, so admitted, and
    # the reason and a failure record say who failed.
    assert "unsupported_platforms" not in recipe["ubuntubroken"]
    assert any(
        "ubuntu-24.04 failed but debian-12 passed" in r for r in decisions["ubuntubroken"].reasons
    )
    failures = "".join(p.read_text() for p in batch.failures_dir.glob("*.jsonl"))
    assert "distutils" in failures and "ubuntubroken" in failures


def test_emergency_stop_between_recipes_keeps_what_is_done(batch: RegistryLayout) -> None:
    seen: list[str] = []

    def guard(ecosystem: str) -> None:
        seen.append(ecosystem)
        if len(seen) > 1:
            raise StoppedError("emergency stop: pypi")

    report = validate_batch_in_environments(
        batch,
        BATCH,
        ["debian-12"],
        runtime=PodmanRuntime(Engine(matrix_answer)),
        build=False,
        ca_bundle=False,
        guard=guard,
    )
    assert report.exit_code == ExitCode.STOPPED and "emergency stop" in (report.stopped or "")
    assert seen == ["pypi", "pypi"] and len(report.results) == 1
    assert len(read_results_file(batch.results_file(BATCH, "debian-12")).lines) == 1
