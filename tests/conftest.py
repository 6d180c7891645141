"""Shared fixtures: the reference data (read-only, checked unchanged), and scratch registries.

The reference data is ``../shared/reference`` next to the repository when that folder is there,
and otherwise the snapshot shipped in ``tests/fixtures/reference/`` (extracted once per session
into a temporary folder and made read-only). ``REGISTRY_AUTOMATION_REFERENCE`` chooses:

* unset: ``../shared/reference`` if it holds ``tsuku/``, else the snapshot;
* ``none``: the snapshot, even when ``../shared`` is there (what a fresh clone sees);
* a folder: that folder (it must hold ``tsuku/``).

Whichever it is, the session records every path's size and mtime before the first test that
reads it and fails after the last one if anything under it changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import reference_snapshot
from tests.support.fake_upstream import FakeUpstream


@pytest.fixture(scope="session", autouse=True)
def _failure_index_cache_outside_the_repository(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """The failure index's cache goes to a session folder, never into a registry a test reads
    (the kit's default is ``<root>/.cache/automation/``, written whenever the root is writable).
    Tests of that default unset the variable themselves."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOMATION_CACHE_DIR", str(tmp_path_factory.mktemp("automation-cache")))
        yield


@pytest.fixture(scope="session")
def reference_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder holding ``tsuku/`` and ``api-samples/``; a change by any test fails the run."""
    try:
        shared = reference_snapshot.chosen_reference()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if shared is None:
        root = reference_snapshot.extract_snapshot(tmp_path_factory.mktemp("reference"))
        # Read-only, so a write fails loudly (except for root: the fingerprint check catches it).
        reference_snapshot.set_writable(root, False)
    else:
        root = shared
    try:
        with reference_snapshot.kept_unchanged(root):
            yield root
    finally:
        if shared is None:
            reference_snapshot.set_writable(root, True)  # so pytest can remove old session folders


@pytest.fixture(scope="session")
def reference_dir(reference_root: Path) -> Path:
    """The reference registry (read-only)."""
    return reference_root / "tsuku"


@pytest.fixture(scope="session")
def api_samples_dir(reference_root: Path) -> Path:
    """Saved upstream API responses (read-only; the snapshot holds the GitHub release listings)."""
    return reference_root / "api-samples"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A local server of saved upstream responses; every request must have been expected."""
    server = FakeUpstream().start()
    yield server
    server.stop()
    assert server.unexpected == []


@pytest.fixture(scope="session", autouse=True)
def _host_runtimes_unless_a_test_asks() -> Iterator[None]:
    """Tests run installs with fakes or the machine's own tools: no test provisions tsuku's
    pinned Node.js/Python by accident (a download and a 4-minute build). Tests of provisioning
    set ``AUTOMATION_RUNTIMES`` themselves; container and live tests choose in their conftest."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOMATION_RUNTIMES", os.environ.get("AUTOMATION_RUNTIMES", "host"))
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_shared_download_cache_unless_a_test_asks() -> Iterator[None]:
    """Tests never read or fill the machine's shared download cache: a package a mirror test
    expects to fetch from its mirror must not come from a cache an earlier run filled. Tests
    of the cache point ``AUTOMATION_DOWNLOAD_CACHE`` at a folder of their own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "AUTOMATION_DOWNLOAD_CACHE", os.environ.get("AUTOMATION_DOWNLOAD_CACHE", "off")
        )
        yield
