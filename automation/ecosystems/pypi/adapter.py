"""PyPI: project JSON + the newest wheel's entry points -> ``pipx_install``."""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.packaged import build_packaged
from automation.ecosystems.popularity import PopularityList
from automation.ecosystems.pypi.client import fetch_pypi_project
from automation.ecosystems.pypi.popularity import load_pypi_popularity
from automation.ecosystems.recipe import UpstreamPackage


def fetch(http: HttpClient, identifier: str) -> UpstreamPackage:
    project = fetch_pypi_project(http, identifier)
    return UpstreamPackage(
        ecosystem="pypi",
        identifier=project.name if project.name.lower() == identifier.lower() else identifier,
        version=project.version,
        description=project.summary,
        homepage_candidates=(project.homepage,) if project.homepage else (),
        executables=project.executables,
        fallback_homepage=f"https://pypi.org/project/{identifier}/",
    )


def lookup(http: HttpClient, identifier: str) -> Lookup:
    project = fetch_pypi_project(http, identifier)
    return Lookup(identifier, project.executables, project.version)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    return load_pypi_popularity(http)


ADAPTER = EcosystemAdapter(
    "pypi", fetch, build_packaged, "pipx_install from wheel entry points", popularity, lookup
)
