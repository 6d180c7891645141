"""RubyGems: ``GET /api/v1/gems/<gem>.json`` and the ``.gem`` file's gemspec ``executables``.

The JSON document does not list executables. They are in the gem itself: a ``.gem`` is a plain
tar holding ``metadata.gz`` (the gzipped YAML gemspec), ``data.tar.gz`` and
``checksums.yaml.gz``. The gem is downloaded whole (capped), its sha256 checked against the
document's ``sha``, and ``metadata.gz`` read in memory; nothing is ever extracted to disk. Only
the ``executables:`` list of the gemspec is read, by a small line parser (no YAML library).

Popularity: ``GET /api/v1/downloads/top.json`` (``{"gems": [[<version>, <count>], ...]}``) is
the only ranking the API has served. It is historic: rubygems.org has since removed it, so a live
run gets NotFound and seeding RubyGems needs a mirror or a saved copy that still serves it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient
from automation.ecosystems.pypi.client import https_url

ENDPOINT = "rubygems"
# RubyGems' own rule for gem names (Gem::Specification#validate_name plus the site's limits).
GEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
GEM_VERSION = re.compile(r"^[0-9][0-9A-Za-z.]{0,63}$")
GEM_PLATFORM = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
EXECUTABLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
MAX_GEM_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 4 * 1024 * 1024
MAX_EXECUTABLES = 200
TOP_PATH = "/api/v1/downloads/top.json"


def check_gem_name(name: object) -> str:
    """Return ``name`` if it is a valid gem name, else raise UnsafeNameError."""
    if not isinstance(name, str) or not GEM_NAME.fullmatch(name) or ".." in name:
        raise UnsafeNameError(f"invalid gem name {name!r}")
    return name


def gem_path(name: str) -> str:
    return f"/api/v1/gems/{quote(check_gem_name(name), safe='')}.json"


def gem_file_name(name: str, version: str, platform: str) -> str:
    """``<gem>-<version>.gem``, with ``-<platform>`` for platform gems."""
    suffix = "" if platform in ("", "ruby") else f"-{platform}"
    return f"{check_gem_name(name)}-{version}{suffix}.gem"


def download_path(name: str, version: str, platform: str) -> str:
    return f"/downloads/{quote(gem_file_name(name, version, platform), safe='')}"


@dataclass(frozen=True, slots=True)
class GemInfo:
    """What ``/api/v1/gems/<gem>.json`` says."""

    name: str
    version: str
    platform: str
    info: str
    homepage: str | None  # homepage_uri if https, else source_code_uri if https
    sha256: str | None
    created_at: str | None  # version_created_at
    downloads: int | None = None  # ``downloads``: all-time downloads of every version


@dataclass(frozen=True, slots=True)
class Gem:
    info: GemInfo
    executables: tuple[str, ...]
    ignored: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> str:
        return self.info.version


def _count(value: object) -> int | None:
    """A download count as the document gives it: a non-negative integer, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def parse_gem_document(document: Any, *, url: str) -> GemInfo:
    """Parse ``/api/v1/gems/<gem>.json`` (modern and 2011 schemas)."""
    if not isinstance(document, dict):
        raise BadResponse("RubyGems document is not an object", url=url)
    name = check_gem_name(document.get("name"))
    version = document.get("version")
    if not isinstance(version, str) or not GEM_VERSION.fullmatch(version):
        raise BadResponse(f"RubyGems document has no usable version: {version!r}"[:200], url=url)
    platform = document.get("platform")
    platform = platform if isinstance(platform, str) and platform else "ruby"
    if not GEM_PLATFORM.fullmatch(platform) or ".." in platform:
        raise BadResponse(f"unusable platform {platform!r}"[:200], url=url)
    sha = document.get("sha")
    info = document.get("info")
    created = document.get("version_created_at")
    homepage = https_url(document.get("homepage_uri")) or https_url(document.get("source_code_uri"))
    return GemInfo(
        name=name,
        version=version,
        platform=platform,
        info=info.strip() if isinstance(info, str) else "",
        homepage=homepage,
        sha256=sha.lower()
        if isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha)
        else None,
        created_at=created if isinstance(created, str) else None,
        downloads=_count(document.get("downloads")),
    )


# ---------------------------------------------------------------- gemspec YAML: executables only


def _scalar(text: str) -> str:
    """A plain or quoted YAML scalar (enough for file names)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner.replace('\\"', '"')
    return text


def parse_executables(yaml_text: str) -> tuple[str, ...]:
    """The ``executables:`` list of a gemspec YAML (order as written).

    Handles ``executables: []``, a flow list ``executables: [a, b]`` and a block list of
    ``- name`` lines (at column 0, as RubyGems writes it, or indented). Anything else ends the
    list; a missing key is an empty list.
    """
    lines = yaml_text.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("executables:"):
            continue
        rest = line[len("executables:") :].split(" #", 1)[0].strip()
        if rest.startswith("["):
            if not rest.endswith("]"):
                return ()  # a flow list spanning lines: not something RubyGems writes
            body = rest[1:-1].strip()
            return tuple(_scalar(p) for p in body.split(",") if p.strip()) if body else ()
        if rest:
            return ()  # a scalar or an alias: not a list of names
        names: list[str] = []
        for item in lines[index + 1 :]:
            stripped = item.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not stripped.startswith("- "):
                break  # the next key (or anything that is not a list item) ends the list
            names.append(_scalar(stripped[2:].split(" #", 1)[0]))
        return tuple(names)
    return ()


def read_metadata(gem_bytes: bytes, *, url: str) -> str:
    """The gemspec YAML from ``metadata.gz`` inside the (uncompressed tar) ``.gem``, in memory."""
    try:
        with tarfile.open(fileobj=io.BytesIO(gem_bytes), mode="r:") as archive:
            for member in archive:
                if member.name != "metadata.gz":
                    continue  # names are compared, never used as paths
                if not member.isfile():
                    raise BadResponse("metadata.gz in the gem is not a regular file", url=url)
                if member.size > MAX_METADATA_BYTES:
                    raise BadResponse("metadata.gz is implausibly large", url=url)
                handle = archive.extractfile(member)
                if handle is None:
                    break
                compressed = handle.read(MAX_METADATA_BYTES + 1)
                return _gunzip(compressed, url).decode("utf-8", "replace")
    except tarfile.TarError as exc:
        raise BadResponse(f"not a gem (tar) file: {exc}", url=url) from None
    raise BadResponse("the gem has no metadata.gz", url=url)


def _gunzip(data: bytes, url: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            out = handle.read(MAX_METADATA_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadResponse(f"cannot decompress metadata.gz: {exc}", url=url) from None
    if len(out) > MAX_METADATA_BYTES:
        raise BadResponse("gemspec metadata is implausibly large", url=url)
    return out


def executables_from_gem(gem_bytes: bytes, *, url: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(safe executable names sorted, rejected names) from a ``.gem``'s bytes."""
    names = parse_executables(read_metadata(gem_bytes, url=url))
    if len(names) > MAX_EXECUTABLES:
        raise BadResponse(f"the gem declares {len(names)} executables", url=url)
    good = sorted({n for n in names if EXECUTABLE_NAME.fullmatch(n) and ".." not in n})
    bad = sorted({repr(n)[:100] for n in names if n not in good})
    return tuple(good), tuple(bad)


def fetch_gem_info(http: HttpClient, name: str) -> GemInfo:
    path = gem_path(name)
    return parse_gem_document(http.get_json(ENDPOINT, path), url=http.url(ENDPOINT, path))


def fetch_gem(http: HttpClient, name: str) -> Gem:
    """The gem document and the executables of its current version (2 requests)."""
    info = fetch_gem_info(http, name)
    path = download_path(info.name, info.version, info.platform)
    url = http.url(ENDPOINT, path)
    body = http.get_bytes(ENDPOINT, path, max_bytes=MAX_GEM_BYTES)
    if info.sha256 is not None and hashlib.sha256(body).hexdigest() != info.sha256:
        raise BadResponse("gem sha256 does not match the registry's sha", url=url)
    good, bad = executables_from_gem(body, url=url)
    return Gem(info, good, bad)


# ---------------------------------------------------------------- popularity


def top_gem_name(version: Any) -> str | None:
    """The gem name of a ``downloads/top.json`` version object (``full_name`` minus the
    version and platform suffix); None when the object does not add up."""
    if not isinstance(version, dict):
        return None
    full, number = version.get("full_name"), version.get("number")
    platform = version.get("platform") or "ruby"
    if not isinstance(full, str) or not isinstance(number, str) or not isinstance(platform, str):
        return None
    suffix = f"-{number}" + ("" if platform == "ruby" else f"-{platform}")
    if not full.endswith(suffix) or len(full) == len(suffix):
        return None
    name = full[: -len(suffix)]
    return name if GEM_NAME.fullmatch(name) and ".." not in name else None


def parse_downloads_top(document: Any, *, url: str) -> tuple[list[tuple[str, int]], int]:
    """((gem, count) pairs, rows skipped) from ``/api/v1/downloads/top.json``."""
    if not isinstance(document, dict) or not isinstance(document.get("gems"), list):
        raise BadResponse("downloads/top document has no gems[]", url=url)
    counts: dict[str, int] = {}
    skipped = 0
    for row in document["gems"]:
        if not isinstance(row, list) or len(row) != 2:
            skipped += 1
            continue
        name, count = top_gem_name(row[0]), row[1]
        if name is None or not isinstance(count, int) or isinstance(count, bool) or count < 0:
            skipped += 1
            continue
        counts[name] = counts.get(name, 0) + count  # platform variants of one gem add up
    return sorted(counts.items()), skipped
