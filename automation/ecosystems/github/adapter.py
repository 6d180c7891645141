"""GitHub releases: ``github:<owner>/<repo>`` -> ``github_archive`` / ``github_file`` steps.

Popularity and look-up come from the curated ``data/github-tools.json`` (rank = list order; a
repository listed twice, such as ``ahmetb/kubectx`` for kubectx and kubens, ranks at its first
place). The curated executable names are passed to the builder; anything not listed falls back
to the repository name.

Recipe names (:func:`recipe_name`): a curated entry carries the recipe name, the name the tool is
known by, which the repository name often is not (``cli/cli`` is ``gh``, ``smallstep/cli`` is
``step``, ``kubernetes/kubernetes`` is ``kubectl``, ``fluxcd/flux2`` is ``flux``). Where the
repository does name the tool, the reference registry keeps that name even when the binary differs
(``BurntSushi/ripgrep`` is ``ripgrep`` with binary ``rg``, ``ClementTsang/bottom`` is ``bottom``
with ``btm``). A repository listed twice is named by its first entry, as it is ranked; one not
listed is named after the repository (``automation.core.names.recipe_name_for``).

Archive layout (:func:`fetch`): each archive the picker chose (one per platform, deduplicated) is
listed with a few small ranged reads of its release download (``archives`` in this package), so
``strip_dirs`` and the binary's path come from the real layout. An archive that cannot be listed
(format, caps, HTTP failure) is left out and the naming rules decide for it. Listings are
read from the ``githubdownload`` endpoint; when only the API endpoint is redirected (GitHub
Enterprise, a test stand-in) downloads would go to the public host, so none are read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from automation.core import schemas
from automation.core.config import Config
from automation.core.errors import DataError
from automation.core.http import HttpClient
from automation.core.jsondata import read_json
from automation.core.layout import REPOSITORY_ROOT, RegistryLayout
from automation.core.names import check_recipe_name, recipe_name_for
from automation.ecosystems import (
    DriftLookup,
    EcosystemAdapter,
    Lookup,
    ReleaseVersion,
    Unresolvable,
)
from automation.ecosystems.github.archives import TAR_FORMATS, read_listing
from automation.ecosystems.github.builder import GithubFacts, GithubPlan, build_github, plan_release
from automation.ecosystems.github.client import check_repo, fetch_github_project
from automation.ecosystems.popularity import PopularityList, Ranked, percentile_for_rank
from automation.ecosystems.recipe import BuildFailure

CURATED_FILE = REPOSITORY_ROOT / "data" / "github-tools.json"


def load_curated(path: Path = CURATED_FILE) -> tuple[dict[str, Any], ...]:
    """The curated entries (schema-checked), in list order."""
    document, problem = read_json(path, str(path))  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(
            f"cannot read curated GitHub tools: {problem.message}",
            path=str(path),
            where=problem.where,
        )
    problems = schemas.check(document, "github-tools", path=str(path))
    if problems:
        raise DataError(problems[0].message, path=str(path), where=problems[0].where)
    return tuple(document["entries"])


@functools.cache
def _curated_executables() -> dict[str, tuple[str, ...]]:
    """``owner/repo`` (lowercased) -> executables of its first curated entry."""
    out: dict[str, tuple[str, ...]] = {}
    for entry in load_curated():
        key = entry["repo"].lower()
        if key not in out and entry.get("executables"):
            out[key] = tuple(entry["executables"])
    return out


@functools.cache
def _curated_names() -> dict[str, str]:
    """``owner/repo`` (lowercased) -> the recipe name of its first curated entry."""
    out: dict[str, str] = {}
    for entry in load_curated():
        out.setdefault(entry["repo"].lower(), entry["name"])
    return out


def recipe_name(identifier: str) -> str:
    """The recipe name for ``github:<identifier>``: the curated entry's name, else the repository's.

    GitHub matches repository names without regard to case, and so does the look-up. Raises
    UnsafeNameError for an identifier that is not ``owner/repo`` or a name that is not safe.
    """
    owner, repo = check_repo(identifier)
    curated = _curated_names().get(f"{owner}/{repo}".lower())
    return check_recipe_name(curated) if curated is not None else recipe_name_for(repo)


def _fetch_release(http: HttpClient, identifier: str) -> GithubFacts:
    project = fetch_github_project(http, identifier)
    return GithubFacts(project, _curated_executables().get(project.repo.lower(), ()))


def fetch(http: HttpClient, identifier: str) -> GithubFacts:
    """Repository, newest stable release and the listings of the chosen archives."""
    facts = _fetch_release(http, identifier)
    if not downloads_enabled(http.config):
        return facts
    plan = plan_release(facts)
    if isinstance(plan, BuildFailure):
        return facts
    listings = archive_listings(http, facts, plan)
    return GithubFacts(facts.project, facts.executables, listings) if listings else facts


def downloads_enabled(config: Config) -> bool:
    """False when the API is redirected but downloads are not (they would bypass the redirect)."""
    return config.is_overridden("githubdownload") or not config.is_overridden("github")


def download_url(config: Config, repo: str, tag: str, asset: str) -> str:
    """The asset's ``browser_download_url`` on the configured ``githubdownload`` endpoint."""
    path = f"/{repo}/releases/download/{quote(tag, safe='')}/{quote(asset, safe='')}"
    return config.url("githubdownload", path)


def archive_listings(
    http: HttpClient, facts: GithubFacts, plan: GithubPlan
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(asset name, members) for each chosen archive that could be listed, by name."""
    release = facts.project.release
    if release is None:
        return ()
    sizes = {asset.name: asset.size for asset in release.assets}
    chosen = {
        info.name: info.archive_format
        for info in plan.picks.chosen.values()
        if info.archive_format == "zip" or info.archive_format in TAR_FORMATS
    }
    out: list[tuple[str, tuple[str, ...]]] = []
    for name in sorted(chosen):
        url = download_url(http.config, facts.project.repo, release.tag, name)
        listed = read_listing(http, url, sizes.get(name), archive_format=chosen[name])
        if listed.members is not None:
            out.append((name, listed.members))
    return tuple(out)


def lookup(http: HttpClient, identifier: str) -> Lookup:
    # Seeding needs names only: no archive listings.
    facts = _fetch_release(http, identifier)
    plan = plan_release(facts)
    if isinstance(plan, BuildFailure):
        return Lookup(identifier, (), plan.version)
    return Lookup(identifier, plan.executables, plan.version)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    entries = load_curated()
    repos: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        repo = entry["repo"]
        check_repo(repo)
        if repo.lower() not in seen:
            seen.add(repo.lower())
            repos.append(repo)
    population = len(repos)
    ranked = tuple(
        Ranked(repo, 0, rank, percentile_for_rank(rank, population))
        for rank, repo in enumerate(repos, start=1)
    )
    return PopularityList(
        ecosystem="github",
        period="curated",
        source=str(CURATED_FILE.relative_to(REPOSITORY_ROOT)),
        as_of=None,
        population=population,
        entries=ranked[:top_n],
        notes=("GitHub has no download counts; rank = order of the curated list",),
    )


_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def drift_version(
    http: HttpClient, version: Mapping[str, Any], repo: str | None
) -> ReleaseVersion | None:
    """The latest release of the step's ``repo`` (else ``[version] github_repo``), when the
    version source is GitHub releases; None otherwise."""
    repo = repo or version.get("github_repo")
    source = version.get("source")
    if not (isinstance(repo, str) and repo and source in (None, "", "github", "github_releases")):
        return None
    if not _REPO.fullmatch(repo):
        raise Unresolvable(f"bad GitHub repo {repo!r}")
    release = http.get_json(
        "github",
        f"/repos/{repo}/releases/latest",
        headers={"Accept": "application/vnd.github+json"},
    )
    tag = release.get("tag_name") if isinstance(release, dict) else None
    if not isinstance(tag, str) or not tag:
        raise Unresolvable(f"{repo} has no latest release tag")
    prefix = version.get("tag_prefix")
    if isinstance(prefix, str) and prefix and tag.startswith(prefix):
        number = tag[len(prefix) :]
    else:
        number = tag.removeprefix("v")
    assets = {
        str(a["name"]): str(a["browser_download_url"])
        for a in release.get("assets") or ()
        if isinstance(a, dict) and a.get("name") and a.get("browser_download_url")
    }
    return ReleaseVersion(number, tag, assets)


def download_base(repo: str, tag: str) -> str:
    """Where a release's assets are downloaded from (the asset name is appended)."""
    return f"https://github.com/{repo}/releases/download/{quote(tag)}/"


DRIFT = DriftLookup(
    drift_version, ("github_archive", "github_file"), "GitHub", download_base=download_base
)

ADAPTER = EcosystemAdapter(
    "github",
    fetch,
    build_github,
    "github_archive/github_file from release assets (deterministic asset picker)",
    popularity,
    lookup,
    recipe_name,
    DRIFT,
)
