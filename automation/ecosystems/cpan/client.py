"""MetaCPAN: the latest release of a distribution and the scripts it installs.

``GET /v1/release/<Dist>`` (``App::Ack`` -> ``App-Ack``) is the latest release document:
``name`` (``<Dist>-<version>``), ``version``, ``author``, ``abstract``, ``resources``, ``date``,
``metadata`` (the META file). Neither it nor META lists executables (the CPAN::Meta spec has no
such field), so scripts come from MetaCPAN's ``file`` index: the release's files directly under
``bin/`` or ``script/`` (where Dist::Zilla's ExecDir, Module::Build's ``script_files`` and
Module::Install's ``install_script`` take them from, and what MakeMaker's EXE_FILES lists by
convention). The query is one GET:

    /v1/file/_search?q=release:"<name>" AND author:<AUTHOR> AND (path:bin\\/* OR path:script\\/*)
                    &fields=path,directory&size=200

and its hits are filtered again here (regular files directly in those directories, safe names).
A ``<name>.PL`` file is a generator whose output ``<name>`` is what gets installed; ``.bat``,
``.cmd`` and ``.pod`` files are not commands on a Unix system. The heuristic can miss a script
that a Makefile.PL installs from elsewhere: validation (install + verify) is the check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient
from automation.ecosystems.pypi.client import https_url

ENDPOINT = "metacpan"
DIST_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*$")
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
AUTHOR = re.compile(r"^[A-Z][A-Z0-9-]{0,63}$")
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
SCRIPT_DIRS = ("bin", "script")
SEARCH_SIZE = 200
_NOT_COMMANDS = (".bat", ".cmd", ".pod")


def distribution_name(identifier: object) -> str:
    """``App::Ack`` or ``App-Ack`` -> ``App-Ack``; UnsafeNameError for anything else."""
    if not isinstance(identifier, str) or len(identifier) > 128:
        raise UnsafeNameError(f"invalid CPAN distribution {identifier!r}"[:200])
    dist = identifier.replace("::", "-")
    if not DIST_NAME.fullmatch(dist):
        raise UnsafeNameError(f"invalid CPAN distribution {identifier!r}"[:200])
    return dist


def release_path(identifier: str) -> str:
    return f"/v1/release/{quote(distribution_name(identifier), safe='')}"


def scripts_search_path(release: str, author: str) -> str:
    """The file-index query for the release's ``bin/`` and ``script/`` files."""
    if not RELEASE_NAME.fullmatch(release) or not AUTHOR.fullmatch(author):
        raise UnsafeNameError(f"unusable release {release!r} by {author!r}"[:200])
    dirs = " OR ".join(f"path:{d}\\/*" for d in SCRIPT_DIRS)
    query = f'release:"{release}" AND author:{author} AND ({dirs})'
    params = urlencode({"q": query, "fields": "path,directory", "size": SEARCH_SIZE})
    return f"/v1/file/_search?{params}"


@dataclass(frozen=True, slots=True)
class Release:
    distribution: str
    name: str  # release name, e.g. "ack-v3.7.0"
    version: str
    author: str
    abstract: str
    homepage: str | None  # resources.homepage if https, else resources.repository.web if https
    date: str | None


def _version_text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def parse_release(document: Any, *, url: str) -> Release:
    """Parse ``/v1/release/<Dist>``."""
    if not isinstance(document, dict):
        raise BadResponse("MetaCPAN release document is not an object", url=url)
    dist = document.get("distribution")
    name, author = document.get("name"), document.get("author")
    version = _version_text(document.get("version"))
    if not isinstance(dist, str) or not DIST_NAME.fullmatch(dist):
        raise BadResponse(f"unusable distribution {dist!r}"[:200], url=url)
    if not isinstance(name, str) or not RELEASE_NAME.fullmatch(name):
        raise BadResponse(f"unusable release name {name!r}"[:200], url=url)
    if not isinstance(author, str) or not AUTHOR.fullmatch(author):
        raise BadResponse(f"unusable author {author!r}"[:200], url=url)
    if version is None or len(version) > 64:
        raise BadResponse("release has no version", url=url)
    resources = document.get("resources") if isinstance(document.get("resources"), dict) else {}
    assert isinstance(resources, dict)
    repository = resources.get("repository")
    web = repository.get("web") if isinstance(repository, dict) else None
    abstract = document.get("abstract")
    date = document.get("date")
    return Release(
        distribution=dist,
        name=name,
        version=version,
        author=author,
        abstract=abstract.strip() if isinstance(abstract, str) else "",
        homepage=https_url(resources.get("homepage")) or https_url(web),
        date=date if isinstance(date, str) else None,
    )


def _field(hit: dict[str, Any], key: str) -> Any:
    """A hit's field from ``fields`` (scalar or one-element list) or ``_source``."""
    for container in (hit.get("fields"), hit.get("_source")):
        if isinstance(container, dict) and key in container:
            value = container[key]
            if isinstance(value, list):
                return value[0] if len(value) == 1 else None
            return value
    return None


def parse_scripts(document: Any, *, url: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(installed script names sorted, rejected paths) from a file ``_search`` response."""
    if not isinstance(document, dict) or not isinstance(document.get("hits"), dict):
        raise BadResponse("MetaCPAN search response has no hits", url=url)
    hits = document["hits"].get("hits")
    if not isinstance(hits, list):
        raise BadResponse("MetaCPAN search response has no hits.hits[]", url=url)
    names: set[str] = set()
    rejected: set[str] = set()
    for hit in hits[: SEARCH_SIZE * 2]:
        if not isinstance(hit, dict):
            continue
        path = _field(hit, "path")
        if not isinstance(path, str) or _field(hit, "directory") in (True, 1, "1", "true"):
            continue
        directory, _, base = path.partition("/")
        if directory not in SCRIPT_DIRS or not base:
            continue  # the query matched more than asked: ignore
        if "/" in base or not SCRIPT_NAME.fullmatch(base) or ".." in base:
            rejected.add(repr(path)[:100])
            continue
        if base.lower().endswith(_NOT_COMMANDS):
            continue
        if base.endswith(".PL"):
            base = base[: -len(".PL")]
            if not base or not SCRIPT_NAME.fullmatch(base):
                continue
        names.add(base)
    return tuple(sorted(names)), tuple(sorted(rejected))


@dataclass(frozen=True, slots=True)
class CpanDistribution:
    release: Release
    executables: tuple[str, ...]
    ignored: tuple[str, ...] = ()


def fetch_distribution(http: HttpClient, identifier: str) -> CpanDistribution:
    """The latest release of ``identifier`` and its scripts (2 requests)."""
    path = release_path(identifier)
    release = parse_release(http.get_json(ENDPOINT, path), url=http.url(ENDPOINT, path))
    search = scripts_search_path(release.name, release.author)
    names, rejected = parse_scripts(http.get_json(ENDPOINT, search), url=http.url(ENDPOINT, search))
    return CpanDistribution(release, names, rejected)
