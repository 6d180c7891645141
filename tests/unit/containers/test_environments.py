"""The declared environments: reference platforms, pinned digests, errors naming the field."""

from __future__ import annotations

import copy
import json

import pytest

from automation.containers import environments as envmod
from automation.containers.environments import load_environments, parse_environments
from automation.core.errors import DataError, UsageError

ENVS = load_environments()


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
