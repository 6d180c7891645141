"""GitHub: repository metadata and the newest stable release, from the REST API.

``GET /repos/<owner>/<repo>`` (description, homepage) and ``GET /repos/<o>/<r>/releases/latest``
(GitHub's newest non-draft, non-prerelease release). When ``latest`` answers 404 the release list
is read (``?per_page=100``), drafts and prereleases skipped, newest ``published_at`` first: a
repository whose releases are all prereleases then has no release. Parsers are pure and keep only
what the builder uses; asset names that are not plain file names are dropped and counted.
The token (``GITHUB_TOKEN``) is added by ``automation.core.http.HttpClient``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient, NotFound
from automation.ecosystems.github.assets import is_safe_asset_name

OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
# GitHub caps a release at 1000 assets; more means the document is not what it claims to be.
MAX_ASSETS = 1000
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+/@-]{0,127}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def check_repo(identifier: str) -> tuple[str, str]:
    """``owner/repo`` -> (owner, repo); raises UnsafeNameError for anything else."""
    if not isinstance(identifier, str) or identifier.count("/") != 1:
        raise UnsafeNameError(f"GitHub source must be owner/repo, got {identifier!r}")
    owner, repo = identifier.split("/")
    if not OWNER.fullmatch(owner) or not REPO.fullmatch(repo) or repo in (".", ".."):
        raise UnsafeNameError(f"invalid GitHub repository {identifier!r}")
    return owner, repo


@dataclass(frozen=True, slots=True)
class ReleaseAsset:
    name: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Release:
    tag: str
    published_at: str | None
    assets: tuple[ReleaseAsset, ...]  # safe names only, sorted by name
    ignored: tuple[str, ...]  # reprs of dropped names (bounded)
    asset_count: int  # as listed upstream, before dropping


@dataclass(frozen=True, slots=True)
class RepoInfo:
    full_name: str
    description: str
    homepage: str | None
    archived: bool


@dataclass(frozen=True, slots=True)
class GithubProject:
    """What the adapter fetched: the repository and its newest stable release (None: none)."""

    repo: str  # owner/repo as asked (the identifier)
    info: RepoInfo
    release: Release | None


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_repo(document: Any) -> RepoInfo:
    """The fields of ``GET /repos/<o>/<r>`` the builder uses."""
    if not isinstance(document, Mapping):
        raise BadResponse("repository document is not an object", url="github:/repos")
    homepage = _string(document.get("homepage")).strip() or None
    return RepoInfo(
        full_name=_string(document.get("full_name")),
        description=_string(document.get("description")),
        homepage=homepage,
        archived=document.get("archived") is True,
    )


def parse_release(document: Any) -> Release:
    """One release object (``/releases/latest`` or an element of the list)."""
    if not isinstance(document, Mapping):
        raise BadResponse("release document is not an object", url="github:/releases")
    tag = _string(document.get("tag_name"))
    if not _TAG.fullmatch(tag) or ".." in tag:
        raise BadResponse(f"release tag {tag[:80]!r} is not a plain tag", url="github:/releases")
    raw_assets = document.get("assets")
    if not isinstance(raw_assets, list):
        raw_assets = []
    kept: dict[str, ReleaseAsset] = {}
    ignored: list[str] = []
    for item in raw_assets:
        if not isinstance(item, Mapping):
            continue
        name = item.get("name")
        state = item.get("state")
        if state is not None and state != "uploaded":
            continue  # an upload that never finished
        if not is_safe_asset_name(name):
            if len(ignored) < 20:
                ignored.append(repr(name)[:80])
            continue
        assert isinstance(name, str)
        size = item.get("size")
        kept[name] = ReleaseAsset(name, size if isinstance(size, int) and size >= 0 else None)
    published = _string(document.get("published_at"))
    return Release(
        tag=tag,
        published_at=published if _TIMESTAMP.fullmatch(published) else None,
        assets=tuple(kept[n] for n in sorted(kept)),
        ignored=tuple(ignored),
        asset_count=len(raw_assets),
    )


def choose_release(documents: Any) -> Release | None:
    """Newest non-draft, non-prerelease element of a release list (by ``published_at``, tag)."""
    if not isinstance(documents, list):
        raise BadResponse("release list is not an array", url="github:/releases")
    stable = [
        d
        for d in documents
        if isinstance(d, Mapping) and d.get("draft") is not True and d.get("prerelease") is not True
    ]
    if not stable:
        return None
    newest = max(stable, key=lambda d: (_string(d.get("published_at")), _string(d.get("tag_name"))))
    return parse_release(newest)


def fetch_github_project(http: HttpClient, identifier: str) -> GithubProject:
    """Repository + newest stable release. A missing repository raises NotFound."""
    owner, repo = check_repo(identifier)
    base = f"/repos/{owner}/{repo}"
    info = parse_repo(http.get_json("github", base))
    release: Release | None
    try:
        document = http.get_json("github", base + "/releases/latest")
    except NotFound:
        release = choose_release(http.get_json("github", base + "/releases?per_page=100"))
    else:
        if isinstance(document, Mapping) and (
            document.get("draft") is True or document.get("prerelease") is True
        ):
            release = None
        else:
            release = parse_release(document)
    return GithubProject(repo=f"{owner}/{repo}", info=info, release=release)
