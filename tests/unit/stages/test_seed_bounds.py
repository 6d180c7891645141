"""Seed's inputs (``data/tier1.json`` and the registry's ``data/queues/popularity.json``) are
read within the data bounds: an out-of-bounds file stops seed with a DataError naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.errors import DataError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems.popularity import PopularityList
from automation.stages.seed import TIER1_FILE, load_tier1, popularity_path, seed
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def _huge_tier1() -> str:
    document = json.loads(TIER1_FILE.read_text())
    document["entries"][0]["rank"] = HUGE
    return json.dumps(document)


@pytest.mark.parametrize(
    ("make", "message"),
    [(deep_nested, DEEP_MESSAGE), (_huge_tier1, HUGE_MESSAGE)],
    ids=["deep-nested", "huge-int"],
)
def test_tier1_out_of_bounds(tmp_path: Path, make: Callable[[], str], message: str) -> None:
    path = tmp_path / "tier1.json"
    path.write_text(make())
    with pytest.raises(DataError) as caught:
        load_tier1(path)
    assert caught.value.path == str(path) and message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (deep_nested(), (DEEP_MESSAGE,)),
        (
            json.dumps({"schema_version": 1, "entries": {"ripgrep": {"downloads": HUGE}}}),
            ("entries.ripgrep.downloads", HUGE_MESSAGE),
        ),
    ],
    ids=["deep-nested", "huge-int"],
)
def test_seed_stops_on_an_out_of_bounds_popularity_file(
    tmp_path: Path, text: str, fragments: tuple[str, ...]
) -> None:
    layout = RegistryLayout.at(tmp_path)
    (tmp_path / "recipes").mkdir()
    path = popularity_path(layout)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    ranking = PopularityList("npm", "30 days", "test ranking", "2026-04-01", 1000, ())
    config = Config(endpoints=MappingProxyType(public_endpoints()))
    with HttpClient(config, env={}) as http, pytest.raises(DataError) as caught:
        seed(layout, "npm", 1, http, NOW, popularity=ranking, tier1=frozenset(), progress=False)
    assert caught.value.path == str(path)
    assert all(fragment in str(caught.value) for fragment in fragments)
    assert http.requests_made == 0  # stopped before asking any registry
