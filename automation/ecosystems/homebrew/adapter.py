"""Homebrew: formula JSON + bottle inspection on ghcr.io -> ``homebrew`` + ``install_binaries``.

``fetch`` refuses tap names, disabled and bottle-less formulae before any download, checks the
formula's dependencies against the registry (a formula blocked on a missing recipe is not
downloaded at all), then reads one bottle per target platform and lists its keg in memory.
What it found is a ``HomebrewFacts`` (or a ``HomebrewRefusal``); ``build`` is pure.

The registry the dependencies are checked against is a ``RegistryView``. The shared adapter
signature ``fetch(http, identifier)`` carries no registry, so ``ADAPTER.fetch`` finds it from the
run's configuration (``load_config(root)`` records the registry root; else the directory of
``automation.toml`` when one was read, else the working directory); ``make_fetch`` takes any
other source.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from automation.core.config import CONFIG_FILE_NAME
from automation.core.errors import DataError
from automation.core.http import HttpClient, NotFound
from automation.core.layout import RegistryLayout
from automation.ecosystems import (
    DriftLookup,
    EcosystemAdapter,
    Lookup,
    ReleaseVersion,
    Unresolvable,
)
from automation.ecosystems.homebrew import ghcr
from automation.ecosystems.homebrew.builder import (
    EMPTY_REGISTRY,
    HomebrewFacts,
    HomebrewRefusal,
    MissingPlatform,
    PlatformBottle,
    RegistryView,
    build_homebrew,
)
from automation.ecosystems.homebrew.client import (
    ANALYTICS_PATH,
    PLATFORMS,
    Formula,
    TapNameError,
    check_formula_name,
    fetch_formula,
    is_tap_name,
    parse_analytics,
    select_platform_tags,
)
from automation.ecosystems.popularity import PopularityList, rank_counts
from automation.registry.depmapping import load_dep_mapping
from automation.registry.recipes import load_recipe, recipe_from_document, recipe_identities

# ---------------------------------------------------------------- the registry, read once


def load_registry_view(layout: RegistryLayout) -> RegistryView:
    """Recipe names and identities of every recipe in ``layout`` + the dependency mapping.

    Recipes that do not load are skipped (they satisfy nothing); a broken mapping raises.
    """
    recipes: list[tuple[str, frozenset[str]]] = []
    for path in layout.recipe_files():
        try:
            recipe = recipe_from_document(load_recipe(path), strict=False)
        except DataError:
            continue
        recipes.append((recipe.name, recipe_identities(recipe)))
    return RegistryView.build(recipes, load_dep_mapping(layout))


_views: dict[Path, tuple[tuple[tuple[str, int], ...], RegistryView]] = {}
_views_lock = threading.Lock()


def _stamp(layout: RegistryLayout) -> tuple[tuple[str, int], ...]:
    # A new or removed recipe changes its letter directory's mtime; an edit changes the file's.
    paths = [layout.recipes_dir, layout.root / "data" / "dep-mapping.json"]
    if layout.recipes_dir.is_dir():
        paths += sorted(p for p in layout.recipes_dir.iterdir() if p.is_dir())
    out = []
    for path in paths:
        try:
            out.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            out.append((str(path), -1))
    return tuple(out)


def cached_registry_view(layout: RegistryLayout) -> RegistryView:
    """``load_registry_view`` reused while the registry's directories are unchanged."""
    stamp = _stamp(layout)
    with _views_lock:
        known = _views.get(layout.root)
        if known is not None and known[0] == stamp:
            return known[1]
    view = load_registry_view(layout)
    with _views_lock:
        _views[layout.root] = (stamp, view)
    return view


def registry_root_for(http: HttpClient) -> Path:
    """The registry a run works on: the root its configuration was loaded for, else where its
    ``automation.toml`` is, else the working directory."""
    if http.config.registry_root:
        return Path(http.config.registry_root)
    source = http.config.source
    if source and Path(source).name == CONFIG_FILE_NAME:
        return Path(source).parent
    return Path.cwd()


def registry_view_for(http: HttpClient) -> RegistryView:
    return cached_registry_view(RegistryLayout.at(registry_root_for(http)))


# ---------------------------------------------------------------- fetch


def _refuse(identifier: str, subcategory: str, message: str, version: str = "") -> HomebrewRefusal:
    return HomebrewRefusal(identifier, subcategory, message, version)


def precheck(identifier: str, formula: Formula) -> HomebrewRefusal | None:
    """Disabled / bottle-less / no target-platform bottle: decided from the JSON alone."""
    if formula.disabled:
        why = f" ({formula.disable_reason})" if formula.disable_reason else ""
        return _refuse(
            identifier, "disabled", f"{formula.name} is disabled in Homebrew{why}", formula.version
        )
    if not formula.has_bottles:
        return _refuse(
            identifier,
            "no_bottles",
            f"no bottles available for {formula.name} {formula.version}",
            formula.version,
        )
    if not select_platform_tags(formula.bottles):
        tags = ", ".join(sorted(formula.bottles))
        return _refuse(
            identifier,
            "no_bottles",
            f"no bottle found for a supported platform (tags: {tags})",
            formula.version,
        )
    return None


def inspect_formula(
    http: HttpClient, identifier: str, registry: RegistryView
) -> HomebrewFacts | HomebrewRefusal:
    """Everything ``build_homebrew`` needs about formula ``identifier``."""
    if is_tap_name(identifier):
        return _refuse(
            identifier,
            "tap_name",
            f"{identifier!r} is a tap formula; only homebrew/core bottles are inspected",
        )
    check_formula_name(identifier)
    formula = fetch_formula(http, identifier)
    refusal = precheck(identifier, formula)
    if refusal is not None:
        return refusal
    if any(registry.resolve(d) is None for d in formula.dependencies):
        # Blocked anyway: the build reports the missing recipes; no bottle is downloaded.
        return HomebrewFacts(formula, registry, (), (), inspected=False)
    return _inspect_bottles(http, identifier, formula, registry)


def _inspect_bottles(
    http: HttpClient, identifier: str, formula: Formula, registry: RegistryView
) -> HomebrewFacts | HomebrewRefusal:
    tags = select_platform_tags(formula.bottles)
    token = ghcr.fetch_token(http, formula.name)
    index_tag = ghcr.manifest_tag(formula.pkg_version, formula.rebuild)
    try:
        index = ghcr.fetch_index(http, formula.name, index_tag, token)
    except NotFound:
        return _refuse(
            identifier,
            "no_bottles",
            f"no bottle index for {formula.name} {index_tag} on ghcr.io",
            formula.version,
        )
    bottles: list[PlatformBottle] = []
    missing: list[MissingPlatform] = []
    listings: dict[str, ghcr.BottleListing] = {}
    for platform, tag in tags.items():
        wanted = ghcr.ref_names(formula.version, formula.revision, formula.rebuild, tag)
        digest = ghcr.find_digest(index, wanted)
        if digest is None:
            missing.append(MissingPlatform(platform, f"no {' or '.join(wanted)} in the index"))
            continue
        expected = formula.bottles[tag].sha256
        if digest != expected:
            return _refuse(
                identifier,
                "checksum_mismatch",
                f"{tag}: ghcr.io digest {digest} differs from the formula's sha256 {expected}",
                formula.version,
            )
        if digest not in listings:
            try:
                data = ghcr.fetch_blob(http, formula.name, digest, token, expected)
                listings[digest] = ghcr.list_bottle(data, formula.name, formula.pkg_version)
            except ghcr.ChecksumMismatch as exc:
                return _refuse(identifier, "checksum_mismatch", f"{tag}: {exc}", formula.version)
            except ghcr.BottleRejected as exc:
                return _refuse(identifier, exc.subcategory, f"{tag}: {exc}", formula.version)
        bottles.append(PlatformBottle(platform, tag, listings[digest]))
    for platform in PLATFORMS:
        if platform not in tags:
            missing.append(MissingPlatform(platform, "the formula lists no bottle for it"))
    return HomebrewFacts(formula, registry, tuple(bottles), tuple(missing))


def make_fetch(
    view_for: Callable[[HttpClient], RegistryView],
) -> Callable[[HttpClient, str], HomebrewFacts | HomebrewRefusal]:
    """A ``fetch`` whose registry comes from ``view_for(http)``."""

    def fetch(http: HttpClient, identifier: str) -> HomebrewFacts | HomebrewRefusal:
        if is_tap_name(identifier):  # refused before the registry is even read
            return inspect_formula(http, identifier, EMPTY_REGISTRY)
        return inspect_formula(http, identifier, view_for(http))

    return fetch


fetch = make_fetch(registry_view_for)


# ---------------------------------------------------------------- seeding


def lookup(http: HttpClient, identifier: str) -> Lookup:
    """Seeding look-up from the formula JSON: executables are unknown until a bottle is read.

    A formula with bottles for a target platform that is not disabled reports ``("?",)``;
    disabled or bottle-less formulae report none (so seeding skips them as not CLI).
    Tap names raise TapNameError (seeding records it as an unsafe name).
    """
    if is_tap_name(identifier):
        raise TapNameError(f"{identifier!r} is a tap formula; only homebrew/core is seeded")
    formula = fetch_formula(http, identifier)
    if precheck(identifier, formula) is not None:
        return Lookup(identifier, (), formula.version)
    return Lookup(identifier, ("?",), formula.version)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    """30-day installs on request (``count`` strings with commas), tap names and variants out."""
    document = http.get_json("homebrew", ANALYTICS_PATH)
    url = http.url("homebrew", ANALYTICS_PATH)
    analytics = parse_analytics(document, key="formula", url=url)
    pairs = [(row.name, row.count) for row in analytics.rows]
    population = max(analytics.total_items or 0, len(pairs), 1)
    reasons = Counter(reason for _, reason in analytics.skipped)
    notes = tuple(f"{count} {reason} entries skipped" for reason, count in sorted(reasons.items()))
    return PopularityList(
        ecosystem="homebrew",
        period="30 days",
        source=url,
        as_of=analytics.end_date,
        population=population,
        entries=rank_counts(pairs, population),
        notes=notes,
    )


def drift_version(
    http: HttpClient, version: Mapping[str, Any], repo: str | None
) -> ReleaseVersion | None:
    """The formula's stable version, when the recipe's version source is Homebrew."""
    if version.get("source") != "homebrew" or not isinstance(version.get("formula"), str):
        return None
    formula = quote(version["formula"], safe="@+")
    document = http.get_json("homebrew", f"/api/formula/{formula}.json")
    stable = (document.get("versions") or {}).get("stable")
    if not isinstance(stable, str) or not stable:
        raise Unresolvable(f"homebrew formula {formula} has no stable version")
    return ReleaseVersion(stable, stable, {})


ADAPTER = EcosystemAdapter(
    "homebrew",
    fetch,
    build_homebrew,
    "homebrew + install_binaries from bottle contents (ghcr.io)",
    popularity,
    lookup,
    drift=DriftLookup(drift_version),
)
