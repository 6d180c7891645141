"""Homebrew casks: ``/api/cask/<token>.json`` -> ``app_bundle``
(``automation.ecosystems.cask.builder``)."""

from __future__ import annotations

import posixpath
from collections import Counter

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.cask.builder import CaskRefusal, build_cask
from automation.ecosystems.cask.client import (
    ANALYTICS_PATH,
    Cask,
    app_bundle_name,
    fetch_cask,
    relative_binaries,
)
from automation.ecosystems.homebrew.client import TapNameError, is_tap_name, parse_analytics
from automation.ecosystems.popularity import PopularityList, rank_counts
from automation.ecosystems.recipe import BuildFailure


def fetch(http: HttpClient, identifier: str) -> Cask | CaskRefusal:
    if is_tap_name(identifier):
        return CaskRefusal(
            identifier, "tap_name", f"{identifier!r} is a tap cask; only homebrew/cask is supported"
        )
    return fetch_cask(http, identifier)


def lookup(http: HttpClient, identifier: str) -> Lookup:
    """Accepted (non-empty executables) only when the cask would build: the bundle's binaries,
    else the app's name; none for unchecked downloads or unsupported artifacts."""
    if is_tap_name(identifier):
        raise TapNameError(f"{identifier!r} is a tap cask; only homebrew/cask is seeded")
    cask = fetch_cask(http, identifier)
    if isinstance(build_cask(cask.token, cask), BuildFailure):
        return Lookup(identifier, (), cask.version)
    app = app_bundle_name(cask.artifacts.apps[0]) or ""
    binaries, _ = relative_binaries(cask.artifacts.binaries, app)
    names = tuple(sorted({posixpath.basename(b) for b in binaries})) or (app,)
    return Lookup(identifier, names, cask.version)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    """30-day cask installs (``count`` strings with commas); tap casks skipped."""
    document = http.get_json("homebrew", ANALYTICS_PATH)
    url = http.url("homebrew", ANALYTICS_PATH)
    analytics = parse_analytics(document, key="cask", url=url)
    pairs = [(row.name, row.count) for row in analytics.rows]
    population = max(analytics.total_items or 0, len(pairs), 1)
    reasons = Counter(reason for _, reason in analytics.skipped)
    return PopularityList(
        ecosystem="cask",
        period="30 days",
        source=url,
        as_of=analytics.end_date,
        population=population,
        entries=rank_counts(pairs, population),
        notes=tuple(f"{n} {reason} entries skipped" for reason, n in sorted(reasons.items())),
    )


ADAPTER = EcosystemAdapter(
    "cask", fetch, build_cask, "app_bundle from Homebrew cask artifacts", popularity, lookup
)
