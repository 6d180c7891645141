"""RubyGems: the gem document plus the ``.gem``'s gemspec ``executables`` -> ``gem_install``.

Failure decided from registry data: ``no_executables`` (the gemspec lists none). Popularity
comes from the historic ``downloads/top.json`` (see ``automation.ecosystems.rubygems.client``).
"""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.popularity import PopularityList, rank_counts
from automation.ecosystems.rubygems import client as rubygems
from automation.ecosystems.rubygems.client import Gem
from automation.ecosystems.toolchain import ToolchainPackage, build_toolchain

ECOSYSTEM = "rubygems"


def package_from(gem: Gem) -> ToolchainPackage:
    """The builder input for a fetched gem (pure)."""
    info = gem.info
    problem = None
    if not gem.executables:
        rejected = f" (rejected unsafe names: {', '.join(gem.ignored)})" if gem.ignored else ""
        problem = ("no_executables", f"{info.version}: the gemspec lists no executables{rejected}")
    return ToolchainPackage(
        ecosystem=ECOSYSTEM,
        identifier=info.name,
        install_target=info.name,
        version=info.version,
        description=info.info,
        homepage_candidates=(info.homepage,) if info.homepage else (),
        fallback_homepage=f"https://rubygems.org/gems/{info.name}",
        executables=gem.executables,
        primary=info.name,
        first_release=None,  # the document dates only the current version, not the first
        downloads=info.downloads,
        downloads_period="all time" if info.downloads is not None else None,
        problem=problem,
    )


def fetch(http: HttpClient, identifier: str) -> ToolchainPackage:
    return package_from(rubygems.fetch_gem(http, identifier))


def lookup(http: HttpClient, identifier: str) -> Lookup:
    gem = rubygems.fetch_gem(http, identifier)
    return Lookup(identifier, gem.executables, gem.version)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    path = rubygems.TOP_PATH
    url = http.url(rubygems.ENDPOINT, path)
    pairs, skipped = rubygems.parse_downloads_top(http.get_json(rubygems.ENDPOINT, path), url=url)
    population = max(len(pairs), 1)
    notes = ["downloads/top.json is historic (removed from rubygems.org); counts are one day's"]
    if skipped:
        notes.append(f"{skipped} malformed rows skipped")
    return PopularityList(
        ecosystem=ECOSYSTEM,
        period="1 day",
        source=url,
        as_of=None,
        population=population,
        entries=rank_counts(pairs, population)[:top_n],
        notes=tuple(notes),
    )


ADAPTER = EcosystemAdapter(
    ECOSYSTEM,
    fetch,
    build_toolchain,
    "gem_install from the gemspec's executables",
    popularity,
    lookup,
)
