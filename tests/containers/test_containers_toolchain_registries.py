"""RubyGems and CPAN end to end in debian-12, offline: ``invoke pipeline --no-seed --env
debian-12`` generates a recipe from our own registries on the host's loopback, validates it in
``local`` and in the container (on the host network: ``gem``/``cpanm`` inside read the same
gem source and CPAN mirror through the forwarded ``AUTOMATION_ENDPOINT_*``), and merges it.

Needs podman or docker, the debian-12 image (``make setup-containers``; it carries Debian's ruby,
perl and cpanminus) and the host's toolchains (the gem is built and ``local`` runs here); skips
with the reason otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.containers.environments import select_environments
from automation.containers.runtime import ContainerRuntime
from automation.core.layout import RegistryLayout
from tests.support.fake_upstream import FakeUpstream
from tests.support.offline_registries import check_merged, queue_entry, run_pipeline, serve_for

pytestmark = [pytest.mark.containers, pytest.mark.slow]

ENV = "debian-12"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    try:
        yield server
    finally:
        server.stop()
    assert server.unexpected == []


@pytest.fixture(scope="module")
def image(runtime: ContainerRuntime) -> ContainerRuntime:
    [env] = select_environments([ENV])
    if not runtime.image_exists(env.image):
        pytest.skip(f"{env.image} is not built (make setup-containers ENVS={ENV})")
    return runtime


@pytest.mark.parametrize("ecosystem", ["rubygems", "cpan"])
def test_pipeline_merges_a_recipe_from_our_own_registry_in_debian_12(
    ecosystem: str, image: ContainerRuntime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    served = serve_for(ecosystem, upstream, tmp_path / "work")
    layout = RegistryLayout.at(tmp_path / "registry")
    queue_entry(layout, served)

    done, seconds = run_pipeline(
        layout.root, served, ENV, extra={"AUTOMATION_CONTAINER_NETWORK": "host"}
    )

    local, debian = check_merged(layout, served, done, "local", ENV)
    runtime = "ruby" if ecosystem == "rubygems" else "perl"
    names = [[r["name"] for r in line["runtimes"]] for line in (local, debian)]  # type: ignore[union-attr]
    assert names == [[runtime], [runtime]], (local, debian)
    # Both the host and the container installed from our server (two artifact downloads).
    artifact = "/gems/tinyhello-" if ecosystem == "rubygems" else "/cpan/authors/id/"
    assert len(upstream.requests_to("^" + artifact)) >= 2, upstream.log
    print(f"\n{ecosystem} local + {ENV} pipeline: {seconds:.1f}s")
