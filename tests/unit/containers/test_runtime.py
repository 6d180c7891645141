"""The runtime adapter: podman and docker commands, container clean-up, engine detection."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from automation.containers import environments as envmod
from automation.containers.environments import load_environments
from automation.containers.runtime import (
    CONTAINER_CA_PATH,
    Completed,
    ContainerRuntime,
    DockerRuntime,
    EngineError,
    Mount,
    PodmanRuntime,
    RunOptions,
    container,
    detect_runtime,
    subprocess_runner,
)
from automation.containers.validate import (
    ValidationOptions,
)
from tests.support.container_runner import FakeRunner
from tests.support.fake_engine import FakeEngine


def test_engine_runner_keeps_streams_apart_and_reports_a_missing_engine() -> None:
    done = subprocess_runner(["/bin/sh", "-c", "echo id; echo warn >&2"], timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (0, "id\n", "warn\n")
    missing = subprocess_runner(["no-such-engine-here", "info"], timeout=10)
    assert missing.returncode == 127 and not missing.ok and "no-such-engine-here" in missing.stderr
    assert os.environ.get("PATH")  # the engine inherits this process's environment


def test_inspect_of_a_missing_image_is_none() -> None:
    runtime: ContainerRuntime = PodmanRuntime(FakeEngine())
    assert runtime.inspect_image("localhost/nothing:latest") is None


ENVS = load_environments()


BY_ID = {e.id: e for e in ENVS}


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


def test_an_extra_mount_keeps_the_other_options_and_a_target_is_mounted_once() -> None:
    base = RunOptions(memory="1g", network="none").with_ca_bundle(Path("/host/ca.pem"))
    options = base.with_mount(Mount("/host/tsuku", "/run/x/tsuku"))
    args = DockerRuntime(FakeRunner()).run_args("img", ["true"], options)
    assert "/host/tsuku:/run/x/tsuku:ro" in args and f"/host/ca.pem:{CONTAINER_CA_PATH}:ro" in args
    assert (options.memory, options.network, options.env) == ("1g", "none", base.env)
    assert base.mounts == options.mounts[:1]  # the original is unchanged
    with pytest.raises(ValueError, match="/run/x/tsuku is mounted already"):
        options.with_mount(Mount("/elsewhere", "/run/x/tsuku"))


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


def test_container_clears_mounted_folders_before_it_is_removed() -> None:
    """A bind-mounted install prefix the container's root wrote: the container deletes its
    contents (the host user may not be able to), then goes; also after a failure inside."""
    for exc in (None, RuntimeError("boom")):
        runner = FakeRunner()
        runtime = PodmanRuntime(runner)
        with (
            pytest.raises(RuntimeError) if exc else contextlib.nullcontext(),
            container(runtime, "img", name="c3", clear_before_removal=("/opt/p",)) as name,
        ):
            if exc is not None:
                raise exc
            assert name == "c3"
        clear = ["find", "/opt/p", "-mindepth", "1", "-delete"]
        assert runner.calls[-2][-5:] == clear and runner.calls[-2][1] == "exec"
        assert runner.calls[-1][:3] == ["podman", "rm", "-f"]
    # A container that never started has nothing to clear.
    failing = FakeRunner(
        [(lambda a: a[1] == "run", lambda a: Completed(tuple(a), 125, "", "no image"))]
    )
    with (
        pytest.raises(EngineError),
        container(PodmanRuntime(failing), "img", name="c4", clear_before_removal=("/opt/p",)),
    ):
        pass
    assert [c[1] for c in failing.calls] == ["run", "rm"]


def test_detect_runtime_explains_what_is_missing() -> None:
    runner = FakeRunner(
        [(lambda a: a[1] == "info", lambda a: Completed(tuple(a), 1, "", "no daemon"))]
    )
    with pytest.raises(EngineError, match=r"no working container engine.*no daemon"):
        detect_runtime(runner)
    ok = FakeRunner([(lambda a: a[0] == "podman", lambda a: Completed(tuple(a), 1, "", "x"))])
    assert isinstance(detect_runtime(ok), DockerRuntime)


def options(**kw: object) -> ValidationOptions:
    return ValidationOptions(batch_id="b1", **kw)  # type: ignore[arg-type]
