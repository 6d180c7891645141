"""CPAN: the latest MetaCPAN release and the scripts it installs -> ``cpan_install``.

The distribution name is the identifier after ``cpan:`` (``::`` -> ``-``), used as is; no name is
mangled into an executable. Failure decided from registry data: ``no_executables`` (no file
directly under ``bin/`` or ``script/``). MetaCPAN has no download counts, so CPAN is not
seedable here.
"""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.cpan import client as metacpan
from automation.ecosystems.cpan.client import CpanDistribution
from automation.ecosystems.toolchain import ToolchainPackage, build_toolchain

ECOSYSTEM = "cpan"


def package_from(dist: CpanDistribution) -> ToolchainPackage:
    """The builder input for a fetched distribution (pure)."""
    release = dist.release
    problem = None
    if not dist.executables:
        rejected = f" (rejected unsafe paths: {', '.join(dist.ignored)})" if dist.ignored else ""
        problem = (
            "no_executables",
            f"{release.name} installs no script from bin/ or script/{rejected}",
        )
    # The verify executable should match the distribution's own name: App-Ack -> ack.
    primary = release.distribution
    if primary.startswith("App-") and len(primary) > 4:
        primary = primary[4:]
    return ToolchainPackage(
        ecosystem=ECOSYSTEM,
        identifier=release.distribution,
        install_target=release.distribution,
        version=release.version,
        description=release.abstract,
        homepage_candidates=(release.homepage,) if release.homepage else (),
        fallback_homepage=f"https://metacpan.org/dist/{release.distribution}",
        executables=dist.executables,
        primary=primary,
        problem=problem,
    )


def fetch(http: HttpClient, identifier: str) -> ToolchainPackage:
    return package_from(metacpan.fetch_distribution(http, identifier))


def lookup(http: HttpClient, identifier: str) -> Lookup:
    dist = metacpan.fetch_distribution(http, identifier)
    return Lookup(identifier, dist.executables, dist.release.version)


ADAPTER = EcosystemAdapter(
    ECOSYSTEM,
    fetch,
    build_toolchain,
    "cpan_install of the release's bin/ and script/ files",
    None,
    lookup,
)
