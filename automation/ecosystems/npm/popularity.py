"""npm popularity: the ``download-counts`` package (monthly downloads of every package).

One JSON object in ``package/counts.json`` of its tarball. The tarball is cached, its
``dist.integrity`` sha512 checked, and the object is read as a stream keeping only the top N.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import heapq
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TypeGuard

from automation.core.atomic import atomic_write_json
from automation.core.http import BadResponse, HttpClient
from automation.core.jsondata import read_json
from automation.core.layout import RegistryLayout
from automation.ecosystems.npm.client import fetch_npm_package
from automation.ecosystems.popularity import PopularityList, rank_counts

DOWNLOAD_COUNTS_PACKAGE = "download-counts"
COUNTS_MEMBER = "package/counts.json"
MAX_TARBALL_BYTES = 256 * 1024 * 1024
READ_CHUNK = 1024 * 1024
# One `"name":count` pair, anchored on the `{` or `,` before it; the lookahead proves the number
# is complete, so a pair cut by a chunk boundary waits for the next chunk.
_PAIR = re.compile(r'\s*[{,]\s*"((?:[^"\\]|\\.)*)"\s*:\s*(\d+)(?=\s*[,}])')
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$")


def iter_count_pairs(
    stream: IO[bytes], *, chunk_size: int = READ_CHUNK
) -> Iterator[tuple[str, int]]:
    """Stream ``"name": count`` pairs out of one big JSON object with bounded memory.

    Raises BadResponse when the text is not a flat object of non-negative integers.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    started = False
    while True:
        raw = stream.read(chunk_size)
        buffer += decoder.decode(raw, final=not raw)
        if not started:
            stripped = buffer.lstrip()
            if not stripped:
                if not raw:
                    raise BadResponse("counts file is empty", url=COUNTS_MEMBER)
                continue
            if not stripped.startswith("{"):
                raise BadResponse("counts file is not a JSON object", url=COUNTS_MEMBER)
            buffer, started = stripped, True
        end = 0
        for match in _PAIR.finditer(buffer):
            if match.start() != end:
                raise BadResponse(
                    f"unexpected text near {buffer[end : end + 40]!r}", url=COUNTS_MEMBER
                )
            end = match.end()
            key = match[1]
            if "\\" in key:
                key = json.loads(f'"{key}"')
            yield key, int(match[2])
        # Keep the unmatched tail; the opening brace is consumed with the first pair.
        buffer = buffer[end:]
        if not raw:
            break
        if len(buffer) > 64 * 1024:
            raise BadResponse("a single entry exceeds 64 KiB", url=COUNTS_MEMBER)
    rest = buffer.strip()
    if rest not in ("}", "{}"):
        raise BadResponse(
            f"counts file does not end as an object: {rest[:40]!r}", url=COUNTS_MEMBER
        )


def top_counts(stream: IO[bytes], top_n: int) -> tuple[list[tuple[str, int]], int]:
    """(the ``top_n`` largest (name, count) pairs, number of pairs seen)."""
    heap: list[tuple[int, str]] = []
    total = 0
    for name, count in iter_count_pairs(stream):
        total += 1
        if len(heap) < top_n:
            heapq.heappush(heap, (count, name))
        elif (count, name) > heap[0]:
            heapq.heapreplace(heap, (count, name))
    return [(name, count) for count, name in heap], total


def read_counts_tarball(path: Path, top_n: int) -> tuple[list[tuple[str, int]], int]:
    """Top-N pairs from ``package/counts.json`` inside the (gzipped) tarball, streaming."""
    with path.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|gz") as archive:
        for member in archive:
            if member.name == COUNTS_MEMBER and member.isfile():
                handle = archive.extractfile(member)
                if handle is None:
                    break
                return top_counts(handle, top_n)
    raise BadResponse(f"{COUNTS_MEMBER} not found in the tarball", url=str(path))


def _sri_sha512(integrity: str) -> bytes:
    for token in integrity.split():
        if token.startswith("sha512-"):
            try:
                return base64.b64decode(token[len("sha512-") :], validate=True)
            except ValueError:
                break
    raise BadResponse(f"no usable sha512 integrity value in {integrity[:80]!r}", url="")


def _file_sha512(path: Path) -> bytes:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(READ_CHUNK), b""):
            digest.update(block)
    return digest.digest()


def load_npm_popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    """The npm ranking from the ``download-counts`` tarball (cached under ``layout.cache_dir``)."""
    package = fetch_npm_package(http, DOWNLOAD_COUNTS_PACKAGE)
    if not package.tarball or not package.integrity or not _VERSION.fullmatch(package.version):
        raise BadResponse("download-counts has no usable tarball/integrity/version", url="")
    expected = _sri_sha512(package.integrity)
    cache = layout.cache_dir / "popularity"
    tarball = cache / f"download-counts-{package.version}.tgz"
    summary_path = cache / f"npm-top-{package.version}.json"
    notes: list[str] = []
    if summary_path.is_file():
        cached = _read_cached_summary(summary_path, package.integrity, top_n)
        if isinstance(cached, str):
            notes.append(cached)  # an unusable cache is rebuilt, never fatal
        elif cached is not None:
            pairs, population = cached
            return _npm_list(package.version, pairs[:top_n], population, ("cached ranking",))
    if tarball.is_file() and _file_sha512(tarball) == expected:
        notes.append("cached tarball")
    else:
        url = http.config.rewrite_public_url(package.tarball)
        digests = http.download(
            http.config.endpoint_for_url(url) or "npm",
            url,
            tarball,
            max_bytes=MAX_TARBALL_BYTES,
            algorithms=("sha512",),
        )
        if digests["sha512"] != expected:
            tarball.unlink(missing_ok=True)
            raise BadResponse("download-counts tarball fails its sha512 integrity", url=url)
        notes.append("tarball downloaded")
    # Read (and cache) up to the next power of two: seeding asks for a slightly deeper ranking
    # each time it widens, and reading the 3.7 million counts takes most of a minute.
    read_n = 1 << max(top_n - 1, 1).bit_length()
    pairs, population = read_counts_tarball(tarball, read_n)
    ordered = sorted(pairs, key=lambda p: (-p[1], p[0]))
    atomic_write_json(
        summary_path,
        {
            "version": package.version,
            "integrity": package.integrity,
            "top_n": read_n,
            "population": population,
            "pairs": [[n, c] for n, c in ordered],
        },
        pretty=False,
    )
    return _npm_list(package.version, ordered[:top_n], population, tuple(notes))


def _read_cached_summary(
    path: Path, integrity: str, top_n: int
) -> tuple[list[tuple[str, int]], int] | str | None:
    """The cached ``(pairs, population)``; None when it does not cover this request; a note
    saying why when the file is unusable (read within the data bounds, shape checked)."""
    summary, problem = read_json(path, str(path))
    if problem is not None:
        place = f"{problem.path}:{problem.where}" if problem.where else problem.path
        return f"cached ranking {place}: {problem.message}; ignored"
    if not isinstance(summary, dict):
        return f"cached ranking {path}: not a JSON object; ignored"
    top, population, raw_pairs = (
        summary.get("top_n"),
        summary.get("population"),
        summary.get("pairs"),
    )
    if not (_is_count(top) and _is_count(population) and isinstance(raw_pairs, list)):
        return f"cached ranking {path}: needs integers top_n, population and a pairs list; ignored"
    if top < top_n or summary.get("integrity") != integrity:
        return None
    pairs: list[tuple[str, int]] = []
    for index, pair in enumerate(raw_pairs):
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and _is_count(pair[1])
        ):
            return f"cached ranking {path}: pairs[{index}] is not [name, count]; ignored"
        pairs.append((pair[0], pair[1]))
    return pairs, population


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _npm_list(
    version: str, pairs: list[tuple[str, int]], population: int, notes: tuple[str, ...]
) -> PopularityList:
    # Versions are 2.YYYYMMDD.N, published for the month before YYYYMMDD.
    stamp = version.split(".")[1] if version.count(".") >= 2 else ""
    as_of = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if re.fullmatch(r"\d{8}", stamp) else None
    return PopularityList(
        ecosystem="npm",
        period="month",
        source=f"npm:{DOWNLOAD_COUNTS_PACKAGE}@{version}",
        as_of=as_of,
        population=population,
        entries=rank_counts(pairs, population),
        notes=notes,
    )
