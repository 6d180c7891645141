"""RubyGems and CPAN end to end, offline: ``invoke pipeline --no-seed`` generates, installs, runs
and merges a recipe from small registries of our own (a gem source, a CPAN mirror and their API
documents on the fake upstream), in ``local``.

The kit reads the API documents through ``AUTOMATION_ENDPOINT_RUBYGEMS``/``_METACPAN``; the install
actions point ``gem`` and ``cpanm`` at the same server (``--clear-sources --source``,
``--mirror --mirror-only``). Needs the toolchains (Debian: ``ruby``, ``cpanminus``); skips naming
the missing one otherwise. The container half is in tests/containers/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from tests.support.fake_upstream import FakeUpstream
from tests.support.offline_registries import check_merged, queue_entry, run_pipeline, serve_for


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    try:
        yield server
    finally:
        server.stop()
    assert server.unexpected == []


@pytest.mark.slow
@pytest.mark.parametrize("ecosystem", ["rubygems", "cpan"])
def test_pipeline_merges_a_recipe_from_our_own_registry_in_local(
    ecosystem: str, upstream: FakeUpstream, tmp_path: Path
) -> None:
    served = serve_for(ecosystem, upstream, tmp_path / "work")
    layout = RegistryLayout.at(tmp_path / "registry")
    queue_entry(layout, served)

    done, seconds = run_pipeline(layout.root, served)

    [line] = check_merged(layout, served, done, "local")
    runtime = "ruby" if ecosystem == "rubygems" else "perl"
    assert [r["name"] for r in line["runtimes"]] == [runtime]  # type: ignore[union-attr]
    # The toolchain read our server: the index, then the artifact (never a public registry).
    artifact = "/gems/tinyhello-" if ecosystem == "rubygems" else "/cpan/authors/id/"
    assert upstream.requests_to("^" + artifact), upstream.log
    print(f"\n{ecosystem} local pipeline: {seconds:.1f}s")
