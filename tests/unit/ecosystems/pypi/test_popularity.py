"""PyPI popularity: the ranking falls back to the shipped copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.support.seeding_upstream import start_seeding_upstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = start_seeding_upstream()
    yield server
    server.stop()
    assert server.unexpected == []


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    (tmp_path / "recipes").mkdir()
    return RegistryLayout.at(tmp_path)


def test_pypi_ranking_falls_back_to_the_shipped_copy(
    layout: RegistryLayout, upstream: FakeUpstream
) -> None:
    from automation.ecosystems.pypi.popularity import load_pypi_popularity

    upstream.sequence("/top.json", [Reply(503)])
    endpoints = MappingProxyType(dict(public_endpoints(), pypi=upstream.base))
    config = Config(endpoints=endpoints).with_settings(
        "popularity", pypi_top_url=upstream.base + "/top.json"
    )
    with HttpClient(config, env={}) as client:
        ranked = load_pypi_popularity(client)
    assert len(upstream.requests_to("/top.json")) == 1  # one quick try, no retries
    assert ranked.source.startswith("shipped copy") and "upstream_error" in ranked.notes[-1]
    assert len(ranked.entries) == 15_000 and ranked.population == 788_142
    assert ranked.entries[0].identifier == "boto3" and ranked.entries[0].percentile == 100.0
