"""npm popularity: download counts streamed from a tarball, checked for integrity."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from automation.core.http import BadResponse, HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems.npm.popularity import (
    iter_count_pairs,
    load_npm_popularity,
    top_counts,
)
from tests.support.fake_upstream import FIXTURES, FakeUpstream

NPM = FIXTURES / "npm"


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((NPM / f"{name}.json").read_text())
    return result


def counts_excerpt() -> dict[str, int]:
    """Real entries of download-counts@2.20260301.0 (first/last 40 plus a few well-known)."""
    result: dict[str, int] = json.loads((NPM / "counts-excerpt.json").read_text())
    return result


def test_count_pairs_across_chunk_boundaries() -> None:
    counts = counts_excerpt()
    text = json.dumps(counts, separators=(",", ":")).encode()
    for chunk in (1, 3, 7, 64, 4096):
        pairs = list(iter_count_pairs(io.BytesIO(text), chunk_size=chunk))
        assert dict(pairs) == counts
    odd = {'a"b': 1, "ü-name": 2, "@(-.-)/x": 30}  # escapes, non-ASCII, odd real-world names
    spaced = json.dumps(odd, indent=2, ensure_ascii=False).encode()
    assert dict(iter_count_pairs(io.BytesIO(spaced), chunk_size=5)) == odd
    assert list(iter_count_pairs(io.BytesIO(b"{}"))) == []


@pytest.mark.parametrize(
    "text", [b"", b"[1,2]", b'{"a":1,"b":"x"}', b'{"a":1,"b":-2}', b'{"a":1', b'{"a":1}junk']
)
def test_count_pairs_reject_malformed(text: bytes) -> None:
    with pytest.raises(BadResponse):
        list(iter_count_pairs(io.BytesIO(text), chunk_size=4))


def test_top_counts_keeps_only_n() -> None:
    counts = counts_excerpt()
    text = json.dumps(counts).encode()
    top, total = top_counts(io.BytesIO(text), 5)
    assert total == len(counts)
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert sorted(top, key=lambda kv: (-kv[1], kv[0])) == expected


def _counts_tarball(counts: dict[str, int]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (
            ("package/package.json", b'{"name": "download-counts"}'),
            ("package/counts.json", json.dumps(counts, separators=(",", ":")).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def serve_download_counts(
    upstream: FakeUpstream, tarball: bytes, *, integrity: bytes | None = None
) -> None:
    document = copy.deepcopy(doc("download-counts"))
    latest = document["versions"][document["dist-tags"]["latest"]]
    digest = integrity if integrity is not None else hashlib.sha512(tarball).digest()
    latest["dist"]["integrity"] = "sha512-" + base64.b64encode(digest).decode()
    upstream.json("/download-counts", document)
    upstream.blob("/download-counts/-/download-counts-2.20260301.0.tgz", tarball)


def test_npm_popularity_from_tarball(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    counts = counts_excerpt()
    serve_download_counts(upstream, _counts_tarball(counts))
    layout = RegistryLayout.at(tmp_path)
    ranking = load_npm_popularity(http, layout, 10)
    assert ranking.population == len(counts) and len(ranking.entries) == 10
    assert ranking.entries[0].identifier == max(counts, key=lambda k: counts[k])
    assert ranking.entries[0].rank == 1 and ranking.entries[0].percentile == 100.0
    assert ranking.as_of == "2026-03-01" and ranking.period == "month"
    assert (layout.cache_dir / "popularity" / "download-counts-2.20260301.0.tgz").is_file()
    # Second call: the cached ranking, no tarball download.
    before = len(upstream.requests_to(r"\.tgz$"))
    again = load_npm_popularity(http, layout, 5)
    assert [r.identifier for r in again.entries] == [r.identifier for r in ranking.entries[:5]]
    assert len(upstream.requests_to(r"\.tgz$")) == before
    # A slightly deeper ranking (seeding widens a little each round) is still the cached one:
    # the first read kept the top 16 (the next power of two), not re-read from the tarball.
    deeper = load_npm_popularity(http, layout, 14)
    assert deeper.notes == ("cached ranking",)
    assert [r.identifier for r in deeper.entries[:10]] == [r.identifier for r in ranking.entries]
    assert len(deeper.entries) == min(14, len(counts))


def test_npm_popularity_checks_integrity(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    serve_download_counts(upstream, _counts_tarball({"a": 1}), integrity=b"\0" * 64)
    with pytest.raises(BadResponse, match="integrity"):
        load_npm_popularity(http, RegistryLayout.at(tmp_path), 10)
    assert not list((tmp_path / ".cache").rglob("*.tgz"))
