"""npm: the package document's latest version and its ``bin`` -> ``npm_install``."""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.npm.client import fetch_npm_package
from automation.ecosystems.npm.popularity import load_npm_popularity
from automation.ecosystems.packaged import build_packaged
from automation.ecosystems.popularity import PopularityList
from automation.ecosystems.recipe import UpstreamPackage


def fetch(http: HttpClient, identifier: str) -> UpstreamPackage:
    package = fetch_npm_package(http, identifier)
    return UpstreamPackage(
        ecosystem="npm",
        identifier=package.name,
        version=package.version,
        description=package.description,
        homepage_candidates=tuple(u for u in (package.homepage, package.repository) if u),
        executables=package.bin,
        fallback_homepage=f"https://www.npmjs.com/package/{package.name}",
        first_release=package.created,
    )


def lookup(http: HttpClient, identifier: str) -> Lookup:
    package = fetch_npm_package(http, identifier, abbreviated=True)
    return Lookup(identifier, package.bin, package.version)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    return load_npm_popularity(http, layout, top_n)


ADAPTER = EcosystemAdapter(
    "npm", fetch, build_packaged, "npm_install from the package's bin", popularity, lookup
)
