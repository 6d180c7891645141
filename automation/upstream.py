"""Ecosystem adapters -> builder input: one small translation per ecosystem."""

from __future__ import annotations

from automation.builders import UpstreamPackage
from automation.errors import UsageError
from automation.generate import Fetch
from automation.http import HttpClient
from automation.sources.npm import fetch_npm_package
from automation.sources.pypi import fetch_pypi_project


def fetch_pypi(http: HttpClient, identifier: str) -> UpstreamPackage:
    project = fetch_pypi_project(http, identifier)
    return UpstreamPackage(
        ecosystem="pypi",
        identifier=project.name if project.name.lower() == identifier.lower() else identifier,
        version=project.version,
        description=project.summary,
        homepage_candidates=(project.homepage,) if project.homepage else (),
        executables=project.executables,
        fallback_homepage=f"https://pypi.org/project/{identifier}/",
        first_release=None,
    )


def fetch_npm(http: HttpClient, identifier: str) -> UpstreamPackage:
    package = fetch_npm_package(http, identifier)
    candidates = tuple(u for u in (package.homepage, package.repository) if u)
    return UpstreamPackage(
        ecosystem="npm",
        identifier=package.name,
        version=package.version,
        description=package.description,
        homepage_candidates=candidates,
        executables=package.bin,
        fallback_homepage=f"https://www.npmjs.com/package/{package.name}",
        first_release=package.created,
    )


FETCHERS = {"pypi": fetch_pypi, "npm": fetch_npm}


def fetcher_for(http: HttpClient) -> Fetch:
    """``(ecosystem, identifier) -> UpstreamPackage`` for every ecosystem with an adapter."""

    def fetch(ecosystem: str, identifier: str) -> UpstreamPackage:
        adapter = FETCHERS.get(ecosystem)
        if adapter is None:
            raise UsageError(f"no adapter for ecosystem {ecosystem!r} yet")
        return adapter(http, identifier)

    return fetch
