"""crates.io and Go end to end offline: ``invoke pipeline --no-seed`` against registries of our
own (``tests/support/toolchain_mirrors.py``), reached through ``AUTOMATION_ENDPOINT_*`` by the
kit (generation) and by cargo/go (installation), then verified and merged, in ``local``.

No network: the fake upstream binds loopback, and every request it did not expect fails the
test. Needs the toolchain on this machine (cargo; go: Debian's ``golang-go``), else skips with
the reason. The same run in debian-12 is ``tests/containers/test_containers_toolchain_mirrors.py``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import toolchain_mirrors as mirrors
from tests.support.fake_upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = mirrors.serve_all(FakeUpstream().start())
    try:
        yield server
    finally:
        server.stop()
    assert server.unexpected == []


@pytest.mark.parametrize("ecosystem", sorted(mirrors.CASES))
def test_pipeline_builds_installs_verifies_and_merges_from_our_own_registry(
    ecosystem: str, upstream: FakeUpstream, tmp_path: Path
) -> None:
    case = mirrors.CASES[ecosystem]
    if shutil.which(case.toolchain) is None:
        pytest.skip(mirrors.INSTALL_HINT[case.toolchain])
    layout = mirrors.queue_one(tmp_path, case)
    done = mirrors.run_pipeline(tmp_path, case, upstream)
    assert done.returncode == 0, done.stdout + done.stderr
    mirrors.assert_merged(layout, case, ("local",))
    # The toolchain itself fetched from our registry: cargo the index and the .crate (checked
    # against the index's cksum), go the module's .info/.mod/.zip.
    fetched = {path for _, path, _ in upstream.log}
    if ecosystem == "crates.io":
        assert {"/config.json", mirrors.sparse_path(case.name)} <= fetched
        assert f"/api/v1/crates/{case.name}/{case.version}/download" in fetched
    else:
        assert f"/{mirrors.GO_MODULE}/@v/{case.version}.mod" in fetched
        assert not any(path.startswith("/sumdb/") for path in fetched)  # exempted by GONOSUMDB


def test_a_crate_whose_archive_does_not_match_its_cksum_is_refused(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    """cargo checks the ``.crate`` against the index's sha256: a mirror serving other bytes
    fails the install, and nothing is merged."""
    case = mirrors.CASES["crates.io"]
    if shutil.which("cargo") is None:
        pytest.skip(mirrors.INSTALL_HINT["cargo"])
    tampered = mirrors.crate_archive(case.name, case.version).replace(b"\x00", b"\x01", 1)
    upstream.blob(f"/api/v1/crates/{case.name}/{case.version}/download", tampered)
    layout = mirrors.queue_one(tmp_path, case)
    done = mirrors.run_pipeline(tmp_path, case, upstream)
    assert done.returncode == 4, done.stdout + done.stderr  # partial: the item failed
    assert not layout.recipe_path(case.name).exists()
    (batch,) = [p.name for p in layout.results_dir.iterdir()]
    line = json.loads(layout.results_file(batch, "local").read_text())
    assert line["status"] == "fail" and line["category"] == "install_failed", line
    assert "checksum" in line["message"].lower(), line["message"]
