"""crates.io: the crate document's newest non-yanked version and its ``bin_names`` ->
``cargo_install``.

Failures decided from registry data: ``library_only`` (the version ships no binary),
``no_bin_metadata`` (the document predates ``bin_names``), ``all_yanked``.
Popularity: the ``command-line-utilities`` category sorted by downloads, ranked by
``recent_downloads`` (90 days), read for a bounded number of pages.
"""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.cratesio import client as cratesio
from automation.ecosystems.cratesio.client import CrateInfo
from automation.ecosystems.popularity import PopularityList, rank_counts
from automation.ecosystems.toolchain import ToolchainPackage, build_toolchain

ECOSYSTEM = "crates.io"

_PROBLEMS = {
    cratesio.LIBRARY_ONLY: "{v} ships no binary (bin_names is empty): a library crate",
    cratesio.NO_BIN_METADATA: "{v} has no bin_names in the registry document; executables unknown",
    cratesio.ALL_YANKED: "every published version is yanked",
}


def package_from(info: CrateInfo) -> ToolchainPackage:
    """The builder input for a parsed crate (pure)."""
    problem = None
    if info.status != cratesio.OK:
        problem = (info.status, _PROBLEMS[info.status].format(v=info.version or "?"))
    return ToolchainPackage(
        ecosystem=ECOSYSTEM,
        identifier=info.name,
        install_target=info.name,
        version=info.version,
        description=info.description,
        homepage_candidates=tuple(u for u in (info.homepage, info.repository) if u),
        fallback_homepage=f"https://crates.io/crates/{info.name}",
        executables=info.executables,
        primary=info.name,
        first_release=info.created_at,
        downloads=info.downloads,
        downloads_period="all time" if info.downloads is not None else None,
        problem=problem,
    )


def fetch(http: HttpClient, identifier: str) -> ToolchainPackage:
    return package_from(cratesio.fetch_crate(http, identifier))


def lookup(http: HttpClient, identifier: str) -> Lookup:
    info = cratesio.fetch_crate(http, identifier)
    return Lookup(identifier, info.executables, info.version)


def load_popularity(
    http: HttpClient, top_n: int, *, page_budget: int = cratesio.DEFAULT_PAGE_BUDGET
) -> PopularityList:
    """Pages of the category listing until ``top_n`` crates, the last page or the page budget."""
    counts: dict[str, int] = {}
    total: int | None = None
    skipped = 0
    pages = 0
    notes: list[str] = []
    while len(counts) < top_n:
        if pages >= page_budget:
            notes.append(f"page budget of {page_budget} reached")
            break
        pages += 1
        path = cratesio.category_path(pages)
        page = cratesio.parse_category_page(
            http.get_json(cratesio.ENDPOINT, path), url=http.url(cratesio.ENDPOINT, path)
        )
        total = page.total if page.total is not None else total
        skipped += page.skipped
        for name, count in page.pairs:
            counts[name] = max(count, counts.get(name, 0))
        if not page.has_next or not page.pairs:
            break
    if skipped:
        notes.append(f"{skipped} malformed rows skipped")
    population = max(total or 0, len(counts), 1)
    return PopularityList(
        ecosystem=ECOSYSTEM,
        period="90 days",
        source=f"crates.io category {cratesio.CATEGORY} ({pages} pages)",
        as_of=None,
        population=population,
        entries=rank_counts(list(counts.items()), population),
        notes=tuple(notes),
    )


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    return load_popularity(http, top_n)


ADAPTER = EcosystemAdapter(
    ECOSYSTEM,
    fetch,
    build_toolchain,
    "cargo_install from the newest non-yanked version's bin_names",
    popularity,
    lookup,
)
