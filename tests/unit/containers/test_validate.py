"""Validation in containers with a runner that records commands: install, network cut, verify,
the results line, retries of network failures only, and image builds of the batch."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from automation.containers import installer
from automation.containers import validate as validate_module
from automation.containers.environments import load_environments
from automation.containers.images import (
    FINGERPRINT_LABEL,
    fingerprint,
)
from automation.containers.runtime import (
    Completed,
    DockerRuntime,
    PodmanRuntime,
)
from automation.containers.validate import (
    Recipe,
    ValidationOptions,
    build_images,
    image_spec,
    load_recipe,
    validate_batch,
    validate_in_environment,
)
from automation.core.errors import ExitCode
from automation.core.layout import RegistryLayout
from automation.registry.results import ResultLine, append_results, read_results_file
from tests.support.container_runner import FakeRunner
from tests.support.fake_engine import FakeEngine

BY_ID = {e.id: e for e in load_environments()}


def test_build_images_builds_only_stale_environments(capsys: pytest.CaptureFixture[str]) -> None:
    engine = FakeEngine()
    debian_base = engine.put("localhost/base/debian:bookworm")
    engine.put("localhost/base/ubuntu:noble")
    debian = image_spec(BY_ID["debian-12"], local=True)
    current = fingerprint(debian, debian_base)
    engine.put(BY_ID["debian-12"].image, {FINGERPRINT_LABEL: current})
    engine.put(BY_ID["ubuntu-24.04"].image, {FINGERPRINT_LABEL: "sha256:" + "0" * 64})

    report = build_images([BY_ID["debian-12"], BY_ID["ubuntu-24.04"]], PodmanRuntime(engine))

    (build,) = engine.builds()
    assert "localhost/registry-automation/ubuntu-24.04:latest" in build
    assert "BASE_IMAGE=localhost/base/ubuntu:noble" in build and "--pull=never" in build
    skipped, rebuilt = report.results
    assert skipped.skipped and skipped.fingerprint == current
    assert not rebuilt.skipped and rebuilt.reason.startswith("fingerprint changed")
    assert report.to_json()["builds"][1]["reason"].startswith("fingerprint changed")
    assert "ubuntu-24.04: building" in capsys.readouterr().err
    assert report.exit_code == ExitCode.OK
    # The up-to-date check costs two inspects (base and image) and no build.
    debian_calls = [c for c in engine.calls if "debian" in c[3]]
    assert [c[1:3] for c in debian_calls] == [["image", "inspect"]] * 2


def test_failed_build_makes_the_report_partial() -> None:
    engine = FakeEngine(fail_build=True)
    engine.put("localhost/base/debian:bookworm")
    report = build_images([BY_ID["debian-12"]], PodmanRuntime(engine), log=lambda _: None)
    assert report.exit_code == ExitCode.PARTIAL
    assert "exit status 100" in report.results[0].message


ENVS = load_environments()


def line(record: dict) -> Callable[[list[str]], Completed]:
    return lambda argv: Completed(
        tuple(argv), int(record.get("exit_code", 0)), json.dumps(record) + "\n"
    )


def is_exec(phase: str) -> Callable[[list[str]], bool]:
    return lambda argv: argv[1] == "exec" and phase in argv


PASS_INSTALL = {
    "status": "pass",
    "category": "",
    "subcategory": "",
    "exit_code": 0,
    "message": "installed",
    "version": "1.0",
    "duration_ms": 1200,
}


PASS_VERIFY = {
    "status": "pass",
    "category": "",
    "subcategory": "",
    "exit_code": 0,
    "message": "verified",
    "version": "1.0",
}


NETWORK_FAIL = {
    "status": "fail",
    "category": "network_error",
    "subcategory": "dns_error",
    "exit_code": 5,
    "message": "EAI_AGAIN",
}


INSTALL_FAIL = {
    "status": "fail",
    "category": "install_failed",
    "subcategory": "exit_1",
    "exit_code": 6,
    "message": "npm exited 1",
}


def test_all_nine_x86_64_environments_are_declared_with_reference_platforms() -> None:
    # The arm64 and native (macOS) environments: tests/unit/containers/test_environments.py.
    assert [e.id for e in ENVS if e.arch == "x86_64"] == [
        "debian-11",
        "debian-12",
        "debian-13",
        "ubuntu-22.04",
        "ubuntu-24.04",
        "fedora-41",
        "alpine-3.21",
        "archlinux",
        "opensuse-15.6",
    ]
    assert BY_ID["alpine-3.21"].platform == "linux-alpine-musl-x86_64"
    assert BY_ID["fedora-41"].platform == "linux-rhel-glibc-x86_64"
    assert BY_ID["opensuse-15.6"].platform == "linux-suse-glibc-x86_64"
    assert BY_ID["ubuntu-24.04"].platform == "linux-debian-glibc-x86_64"
    local = {e.id for e in ENVS if not e.hosted_only}
    assert local == {"debian-11", "debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04"}
    assert all(e.local_bootstrap is None for e in ENVS if e.hosted_only)


def test_hosted_images_are_pinned_to_the_reference_digests(reference_dir: Path) -> None:
    images = json.loads((reference_dir / "container-images.json").read_text())
    family_key = {"rhel": "rhel", "alpine": "alpine", "arch": "arch", "suse": "suse"}
    for env in ENVS:
        if env.hosted_only and env.family in family_key:
            assert env.base_image == images[family_key[env.family]]["image"]
        assert "@sha256:" in env.base_image or re.search(r":\d+(\.\d+)*(-slim)?$", env.base_image)


def test_ubuntu_bootstrap_needs_universe_apt_and_its_keyring() -> None:
    boot = BY_ID["ubuntu-24.04"].local_bootstrap
    assert boot is not None
    assert boot.components == ("main", "universe") and "apt" in boot.include
    assert boot.keyring == "ubuntu-archive-keyring"
    assert boot.image == "localhost/base/ubuntu:noble"


@pytest.fixture
def recipe(tmp_path: Path) -> Recipe:
    path = tmp_path / "cowsay.toml"
    path.write_text(
        '[metadata]\nname = "cowsay"\n\n[[steps]]\naction = "npm_install"\n'
        'package = "cowsay"\nexecutables = ["cowsay"]\n\n[verify]\ncommand = "cowsay --version"\n'
    )
    return load_recipe(path)


def options(**kw: object) -> ValidationOptions:
    return ValidationOptions(batch_id="b1", **kw)  # type: ignore[arg-type]


def _mounted(argv: list[str], target: str) -> tuple[Path, bool] | None:
    """The host folder ``podman run`` mounts at ``target`` and whether read-only."""
    for flag, value in itertools.pairwise(argv):
        if flag == "-v" and value.split(":")[1] == target:
            return Path(value.split(":")[0]), value.endswith(":ro")
    return None


@pytest.mark.parametrize("prefix_on_host", [True, False])
def test_validation_installs_cuts_network_verifies_and_records(
    tmp_path: Path, recipe: Recipe, prefix_on_host: bool
) -> None:
    copied: list[set[str]] = []
    prefixes: list[Path] = []

    def kit_files(payload: Path) -> None:
        copied.append({p.relative_to(payload).as_posix() for p in payload.rglob("*.py")})

    def kit_copied(argv: list[str]) -> Completed:
        # What `cp` brings into the container: the payload as it is at that moment.
        kit_files(Path(argv[2]))
        return Completed(tuple(argv), 0)

    def started(argv: list[str]) -> Completed:
        # Mounted instead of copied: the payload read-only, the install prefix a fresh host
        # folder written through no image layer.
        payload = _mounted(argv, validate_module.PAYLOAD_DIR)
        prefix = _mounted(argv, validate_module.PREFIX)
        if payload is not None and prefix is not None:
            assert payload[1] and not prefix[1]
            assert list(prefix[0].iterdir()) == []
            kit_files(payload[0])
            prefixes.append(prefix[0])
        return Completed(tuple(argv), 0, "c1\n")

    runner = FakeRunner(
        [
            (lambda a: a[1] == "run", started),
            (lambda a: a[1] == "cp", kit_copied),
            (is_exec("install"), line(PASS_INSTALL)),
            (is_exec("verify"), line(PASS_VERIFY)),
        ]
    )
    layout = RegistryLayout.at(tmp_path)
    env = BY_ID["debian-12"]
    results = validate_in_environment(
        [recipe],
        env,
        PodmanRuntime(runner),
        layout=layout,
        options=options(
            ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"), prefix_on_host=prefix_on_host
        ),
    )
    if prefix_on_host:
        assert runner.verbs()[:5] == ["run", "exec", "network disconnect", "exec", "rm"]
        [prefix] = prefixes
        assert not prefix.exists()  # removed with the attempt's folder
        runner.calls.insert(1, [])  # the indexes below are those of the copying variant
    else:
        assert runner.verbs() == ["run", "cp", "exec", "network disconnect", "exec", "rm"]
        assert prefixes == []
    run = runner.calls[0]
    assert env.image in run and "--pull=never" in run
    assert any(a.startswith("NODE_EXTRA_CA_CERTS=") for a in run)
    install = runner.calls[2]
    assert install[3:5] == ["python3", "/tmp/registry-automation/kit/containers/installer.py"]
    # The kit folder: the installer core and every ecosystem's install module, nothing else.
    expected = {f"kit/{relative}" for relative, _ in installer.kit_files()}
    assert copied == [expected]
    assert {"kit/containers/installer.py", "kit/ecosystems/npm/install.py"} <= expected
    assert all(
        name == "kit/containers/installer.py" or name.endswith("/install.py") for name in expected
    )
    assert "linux-debian-glibc-x86_64" in install
    path = layout.results_file("b1", "debian-12")
    [stored] = [json.loads(x) for x in path.read_text().splitlines()]
    assert stored == {**results[0].to_line()}
    # The stored line is a valid results line (schema, place and batch agree).
    scan = read_results_file(path)
    assert scan.problems == [] and len(scan.lines) == 1
    assert (stored["status"], stored["attempts"], stored["platform"]) == ("pass", 1, env.platform)
    assert (stored["category"], stored["subcategory"]) == (None, None)
    assert (stored["version"], stored["batch_id"]) == ("1.0", "b1")
    assert "without network" in stored["message"]


def test_only_network_failures_are_retried_with_backoff(tmp_path: Path, recipe: Recipe) -> None:
    sleeps: list[float] = []
    runner = FakeRunner([(is_exec("install"), line(NETWORK_FAIL))])
    [result] = validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
        sleep=sleeps.append,
    )
    assert (result.category, result.attempts, result.exit_code) == ("network_error", 3, 5)
    assert sleeps == [2.0, 4.0]
    assert [c[1] for c in runner.calls].count("rm") == 3  # a fresh container per attempt

    sleeps.clear()
    runner = FakeRunner([(is_exec("install"), line(INSTALL_FAIL))])
    [result] = validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
        sleep=sleeps.append,
    )
    assert (result.category, result.attempts) == ("install_failed", 1) and sleeps == []


def test_transient_then_success(tmp_path: Path, recipe: Recipe) -> None:
    answers = iter([NETWORK_FAIL, PASS_INSTALL])
    runner = FakeRunner(
        [
            (is_exec("install"), lambda a: line(next(answers))(a)),
            (is_exec("verify"), line(PASS_VERIFY)),
        ]
    )
    [result] = validate_in_environment(
        [recipe],
        BY_ID["ubuntu-24.04"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
        sleep=lambda s: None,
    )
    assert (result.status, result.attempts) == ("pass", 2)


def test_timeouts_and_garbage_are_classified(tmp_path: Path, recipe: Recipe) -> None:
    runner = FakeRunner(
        [(is_exec("install"), lambda a: Completed(tuple(a), 124, "", "", timed_out=True))]
    )
    [result] = validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
    )
    assert (result.category, result.subcategory, result.exit_code) == (
        "install_failed",
        "timeout",
        124,
    )
    assert result.installer_category == "timeout"
    runner = FakeRunner(
        [(is_exec("install"), lambda a: Completed(tuple(a), 127, "", "python3: not found"))]
    )
    [result] = validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
    )
    # The image lacks python3: an environment gap (skipped, the tool named), not a failure.
    assert (result.status, result.category, result.subcategory) == (
        "skipped",
        None,
        "missing_toolchain",
    )
    assert result.message.startswith("environment lacks python3: ")
    assert "python3: not found" in result.message


def test_network_cut_failure_is_reported_not_fatal(tmp_path: Path, recipe: Recipe) -> None:
    runner = FakeRunner(
        [
            (is_exec("install"), line(PASS_INSTALL)),
            (is_exec("verify"), line(PASS_VERIFY)),
            (lambda a: a[1] == "network", lambda a: Completed(tuple(a), 1, "", "not connected")),
        ]
    )
    [result] = validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        DockerRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
    )
    assert result.status == "pass" and "could not be cut" in result.message


def test_batch_runs_environments_and_reports_partial(tmp_path: Path, recipe: Recipe) -> None:
    failing_env: set[str] = set()

    def run_rule(argv: list[str]) -> Completed:
        if "ubuntu-24.04" in " ".join(argv):
            failing_env.add(argv[argv.index("--name") + 1])
        return Completed(tuple(argv), 0)

    def install_rule(argv: list[str]) -> Completed:
        record = INSTALL_FAIL if argv[2] in failing_env else PASS_INSTALL
        return line(record)(argv)

    runner = FakeRunner(
        [
            (lambda a: a[1] == "run", run_rule),
            (is_exec("install"), install_rule),
            (is_exec("verify"), line(PASS_VERIFY)),
        ]
    )
    report = validate_batch(
        [recipe],
        [BY_ID["debian-12"], BY_ID["ubuntu-24.04"]],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
        jobs=2,
    )
    assert {(r.environment, r.status) for r in report.results} == {
        ("debian-12", "pass"),
        ("ubuntu-24.04", "fail"),
    }
    assert report.exit_code == ExitCode.PARTIAL
    assert report.to_json()["summary"] == {"pass": 1, "fail": 1, "skipped": 0}
    assert len(report.files) == 2


def test_per_environment_runs_containers_of_one_environment_side_by_side(
    tmp_path: Path, recipe: Recipe
) -> None:
    """Two containers of debian-12 at once, each on every other recipe: the first two installs
    only finish if both are under way together; every recipe gets its one line in the one file."""
    recipes = [replace(recipe, name=f"tool-{x}") for x in "abcd"]
    together = threading.Barrier(2, timeout=10)

    def install_rule(argv: list[str]) -> Completed:
        if "-tool-a-" in argv[2] or "-tool-b-" in argv[2]:
            together.wait()  # BrokenBarrierError (an engine error line) if one at a time
        return line(PASS_INSTALL)(argv)

    runner = FakeRunner(
        [(is_exec("install"), install_rule), (is_exec("verify"), line(PASS_VERIFY))]
    )
    layout = RegistryLayout.at(tmp_path)
    report = validate_batch(
        recipes,
        [BY_ID["debian-12"]],
        PodmanRuntime(runner),
        layout=layout,
        options=options(),
        jobs=1,
        per_environment=2,
    )
    assert sorted((r.recipe, r.status) for r in report.results) == [
        (f"tool-{x}", "pass") for x in "abcd"
    ]
    scan = read_results_file(layout.results_file("b1", "debian-12"))
    assert scan.problems == []
    assert sorted(x.recipe for x in scan.lines) == [f"tool-{x}" for x in "abcd"]


def test_build_uses_local_base_when_present_else_upstream(tmp_path: Path) -> None:
    runner = FakeRunner(
        [
            (
                lambda a: a[1:3] == ["image", "inspect"] and "localhost/base" not in a[3],
                lambda a: Completed(tuple(a), 1),
            )
        ]
    )
    report = build_images([BY_ID["debian-12"], BY_ID["fedora-41"]], PodmanRuntime(runner))
    builds = [c for c in runner.calls if c[1] == "build"]
    assert "BASE_IMAGE=localhost/base/debian:bookworm" in builds[0] and "--pull=never" in builds[0]
    assert "--build-arg" not in builds[1] and "--pull=never" not in builds[1]
    assert report.exit_code == ExitCode.OK


class EngineWithoutImages(FakeEngine):
    """An engine that has no image at all and cannot reach the upstream registry to pull one."""

    def __call__(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        if list(args)[1] == "build":
            self.calls.append(list(args))
            return Completed(
                tuple(args),
                125,
                "",
                "STEP 1/9: FROM docker.io/library/ubuntu@sha256:abc\n"
                "Error: creating build container: initializing source docker://ubuntu: "
                "pinging container registry registry-1.docker.io: dial tcp: lookup "
                "registry-1.docker.io: no such host",
            )
        return super().__call__(args, timeout=timeout)


@pytest.mark.parametrize("build_flag", [[], ["--no-build"]])
def test_an_image_never_built_names_the_setup_command_not_the_pull_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    build_flag: list[str],
) -> None:
    """`nox -s validate -- ubuntu-24.04` before `make setup-containers`: exit 2 with the command
    to run, not the engine's raw pull error and not a traceback."""
    import automation.containers.validate as container_validate

    engine = EngineWithoutImages()
    monkeypatch.setattr(
        container_validate, "detect_runtime", lambda prefer=None: PodmanRuntime(engine)
    )
    code = container_validate.main(["ubuntu-24.04", "--root", str(tmp_path), *build_flag])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert "Traceback" not in err
    # The last word (the error) is the setup command; the engine's pull output is not in it.
    error = err.strip().splitlines()[-1]
    assert error.startswith("error: validation image not built for ubuntu-24.04")
    assert error.endswith("run `make setup-containers ENVS=ubuntu-24.04` first")
    assert "pinging container registry" not in error
    assert not any(call[1] == "run" for call in engine.calls)  # no recipe was tried


def test_invoke_validate_of_a_batch_in_an_unbuilt_image_names_the_setup_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`invoke validate --env ubuntu-24.04 --batch-id B` (the stage's path, not nox's) before
    `make setup-containers`: the same usage error, and no result line written."""
    import automation.containers.validate as container_validate
    from automation.core.errors import UsageError
    from automation.registry.staging import GenerationOutcome, Staging
    from automation.stages.pipeline import run_validate

    layout = RegistryLayout.at(tmp_path)
    batch = "2026-01-02-030405-pypi"
    recipe_text = (
        '[metadata]\nname = "tool"\n\n[[steps]]\naction = "pipx_install"\n'
        'package = "tool"\nexecutables = ["tool"]\n'
    )
    Staging(layout, batch).record(GenerationOutcome("tool", "pypi:tool", "generated"), recipe_text)
    engine = EngineWithoutImages()
    monkeypatch.setattr(
        container_validate, "detect_runtime", lambda prefer=None: PodmanRuntime(engine)
    )
    monkeypatch.setattr(container_validate, "runtimes_for", lambda _ecosystems: ())
    with pytest.raises(UsageError) as refused:
        run_validate(layout, batch, ["ubuntu-24.04"])
    message = str(refused.value)
    assert message.startswith("validation image not built for ubuntu-24.04")
    assert message.endswith("run `make setup-containers ENVS=ubuntu-24.04` first")
    assert "pinging container registry" not in message
    assert not any(call[1] == "run" for call in engine.calls)
    assert not layout.results_file(batch, "ubuntu-24.04").exists()


def test_an_image_gone_mid_run_is_an_environment_gap(tmp_path: Path, recipe: Recipe) -> None:
    """The engine cannot start the container because the image is gone: a skipped
    environment_gap/image_missing line naming the setup command, not a container error."""
    runner = FakeRunner(
        [
            (lambda a: a[1] == "run", lambda a: Completed(tuple(a), 125, "", "image not known")),
            (lambda a: a[1:3] == ["image", "inspect"], lambda a: Completed(tuple(a), 125)),
        ]
    )
    [result] = validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(),
    )
    assert (result.status, result.category, result.subcategory) == (
        "skipped",
        None,
        "image_missing",
    )
    assert result.message.startswith(
        f"environment lacks its validation image {BY_ID['debian-12'].image}"
    )
    assert "make setup-containers ENVS=debian-12" in result.message
    assert result.attempts == 1  # not retried like an engine hiccup


def test_the_kits_endpoint_overrides_reach_the_container_and_nothing_else() -> None:
    from automation.containers.validate import ValidationOptions, mirror_environment

    env = {
        "AUTOMATION_ENDPOINT_CRATESIO": "http://127.0.0.1:8080",
        "AUTOMATION_ENDPOINT_PYPI": "http://mirror.example/pypi",
        "HOME": "/root",
        "GITHUB_TOKEN": "secret",
        "GONOSUMDB": "example.com",  # a toolchain's own setting an install module declares
    }
    mirrors = mirror_environment(env)
    assert mirrors == (
        ("AUTOMATION_ENDPOINT_CRATESIO", "http://127.0.0.1:8080"),
        ("AUTOMATION_ENDPOINT_PYPI", "http://mirror.example/pypi"),
        ("GONOSUMDB", "example.com"),
    )
    run = ValidationOptions(batch_id="b", mirrors=mirrors, network="host").run_options()
    assert dict(run.env)["AUTOMATION_ENDPOINT_CRATESIO"] == "http://127.0.0.1:8080"
    assert "GITHUB_TOKEN" not in dict(run.env)  # secrets of the host stay on the host
    assert run.network == "host"
    # The CA bundle option keeps both.
    with_ca = ValidationOptions(
        batch_id="b", mirrors=mirrors, network="host", ca_bundle=Path("/etc/hosts")
    ).run_options()
    assert with_ca.network == "host" and "AUTOMATION_ENDPOINT_PYPI" in dict(with_ca.env)


def test_the_container_network_setting_is_checked() -> None:
    from automation.containers.validate import container_network
    from automation.core.errors import UsageError

    assert container_network({}) is None
    assert container_network({"AUTOMATION_CONTAINER_NETWORK": "host"}) == "host"
    with pytest.raises(UsageError, match="AUTOMATION_CONTAINER_NETWORK"):
        container_network({"AUTOMATION_CONTAINER_NETWORK": "host --privileged"})


# --- throughput: the shared download cache, recipes that failed locally ------------------------


def test_the_download_cache_is_mounted_read_write_with_its_variable(
    tmp_path: Path, recipe: Recipe
) -> None:
    from automation.containers.downloads import CONTAINER_DOWNLOAD_CACHE, DOWNLOAD_CACHE_ENV

    runner = FakeRunner(
        [(is_exec("install"), line(PASS_INSTALL)), (is_exec("verify"), line(PASS_VERIFY))]
    )
    validate_in_environment(
        [recipe],
        BY_ID["debian-12"],
        PodmanRuntime(runner),
        layout=RegistryLayout.at(tmp_path),
        options=options(download_cache=tmp_path / "dl", ca_bundle=Path("/etc/hosts")),
    )
    run = runner.calls[0]
    # Read-write (no ":ro"), beside the CA bundle, and the installer is told where it is.
    assert f"{tmp_path / 'dl'}:{CONTAINER_DOWNLOAD_CACHE}" in run
    assert f"{DOWNLOAD_CACHE_ENV}={CONTAINER_DOWNLOAD_CACHE}" in run
    # Without a cache nothing is mounted.
    bare = ValidationOptions(batch_id="b").run_options()
    assert not bare.mounts and DOWNLOAD_CACHE_ENV not in dict(bare.env)


def _local_line(name: str, status: str, category: str | None, sub: str | None) -> ResultLine:
    return ResultLine(
        recipe=name,
        environment="local",
        platform="linux-debian-glibc-x86_64",
        status=status,
        category=category,
        subcategory=sub,
        exit_code=6 if status == "fail" else 0,
        attempts=1,
        message="pip install tool exited 1\nERROR: Failed building wheel for tool",
        timestamp="2026-11-27T12:10:00Z",
        version="2.0",
        batch_id="b1",
    )


def test_a_recipe_that_failed_locally_gets_a_not_tried_line_and_no_container(
    tmp_path: Path, recipe: Recipe
) -> None:
    from automation.containers.validate import failed_locally

    layout = RegistryLayout.at(tmp_path)
    other = Recipe("other", recipe.path, {**recipe.document, "metadata": {"name": "other"}})
    flaky = Recipe("flaky", recipe.path, {**recipe.document, "metadata": {"name": "flaky"}})
    append_results(
        layout,
        "b1",
        "local",
        [
            _local_line("cowsay", "fail", "install_failed", "build_failed"),
            _local_line("flaky", "fail", "network_error", "transient_network"),
            _local_line("other", "pass", None, None),
        ],
    )
    runner = FakeRunner(
        [(is_exec("install"), line(PASS_INSTALL)), (is_exec("verify"), line(PASS_VERIFY))]
    )
    report = validate_batch(
        [recipe, other, flaky],
        [BY_ID["debian-12"], BY_ID["ubuntu-24.04"]],
        PodmanRuntime(runner),
        layout=layout,
        options=options(),
        jobs=2,
        not_tried=failed_locally(layout, "b1"),
    )
    by_key = {(r.recipe, r.environment): r for r in report.results}
    for env in ("debian-12", "ubuntu-24.04"):
        skipped = by_key[("cowsay", env)]
        assert (skipped.status, skipped.category, skipped.subcategory) == (
            "skipped",
            None,
            "failed_locally",
        )
        assert skipped.attempts == 0 and skipped.version == "2.0"
        assert skipped.message.startswith(
            f"not tried in {env}: failed in local validation (install_failed/build_failed): "
            "pip install tool exited 1"
        )
        # A network failure says nothing of the package: tried; a local pass: tried.
        assert by_key[("flaky", env)].status == "pass"
        assert by_key[("other", env)].status == "pass"
        # Schema-valid lines in the environment's file.
        scan = read_results_file(layout.results_file("b1", env))
        assert scan.problems == [] and len(scan.lines) == 3
    started = [c for c in runner.calls if c[1] == "run"]
    assert len(started) == 4  # flaky and other in two environments; cowsay in none
    assert not any("cowsay" in c[c.index("--name") + 1] for c in started)
    assert report.exit_code == ExitCode.OK  # a not-tried line is no container error
    assert report.to_json()["summary"] == {"pass": 4, "fail": 0, "skipped": 2}


def test_a_local_timeout_spares_the_containers_with_the_timeout_named(
    tmp_path: Path, recipe: Recipe
) -> None:
    """A recipe whose local install ran out of time (a torch-sized closure) does not start a
    container: its 900 s limit would run out the same way and the recipe cannot merge from
    this batch; the skip line names the timeout, so the queue retries it later everywhere."""
    from automation.containers.validate import failed_locally

    layout = RegistryLayout.at(tmp_path)
    append_results(
        layout, "b1", "local", [_local_line("cowsay", "fail", "install_failed", "timeout")]
    )
    runner = FakeRunner([])
    report = validate_batch(
        [recipe],
        [BY_ID["debian-12"]],
        PodmanRuntime(runner),
        layout=layout,
        options=options(),
        not_tried=failed_locally(layout, "b1"),
    )
    [skipped] = report.results
    assert (skipped.status, skipped.subcategory) == ("skipped", "failed_locally")
    assert "(install_failed/timeout)" in skipped.message
    assert runner.calls == []


def test_a_local_failure_on_another_platform_does_not_spare_the_container(
    tmp_path: Path, recipe: Recipe
) -> None:
    from automation.containers.validate import not_tried_result

    mac = replace(
        _local_line("cowsay", "fail", "install_failed", "build_failed"), platform="darwin-arm64"
    )
    assert not_tried_result("cowsay", BY_ID["debian-12"], mac, options()) is None
    musl = next(e for e in ENVS if e.platform == "linux-alpine-musl-x86_64")
    linux = _local_line("cowsay", "fail", "install_failed", "build_failed")
    assert not_tried_result("cowsay", musl, linux, options()) is None
    # Another distribution family of the same os, libc and architecture is spared.
    rhel = next(e for e in ENVS if e.platform == "linux-rhel-glibc-x86_64")
    assert not_tried_result("cowsay", rhel, linux, options()) is not None


def test_a_staged_batch_skips_local_failures_only_when_asked_and_reruns_them_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import automation.containers.validate as container_validate
    from automation.containers.validate import (
        recipes_with_results,
        validate_batch_in_environments,
    )
    from automation.registry.staging import GenerationOutcome, Staging

    layout = RegistryLayout.at(tmp_path)
    batch = "2026-01-02-030405-pypi"
    for name in ("broken", "fine"):
        text = (
            f'[metadata]\nname = "{name}"\n\n[[steps]]\naction = "pipx_install"\n'
            f'package = "{name}"\nexecutables = ["{name}"]\n'
        )
        Staging(layout, batch).record(GenerationOutcome(name, f"pypi:{name}", "generated"), text)
    failing = replace(
        _local_line("broken", "fail", "verify_failed", "nonzero_exit"), batch_id=batch
    )
    passing = replace(_local_line("fine", "pass", None, None), batch_id=batch)
    append_results(layout, batch, "local", [failing, passing])
    monkeypatch.setattr(container_validate, "runtimes_for", lambda _ecosystems: ())
    runner = FakeRunner(
        [(is_exec("install"), line(PASS_INSTALL)), (is_exec("verify"), line(PASS_VERIFY))]
    )

    report = validate_batch_in_environments(
        layout,
        batch,
        ["debian-12"],
        runtime=PodmanRuntime(runner),
        build=False,
        ca_bundle=False,
        skip_failed_locally=True,
    )
    assert {(r.recipe, r.status, r.subcategory) for r in report.results} == {
        ("broken", "skipped", "failed_locally"),
        ("fine", "pass", None),
    }
    # A rerun that skips again has nothing to do; one that does not skip tries the recipe.
    assert recipes_with_results(layout, batch, "debian-12") == {"broken", "fine"}
    assert recipes_with_results(layout, batch, "debian-12", count_not_tried=False) == {"fine"}
    again = validate_batch_in_environments(
        layout, batch, ["debian-12"], runtime=PodmanRuntime(runner), build=False, ca_bundle=False
    )
    assert [(r.recipe, r.status) for r in again.results] == [("broken", "pass")]


def test_the_provisioned_pythons_pip_installs_into_the_venvs_in_the_containers() -> None:
    """A venv that bootstraps its own pip costs about 4 s per recipe; the provisioned runtime
    has pip, so the installer is told to use it (locally it always does)."""
    from automation.containers.runtimes import ProvisionedRuntime

    python = ProvisionedRuntime(
        "python3",
        "3.13.5",
        "built from source",
        Path("/cache/python3/3.13.5"),
        "/opt/tsuku-python/3.13",
        interpreter="bin/python3.13",
    )
    node = ProvisionedRuntime("node", "26.12.1", "official", Path("/c/node"), "/opt/rt/node")
    assert options(runtimes=(node, python)).installer_args() == [
        "--python",
        "/opt/tsuku-python/3.13/bin/python3.13",
        "--reuse-host-tools",
    ]
    # The image's own python3 (AUTOMATION_RUNTIMES=host) may lack pip: venvs bring their own.
    assert options(runtimes=(node,)).installer_args() == []


def test_the_local_feed_hands_over_lines_and_releases_waiters_when_local_ends() -> None:
    import threading

    from automation.containers.validate import LocalFeed

    done = _local_line("done", "pass", None, None)
    feed = LocalFeed({"done": done}, skip_failed_locally=True)
    assert feed.wait("done") == (True, done)  # a line from an earlier run counts at once
    got: list[tuple[bool, ResultLine | None]] = []
    waiter = threading.Thread(target=lambda: got.extend([feed.wait("next"), feed.wait("never")]))
    waiter.start()
    nxt = _local_line("next", "fail", "install_failed", "build_failed")
    feed.add(nxt)
    feed.finish()  # local stopped before "never": the waiter is released with nothing
    waiter.join(10)
    assert got == [(True, nxt), (False, None)]


def _stage_held_batch(layout: RegistryLayout, batch: str) -> None:
    """Two staged recipes that passed locally: one verifies a version, one only a clean exit."""
    from automation.registry.staging import GenerationOutcome, Staging

    verifies = {"versioned": 'pattern = "{version}"\n', "helpless": ""}
    for name, pattern in verifies.items():
        text = (
            f'[metadata]\nname = "{name}"\n\n[[steps]]\naction = "pipx_install"\n'
            f'package = "{name}"\nexecutables = ["{name}"]\n\n'
            f'[verify]\ncommand = "{name} --version"\n{pattern}'
        )
        Staging(layout, batch).record(GenerationOutcome(name, f"pypi:{name}", "generated"), text)
    append_results(
        layout,
        batch,
        "local",
        [replace(_local_line(n, "pass", None, None), batch_id=batch) for n in verifies],
    )


def test_a_recipe_a_gate_holds_after_local_is_not_installed_and_a_gateless_rerun_tries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import automation.containers.validate as container_validate
    from automation.containers.validate import validate_batch_in_environments
    from automation.stages.gates import GateConfig, recipe_review_reasons

    layout = RegistryLayout.at(tmp_path)
    batch = "2026-01-02-030405-pypi"
    _stage_held_batch(layout, batch)
    monkeypatch.setattr(container_validate, "runtimes_for", lambda _ecosystems: ())
    runner = FakeRunner(
        [(is_exec("install"), line(PASS_INSTALL)), (is_exec("verify"), line(PASS_VERIFY))]
    )
    config = GateConfig(require_version_verify=True)

    def version_gate(recipe: Recipe) -> list[str]:
        return recipe_review_reasons(recipe.document, recipe.text, config)

    report = validate_batch_in_environments(
        layout,
        batch,
        ["debian-12", "ubuntu-24.04"],
        runtime=PodmanRuntime(runner),
        build=False,
        ca_bundle=False,
        review_gate=version_gate,
    )
    by_key = {(r.recipe, r.environment): r for r in report.results}
    for env in ("debian-12", "ubuntu-24.04"):
        held = by_key[("helpless", env)]
        assert (held.status, held.category, held.subcategory, held.attempts) == (
            "skipped",
            None,
            "held_for_review",
            0,
        )
        assert held.message.startswith(f"not tried in {env}: passed local validation, held")
        assert "`helpless --version` checks only a clean exit" in held.message
        assert by_key[("versioned", env)].status == "pass"
        assert read_results_file(layout.results_file(batch, env)).problems == []
    started = [c for c in runner.calls if c[1] == "run"]
    assert len(started) == 2 and not any("helpless" in " ".join(c) for c in started)
    # Without the gate, the held recipe's lines do not count as done: it is installed.
    again = validate_batch_in_environments(
        layout, batch, ["debian-12"], runtime=PodmanRuntime(runner), build=False, ca_bundle=False
    )
    assert [(r.recipe, r.status) for r in again.results] == [("helpless", "pass")]


def test_the_review_gate_spares_nothing_that_did_not_pass_locally(recipe: Recipe) -> None:
    from automation.containers.validate import held_result

    def hold_everything(_recipe: Recipe) -> list[str]:
        return ["held"]

    failing = _local_line("cowsay", "fail", "verify_failed", "nonzero_exit")
    assert held_result(recipe, BY_ID["debian-12"], failing, hold_everything, options()) is None
    passing = _local_line("cowsay", "pass", None, None)
    assert held_result(recipe, BY_ID["debian-12"], passing, lambda _r: [], options()) is None
    held = held_result(recipe, BY_ID["debian-12"], passing, hold_everything, options())
    assert held is not None and held.subcategory == "held_for_review"
