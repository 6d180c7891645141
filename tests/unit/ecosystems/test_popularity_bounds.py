"""Popularity files the kit reads are held to the data bounds: the shipped PyPI ranking (a
DataError naming it) and the cached npm ranking (ignored with a note and rebuilt)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.errors import DataError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems.npm.popularity import load_npm_popularity
from automation.ecosystems.pypi import popularity as pypi_popularity
from tests.support.fake_upstream import FIXTURES, FakeUpstream
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

VERSION = "2.20260301.0"
COUNTS = {"left-pad": 30, "lodash": 900, "typescript": 500}
HUGE_ROWS = json.dumps({"rows": [{"project": "boto3", "download_count": HUGE}]})


@pytest.mark.parametrize(
    ("text", "message"),
    [(deep_nested(), DEEP_MESSAGE), (HUGE_ROWS, HUGE_MESSAGE)],
    ids=["deep-nested", "huge-int"],
)
def test_shipped_pypi_ranking_out_of_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    shipped = tmp_path / "pypi-top-packages-30-days.min.json"
    shipped.write_text(text)
    monkeypatch.setattr(pypi_popularity, "SHIPPED_PYPI_TOP", shipped)
    config = Config(endpoints=MappingProxyType(public_endpoints()))
    with HttpClient(config, env={}) as http, pytest.raises(DataError) as caught:
        pypi_popularity.load_pypi_popularity(http, refresh=False)
    assert caught.value.path == str(shipped) and message in str(caught.value)


def _counts_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (
            ("package/package.json", b'{"name": "download-counts"}'),
            ("package/counts.json", json.dumps(COUNTS).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def npm_http(upstream: FakeUpstream) -> Iterator[tuple[HttpClient, str]]:
    tarball = _counts_tarball()
    document = json.loads((FIXTURES / "npm" / "download-counts.json").read_text())
    latest = document["versions"][document["dist-tags"]["latest"]]
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    latest["dist"]["integrity"] = integrity
    upstream.json("/download-counts", document)
    upstream.blob(f"/download-counts/-/download-counts-{VERSION}.tgz", tarball)
    endpoints = dict(public_endpoints(), npm=upstream.base)
    config = Config(endpoints=MappingProxyType(endpoints), retries=1, backoff_factor=0.01)
    with HttpClient(config, env={}) as client:
        yield client, integrity


@pytest.mark.parametrize("kind", ["deep-nested", "huge-int"])
def test_an_out_of_bounds_npm_cache_is_rebuilt_with_a_note(
    tmp_path: Path, npm_http: tuple[HttpClient, str], kind: str
) -> None:
    http, integrity = npm_http
    layout = RegistryLayout.at(tmp_path)
    summary = layout.cache_dir / "popularity" / f"npm-top-{VERSION}.json"
    summary.parent.mkdir(parents=True)
    if kind == "deep-nested":
        summary.write_text(deep_nested())
    else:  # a cache that would otherwise be used as is: same integrity, enough entries
        cached = {"version": VERSION, "integrity": integrity, "top_n": 10, "population": HUGE}
        summary.write_text(json.dumps({**cached, "pairs": [["lodash", HUGE]]}))
    ranking = load_npm_popularity(http, layout, 10)
    assert [r.identifier for r in ranking.entries] == ["lodash", "typescript", "left-pad"]
    assert ranking.population == len(COUNTS)
    note = ranking.notes[0]
    assert note.startswith(f"cached ranking {summary}") and note.endswith("ignored")
    assert (DEEP_MESSAGE if kind == "deep-nested" else HUGE_MESSAGE) in note
    # The rebuilt cache replaced the bad one and answers the next call.
    assert load_npm_popularity(http, layout, 10).notes == ("cached ranking",)
