"""Helpers shared by the container specs: start one container per environment, always removed.

Select environments with REGISTRY_AUTOMATION_TEST_ENVS="debian-12 ubuntu-24.04" (default: every
environment whose validation image exists in the local engine).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from automation.containers.environments import Environment, load_environments
from automation.containers.runtime import (
    ContainerRuntime,
    RunOptions,
    container,
    new_container_name,
)

ALL_ENVS = load_environments()
REQUESTED = os.environ.get("REGISTRY_AUTOMATION_TEST_ENVS", "").split()
SPEC_ENVS = [e for e in ALL_ENVS if e.id in REQUESTED] if REQUESTED else list(ALL_ENVS)


@dataclass
class Running:
    env: Environment
    runtime: ContainerRuntime
    name: str
    host: Any  # testinfra.host.Host


def start(runtime: ContainerRuntime, env: Environment, label: str) -> Iterator[Running]:
    testinfra = pytest.importorskip("testinfra")
    if not runtime.image_exists(env.image):
        pytest.skip(f"{env.image} is not built (make setup-containers)")
    options = RunOptions().with_ca_bundle()
    with container(runtime, env.image, options, name=new_container_name(label, env.id)) as name:
        yield Running(env, runtime, name, testinfra.get_host(f"{runtime.executable}://{name}"))
