"""Shared fixtures: where the reference data lives, and scratch registries."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_upstream import FakeUpstream

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def _find_shared() -> Path | None:
    env = os.environ.get("AUTOMATION_SHARED_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPOSITORY_ROOT.parent / "shared", Path("/work/shared")]
    for candidate in candidates:
        if (candidate / "reference" / "tsuku").is_dir():
            return candidate
    return None


SHARED_DIR = _find_shared()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if SHARED_DIR is None:
        pytest.skip("../shared/reference is not present")
    return SHARED_DIR


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    """The reference registry (read-only)."""
    return shared_dir / "reference" / "tsuku"


@pytest.fixture(scope="session")
def api_samples_dir(shared_dir: Path) -> Path:
    return shared_dir / "reference" / "api-samples"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A local server of saved upstream responses; every request must have been expected."""
    server = FakeUpstream().start()
    yield server
    server.stop()
    assert server.unexpected == []
