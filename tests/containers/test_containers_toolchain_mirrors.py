"""crates.io and Go end to end offline in debian-12: ``invoke pipeline --no-seed --env debian-12``
against registries of our own on the host's loopback (``tests/support/toolchain_mirrors.py``).

The kit generates from them, ``local`` validates first (it discovers the ``[verify]`` pattern),
then the installer in the debian-12 container builds the tool with the image's own cargo/go,
pointed at the same registry through the forwarded ``AUTOMATION_ENDPOINT_*`` variables (and
``GONOSUMDB``), on the host's network (``AUTOMATION_CONTAINER_NETWORK=host``), and merge lands
the recipe. No internet is used. Skips when podman, the image, its toolchains or the host's
toolchain are missing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.containers.environments import select_environments
from automation.containers.runtime import ContainerRuntime, RunOptions
from tests.support import toolchain_mirrors as mirrors
from tests.support.fake_upstream import FakeUpstream

pytestmark = [pytest.mark.containers, pytest.mark.slow]

ENV = "debian-12"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = mirrors.serve_all(FakeUpstream().start())
    try:
        yield server
    finally:
        server.stop()
    assert server.unexpected == []


@pytest.fixture(scope="module")
def image(runtime: ContainerRuntime) -> str:
    (environment,) = select_environments([ENV])
    if not runtime.image_exists(environment.image):
        pytest.skip(f"{environment.image} is not built (make setup-containers ENVS={ENV})")
    return environment.image


@pytest.mark.parametrize("ecosystem", sorted(mirrors.CASES))
def test_pipeline_merges_after_local_and_debian_12_from_our_own_registry(
    ecosystem: str,
    image: str,
    runtime: ContainerRuntime,
    upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    case = mirrors.CASES[ecosystem]
    if shutil.which(case.toolchain) is None:
        pytest.skip(mirrors.INSTALL_HINT[case.toolchain])
    probe = runtime.run(
        image, ["sh", "-c", f"command -v {case.toolchain}"], RunOptions(network="none")
    )
    if not probe.ok:
        pytest.skip(f"{image} has no {case.toolchain}: rebuild it (make setup-containers)")
    layout = mirrors.queue_one(tmp_path, case)
    done = mirrors.run_pipeline(
        tmp_path,
        case,
        upstream,
        ENV,
        extra={"AUTOMATION_CONTAINER_NETWORK": "host", "AUTOMATION_RUNTIMES": "host"},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    mirrors.assert_merged(layout, case, ("local", ENV))
    (batch,) = [p.name for p in layout.results_dir.iterdir()]
    line = json.loads(layout.results_file(batch, ENV).read_text())
    # Built by the distribution's toolchain in the image (Debian 12: cargo 1.65, go 1.19).
    (runtime_used,) = line["runtimes"]
    assert runtime_used["name"] == case.toolchain
    assert runtime_used["version"].startswith("1.6" if ecosystem == "crates.io" else "1.19")
