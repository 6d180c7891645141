"""npm: package metadata and executables (``bin``) from the registry's packument.

The full document has description, homepage, repository and ``time``; npm's abbreviated
install document (``Accept: application/vnd.npm.install-v1+json``) has ``bin`` and ``dist``
but no description/homepage/repository/``time``, so it serves only callers that need
executables (seeding). Both shapes parse with the same function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient
from automation.core.jsonsplit import split_object
from automation.core.timefmt import parse_timestamp
from automation.ecosystems.npm.engines import engines_node

ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
# npm rules: URL-safe name (legacy ones may have capitals), optional @scope/, <= 214 characters.
PACKAGE_NAME = re.compile(r"^(@[a-z0-9][a-z0-9._~-]*/)?[A-Za-z0-9][A-Za-z0-9._~-]*$")
BIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
MAX_BINS = 200


def check_package_name(name: str) -> str:
    """Return ``name`` if it is a valid npm package name, else raise UnsafeNameError."""
    if not isinstance(name, str) or len(name) > 214 or not PACKAGE_NAME.fullmatch(name):
        raise UnsafeNameError(f"invalid npm package name {name!r}")
    return name


def package_path(name: str) -> str:
    """Registry path of the packument; a scoped name is encoded as ``@scope%2Fname``."""
    check_package_name(name)
    if name.startswith("@"):
        scope, base = name.split("/", 1)
        return f"/{quote(scope, safe='@')}%2F{quote(base, safe='')}"
    return f"/{quote(name, safe='')}"


def unscoped(name: str) -> str:
    return name.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class NpmPackage:
    """An npm package as the kit uses it (latest dist-tag)."""

    name: str
    version: str
    description: str
    homepage: str | None
    repository: str | None
    bin: tuple[str, ...]  # executable names, sorted
    created: str | None  # time.created (absent in abbreviated documents and some mirrors)
    published: str | None  # time[latest]
    version_count: int
    tarball: str | None
    integrity: str | None
    ignored_bins: tuple[str, ...] = ()
    engines_node: str | None = None  # the latest version's ``engines.node`` (a semver range)
    # The first release (age and typosquat gates): ``time.created``; a document without it
    # (some mirrors) gives the earliest per-version stamp of ``time`` instead (a mirror that
    # restamped versions makes a package look younger, never older). None without ``time``.
    first_release: str | None = None

    @property
    def is_cli(self) -> bool:
        return bool(self.bin)


def clean_repository_url(repository: object) -> str | None:
    """An https browse URL from npm's ``repository`` field, or None.

    ``git+https://github.com/o/r.git`` -> ``https://github.com/o/r``; ``git://`` and ``git@host:``
    forms become https; ``github:o/r`` and bare ``o/r`` shorthands mean GitHub.
    """
    url = repository.get("url") if isinstance(repository, dict) else repository
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    shorthand = re.fullmatch(r"(?:(github|gitlab|bitbucket):)?([\w.-]+)/([\w.-]+)", url)
    if shorthand:
        host = {"gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}.get(
            shorthand[1] or "", "github.com"
        )
        url = f"https://{host}/{shorthand[2]}/{shorthand[3]}"
    url = re.sub(r"^git\+", "", url)
    scp = re.fullmatch(r"(?:ssh://)?git@([^:/]+)[:/](.+)", url)
    if scp:
        url = f"https://{scp[1]}/{scp[2]}"
    url = re.sub(r"^(git|ssh|http)://", "https://", url)
    url = re.sub(r"\.git$", "", url.split("#", 1)[0]).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return None
    if any(c.isspace() for c in url):
        return None
    return url


def _https(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme == "http" and parts.hostname:
        value = "https://" + value[len("http://") :]
        parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        return None
    return value


def bin_names(package: str, bin_field: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(executables sorted, ignored names): a string ``bin`` is the unscoped package name."""
    if isinstance(bin_field, str):
        names = [unscoped(package)] if bin_field.strip() else []
    elif isinstance(bin_field, Mapping):
        # npm itself strips a scope from bin keys ("@scope/x" installs as "x").
        names = [unscoped(str(k)) for k, v in bin_field.items() if isinstance(v, str) and v]
    else:
        names = []
    good = sorted({n for n in names if BIN_NAME.fullmatch(n)})
    bad = sorted({n for n in names if not BIN_NAME.fullmatch(n)})
    return tuple(good[:MAX_BINS]), tuple(bad)


def first_published(times: Mapping[str, Any]) -> str | None:
    """When the package was first published, from a packument's ``time`` object.

    ``created`` when it is there; else the earliest stamp of a version (every key but
    ``created``, ``modified`` and ``unpublished``), compared as instants.
    """
    created = times.get("created")
    if isinstance(created, str):
        return created
    earliest: tuple[datetime, str] | None = None
    for key, stamp in times.items():
        if key in ("created", "modified", "unpublished") or not isinstance(stamp, str):
            continue
        try:
            when = parse_timestamp(stamp)
        except ValueError:
            continue
        if earliest is None or when < earliest[0]:
            earliest = (when, stamp)
    return earliest[1] if earliest else None


def parse_packument(document: Any, *, url: str = "") -> NpmPackage:
    """Parse a full or abbreviated packument; fields of the latest version win over top level."""
    if not isinstance(document, dict):
        raise BadResponse("npm document is not an object", url=url)
    name = document.get("name")
    if not isinstance(name, str):
        raise BadResponse("npm document has no name", url=url)
    check_package_name(name)
    tags = document.get("dist-tags")
    latest = tags.get("latest") if isinstance(tags, dict) else None
    versions = document.get("versions")
    if not isinstance(latest, str) or not isinstance(versions, dict):
        raise BadResponse(f"npm package {name} has no latest version", url=url)
    manifest = versions.get(latest)
    if not isinstance(manifest, dict):
        raise BadResponse(f"npm package {name}: versions[{latest!r}] is missing", url=url)
    times = document.get("time") if isinstance(document.get("time"), dict) else {}
    assert isinstance(times, dict)
    dist = manifest.get("dist") if isinstance(manifest.get("dist"), dict) else {}
    assert isinstance(dist, dict)
    description = manifest.get("description", document.get("description"))
    repository = clean_repository_url(manifest.get("repository", document.get("repository")))
    homepage = _https(manifest.get("homepage", document.get("homepage"))) or repository
    bins, ignored = bin_names(name, manifest.get("bin"))
    created, published = times.get("created"), times.get(latest)
    return NpmPackage(
        name=name,
        version=latest,
        description=description.strip() if isinstance(description, str) else "",
        homepage=homepage,
        repository=repository,
        bin=bins,
        created=created if isinstance(created, str) else None,
        published=published if isinstance(published, str) else None,
        version_count=len(versions),
        tarball=dist.get("tarball") if isinstance(dist.get("tarball"), str) else None,
        integrity=dist.get("integrity") if isinstance(dist.get("integrity"), str) else None,
        ignored_bins=ignored,
        engines_node=engines_node(manifest),
        first_release=first_published(times),
    )


# The top-level members parse_packument reads; decode_packument decodes no others.
PACKUMENT_KEYS = ("name", "dist-tags", "versions", "time", "description", "homepage", "repository")


def decode_packument(body: bytes) -> Any:
    """``json.loads(body)`` as far as ``parse_packument`` can tell, in a fraction of the time.

    Only the members ``parse_packument`` reads are decoded, and of ``versions`` only the
    ``latest`` manifest: every other version maps to None (the count stays). A body the fast
    path cannot vouch for is decoded whole by ``json.loads``, errors included.
    """
    keys = tuple(key for key in PACKUMENT_KEYS if key != "versions")
    members = split_object(body, keys, nested="versions")
    if members is None:
        return json.loads(body)
    document: dict[str, Any] = {key: json.loads(bytes(raw)) for key, raw in members.raw.items()}
    if members.nested is not None:
        tags = document.get("dist-tags")
        latest = tags.get("latest") if isinstance(tags, dict) else None
        document["versions"] = {
            key: json.loads(bytes(raw)) if key == latest else None
            for key, raw in members.nested.items()
        }
    return document


@dataclass(frozen=True, slots=True)
class NpmLatest:
    """The ``latest`` version's own document (``/<name>/latest``): small, with every field of
    the manifest (``keywords``, ``preferGlobal``, ``main``), which the abbreviated packument
    drops."""

    name: str
    version: str
    bin: tuple[str, ...]
    manifest: Mapping[str, Any]


def parse_latest_manifest(document: Any, name: str, *, url: str = "") -> NpmLatest:
    """Parse ``/<name>/latest``; ``name`` is the package asked for (the document must agree)."""
    if not isinstance(document, dict):
        raise BadResponse("npm version document is not an object", url=url)
    found, version = document.get("name"), document.get("version")
    if not isinstance(found, str) or found.lower() != name.lower():
        raise BadResponse(f"npm version document names {found!r}, not {name!r}", url=url)
    if not isinstance(version, str) or not version:
        raise BadResponse(f"npm package {name} has no latest version", url=url)
    bins, _ignored = bin_names(found, document.get("bin"))
    return NpmLatest(found, version, bins, document)


def fetch_npm_latest(http: HttpClient, name: str) -> NpmLatest:
    """GET and parse ``/<name>/latest`` (one small request: what seeding's look-up reads)."""
    path = package_path(name) + "/latest"
    document = http.get_json("npm", path)
    return parse_latest_manifest(document, name, url=http.url("npm", path))


def fetch_npm_package(http: HttpClient, name: str, *, abbreviated: bool = False) -> NpmPackage:
    """Fetch and parse package ``name``. ``abbreviated=True`` asks for the smaller install
    document: enough for ``bin``/``dist``, not for description/homepage/time."""
    path = package_path(name)
    headers = {"Accept": ABBREVIATED} if abbreviated else None
    document = http.get_json("npm", path, headers=headers, decode=decode_packument)
    return parse_packument(document, url=http.url("npm", path))
