"""npm: the package document's latest version and its ``bin`` -> ``npm_install``.

tsuku installs the ``latest`` dist-tag whatever its ``engines.node`` says, so a latest version
whose ``engines.node`` excludes the Node.js tsuku installs fails with ``runtime_unsatisfiable``.
"""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.core.names import recipe_name_for
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.npm import FACTS
from automation.ecosystems.npm.client import fetch_npm_latest, fetch_npm_package
from automation.ecosystems.npm.engines import runtime_conflict
from automation.ecosystems.npm.popularity import load_npm_popularity
from automation.ecosystems.npm.toolness import npm_verdict
from automation.ecosystems.packaged import build_packaged
from automation.ecosystems.popularity import PopularityList
from automation.ecosystems.recipe import UpstreamPackage


def fetch(http: HttpClient, identifier: str) -> UpstreamPackage:
    package = fetch_npm_package(http, identifier)
    assert FACTS.runtime is not None
    conflict = runtime_conflict(package.engines_node, FACTS.runtime.version)
    if conflict:
        conflict += f", the Node.js tsuku installs ({FACTS.runtime.pinned_by})"
    return UpstreamPackage(
        ecosystem="npm",
        identifier=package.name,
        version=package.version,
        description=package.description,
        homepage_candidates=tuple(u for u in (package.homepage, package.repository) if u),
        executables=package.bin,
        fallback_homepage=f"https://www.npmjs.com/package/{package.name}",
        first_release=package.first_release,
        runtime_conflict=conflict,
    )


def lookup(http: HttpClient, identifier: str) -> Lookup:
    """The latest version's document only (kilobytes, where a packument can be megabytes)."""
    latest = fetch_npm_latest(http, identifier)
    verdict = npm_verdict(identifier, recipe_name_for(identifier), latest.bin, latest.manifest)
    return Lookup(identifier, latest.bin, latest.version, verdict)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    return load_npm_popularity(http, layout, top_n)


ADAPTER = EcosystemAdapter(
    "npm", fetch, build_packaged, "npm_install from the package's bin", popularity, lookup
)
