"""Environments, the runtime adapter and validation, with a runner that records commands."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from automation.containers import environments as envmod
from automation.containers import installer
from automation.containers.environments import load_environments, parse_environments
from automation.containers.runtime import (
    CONTAINER_CA_PATH,
    Completed,
    DockerRuntime,
    EngineError,
    PodmanRuntime,
    RunOptions,
    container,
    detect_runtime,
)
from automation.containers.validate import (
    Recipe,
    ValidationOptions,
    build_images,
    load_recipe,
    validate_batch,
    validate_in_environment,
)
from automation.core.errors import DataError, ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.registry.results import read_results_file

ENVS = load_environments()
BY_ID = {e.id: e for e in ENVS}


class FakeRunner:
    """Records every command; answers from a list of (predicate, Completed-factory) rules."""

    def __init__(
        self,
        rules: Sequence[tuple[Callable[[list[str]], bool], Callable[[list[str]], Completed]]] = (),
    ):
        self.calls: list[list[str]] = []
        self.rules = list(rules)

    def __call__(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        argv = list(args)
        self.calls.append(argv)
        for predicate, answer in self.rules:
            if predicate(argv):
                return answer(argv)
        return Completed(tuple(argv), 0)

    def verbs(self) -> list[str]:
        return [" ".join(c[1:3]) if c[1] == "network" else c[1] for c in self.calls]


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


# --- environments ----------------------------------------------------------------------------


def test_all_nine_environments_are_declared_with_reference_platforms() -> None:
    assert [e.id for e in ENVS] == [
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
        if env.hosted_only:
            assert env.base_image == images[family_key[env.family]]["image"]
        assert "@sha256:" in env.base_image or re.search(r":\d+(\.\d+)*(-slim)?$", env.base_image)


def test_ubuntu_bootstrap_needs_universe_apt_and_its_keyring() -> None:
    boot = BY_ID["ubuntu-24.04"].local_bootstrap
    assert boot is not None
    assert boot.components == ("main", "universe") and "apt" in boot.include
    assert boot.keyring == "ubuntu-archive-keyring"
    assert boot.image == "localhost/base/ubuntu:noble"


def test_schema_errors_name_the_field() -> None:
    raw = json.loads(envmod.ENVIRONMENTS_FILE.read_text())
    bad = copy.deepcopy(raw)
    bad["environments"][0]["libc"] = "uclibc"
    with pytest.raises(DataError, match=r"environments\[0\]\.libc"):
        parse_environments(bad)
    hosted_with_bootstrap = copy.deepcopy(raw)
    hosted_with_bootstrap["environments"][5]["local_bootstrap"] = raw["environments"][1][
        "local_bootstrap"
    ]
    with pytest.raises(DataError):
        parse_environments(hosted_with_bootstrap)
    wrong_platform = copy.deepcopy(raw)
    wrong_platform["environments"][1]["platform"] = "linux-rhel-glibc-x86_64"
    with pytest.raises(DataError, match="disagrees"):
        parse_environments(wrong_platform)


def test_unknown_environment_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="centos"):
        envmod.select_environments(["centos-7"], ENVS)


@pytest.mark.parametrize("env", ENVS, ids=lambda e: e.id)
def test_dockerfile_takes_the_pinned_base_as_build_argument(env: envmod.Environment) -> None:
    lines = [ln for ln in env.dockerfile.read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == f"ARG BASE_IMAGE={env.base_image}"
    assert lines[1] == "FROM ${BASE_IMAGE}"
    text = env.dockerfile.read_text()
    assert "ca-certificates" in text and "npm" in text
    assert "COPY" not in text and "ca-bundle" not in text.lower()  # no CA baked in


# --- runtime ---------------------------------------------------------------------------------


def test_podman_build_never_pulls_for_local_bases_docker_uses_upstream() -> None:
    runner = FakeRunner()
    env = BY_ID["debian-12"]
    PodmanRuntime(runner).build(
        env.image,
        env.dockerfile,
        envmod.CONTAINERS_DIR,
        build_args={"BASE_IMAGE": "localhost/base/debian:bookworm"},
    )
    DockerRuntime(runner).build(env.image, env.dockerfile, envmod.CONTAINERS_DIR, local=False)
    podman, docker = runner.calls
    assert podman[:2] == ["podman", "build"] and "--pull=never" in podman
    assert "BASE_IMAGE=localhost/base/debian:bookworm" in podman
    assert docker[:2] == ["docker", "build"] and not any(a.startswith("--pull") for a in docker)
    assert "--build-arg" not in docker


def test_run_options_ca_bundle_limits_and_network() -> None:
    options = RunOptions(memory="1g", cpus=0.5, network="none").with_ca_bundle(Path("/host/ca.pem"))
    args = PodmanRuntime(FakeRunner()).run_args("img", ["true"], options, name="n")
    assert f"/host/ca.pem:{CONTAINER_CA_PATH}:ro" in args
    for var in ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"):
        assert f"{var}={CONTAINER_CA_PATH}" in args
    assert args[args.index("--network") + 1] == "none"
    assert args[args.index("--memory") + 1] == "1g"
    assert args[args.index("--cpus") + 1] == "0.5"
    assert "--pull=never" in args and args[-2:] == ["img", "true"]


def test_container_is_removed_on_success_error_and_keyboard_interrupt() -> None:
    for exc in (None, RuntimeError("boom"), KeyboardInterrupt()):
        runner = FakeRunner()
        runtime = PodmanRuntime(runner)
        try:
            with container(runtime, "img", name="c1") as name:
                runtime.exec(name, ["true"])
                if exc is not None:
                    raise exc
        except (RuntimeError, KeyboardInterrupt):
            pass
        assert runner.calls[-1] == ["podman", "rm", "-f", "-t", "0", "c1"], exc


def test_container_removed_even_when_start_fails() -> None:
    runner = FakeRunner(
        [(lambda a: a[1] == "run", lambda a: Completed(tuple(a), 125, "", "no image"))]
    )
    with (
        pytest.raises(EngineError, match="no image"),
        container(PodmanRuntime(runner), "img", name="c2"),
    ):
        pass
    assert runner.calls[-1][:3] == ["podman", "rm", "-f"]


def test_detect_runtime_explains_what_is_missing() -> None:
    runner = FakeRunner(
        [(lambda a: a[1] == "info", lambda a: Completed(tuple(a), 1, "", "no daemon"))]
    )
    with pytest.raises(EngineError, match=r"no working container engine.*no daemon"):
        detect_runtime(runner)
    ok = FakeRunner([(lambda a: a[0] == "podman", lambda a: Completed(tuple(a), 1, "", "x"))])
    assert isinstance(detect_runtime(ok), DockerRuntime)


# --- validation ------------------------------------------------------------------------------


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


def test_validation_installs_cuts_network_verifies_and_records(
    tmp_path: Path, recipe: Recipe
) -> None:
    copied: list[set[str]] = []

    def kit_copied(argv: list[str]) -> Completed:
        # What `cp` brings into the container: the payload as it is at that moment.
        payload = Path(argv[2])
        copied.append({p.relative_to(payload).as_posix() for p in payload.rglob("*.py")})
        return Completed(tuple(argv), 0)

    runner = FakeRunner(
        [
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
        options=options(ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt")),
    )
    assert runner.verbs() == ["run", "cp", "exec", "network disconnect", "exec", "rm"]
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
    assert (result.category, result.subcategory) == ("missing_dep", "missing_runtime")
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
