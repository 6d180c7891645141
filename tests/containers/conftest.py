"""Fixtures for the container specs (helpers in container_spec.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from automation.containers.runtime import ContainerRuntime, EngineError, detect_runtime
from tests.containers.container_spec import SPEC_ENVS, Running, start


@pytest.fixture(scope="session")
def runtime() -> ContainerRuntime:
    try:
        return detect_runtime()
    except EngineError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module", params=SPEC_ENVS, ids=lambda e: e.id)
def running(request: pytest.FixtureRequest, runtime: ContainerRuntime) -> Iterator[Running]:
    yield from start(runtime, request.param, "spec")
