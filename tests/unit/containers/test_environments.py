"""The declared environments: reference platforms, pinned digests, errors naming the field."""

from __future__ import annotations

import copy
import json

import pytest

from automation.containers import environments as envmod
from automation.containers.environments import load_environments, parse_environments
from automation.core.errors import DataError, UsageError

ENVS = load_environments(native=True)
CONTAINER_ENVS = load_environments()


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


@pytest.mark.parametrize("env", CONTAINER_ENVS, ids=lambda e: e.id)
def test_dockerfile_takes_the_pinned_base_as_build_argument(env: envmod.Environment) -> None:
    lines = [ln for ln in env.dockerfile.read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == f"ARG BASE_IMAGE={env.base_image}"
    assert lines[1] == "FROM ${BASE_IMAGE}"
    text = env.dockerfile.read_text()
    assert "ca-certificates" in text and "npm" in text
    assert "COPY" not in text and "ca-bundle" not in text.lower()  # no CA baked in


def test_the_eleven_reference_platforms_each_have_an_environment() -> None:
    from automation.registry.constraints import VALIDATION_PLATFORMS

    assert {e.platform for e in ENVS} == set(VALIDATION_PLATFORMS)


def test_arm64_environments_build_their_x86_64_twins_dockerfile_under_their_own_tag() -> None:
    by_id = {e.id: e for e in ENVS}
    arm = [e for e in ENVS if e.arch == "arm64" and not e.native]
    assert [e.id for e in arm] == [
        "debian-12-arm64",
        "fedora-41-arm64",
        "opensuse-15.6-arm64",
        "alpine-3.21-arm64",
    ]
    for env in arm:
        twin = by_id[env.id.removesuffix("-arm64")]
        assert env.dockerfile == twin.dockerfile
        assert env.base_image == twin.base_image  # a multi-arch pin: the runner picks its arch
        assert env.platform == f"linux-{twin.family}-{twin.libc}-arm64"
        assert env.image == f"{envmod.IMAGE_PREFIX}/{env.id}:latest" != twin.image
        assert env.hosted_only and env.local_bootstrap is None
        assert env.runner == "ubuntu-24.04-arm"


def test_macos_environments_are_native_on_their_runners() -> None:
    assert all(not e.native for e in CONTAINER_ENVS)  # what container code iterates
    assert len(CONTAINER_ENVS) == len(ENVS) - 2
    native = {e.id: e for e in ENVS if e.native}
    assert {i: (e.platform, e.runner) for i, e in native.items()} == {
        "darwin-arm64": ("darwin-arm64", "macos-14"),
        "darwin-x86_64": ("darwin-x86_64", "macos-13"),
    }
    with pytest.raises(UsageError, match="native"):
        _ = native["darwin-arm64"].dockerfile
    assert envmod.native_environment("darwin-arm64", ENVS) == native["darwin-arm64"]
    assert envmod.native_environment("debian-12", ENVS) is None
    envmod.check_native_host(native["darwin-arm64"], "darwin-arm64")
    with pytest.raises(UsageError, match="linux-debian-glibc-x86_64"):
        envmod.check_native_host(native["darwin-arm64"], "linux-debian-glibc-x86_64")


def test_a_native_environment_is_checked_like_the_others() -> None:
    raw = json.loads(envmod.ENVIRONMENTS_FILE.read_text())
    native = next(i for i, e in enumerate(raw["environments"]) if e.get("kind") == "native")
    bad = copy.deepcopy(raw)
    bad["environments"][native]["platform"] = "linux-debian-glibc-arm64"
    with pytest.raises(DataError, match=rf"environments\[{native}\]\.platform"):
        parse_environments(bad)
    wrong_arch = copy.deepcopy(raw)
    wrong_arch["environments"][native]["arch"] = "x86_64"  # darwin-arm64 says arm64
    with pytest.raises(DataError, match="disagrees"):
        parse_environments(wrong_arch)
    with_image = copy.deepcopy(raw)
    with_image["environments"][native]["base_image"] = "docker.io/library/debian:12"
    with pytest.raises(DataError):
        parse_environments(with_image)


def test_a_native_environment_named_among_containers_says_how_to_validate_it() -> None:
    with pytest.raises(UsageError, match="native environment, not a container"):
        envmod.select_environments(["debian-12", "darwin-arm64"])
