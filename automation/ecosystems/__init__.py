"""Ecosystems: one package each (``automation/ecosystems/<name>/``), discovered by name.

Each package declares its facts in ``__init__.py`` (``FACTS``, see
``automation.core.ecosystem_facts``) and its ``adapter`` module defines
``ADAPTER = EcosystemAdapter(...)``; adding an ecosystem means adding one package and touching
nothing shared. ``fetch`` does
the I/O (through the injected ``HttpClient``) and returns an ecosystem-specific value; ``build``
is pure and turns that value into a recipe or a ``BuildFailure``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automation.core.ecosystem_facts import (
    ecosystem_packages,
    make_source,
    normalise_ecosystem,
    split_source,
)
from automation.core.errors import UsageError

if TYPE_CHECKING:  # the adapters' types; importing them here would make every reader of a
    # source prefix (queue, failures, ...) import every ecosystem's builder
    from automation.core.http import HttpClient
    from automation.core.layout import RegistryLayout
    from automation.ecosystems.popularity import PopularityList
    from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
    from automation.ecosystems.toolness import ToolVerdict


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one cheap metadata fetch says about a seeding candidate."""

    identifier: str
    executables: tuple[str, ...]
    version: str
    # tool or library with a side script, from the same document (``toolness``); None: the
    # ecosystem does not judge, every candidate with executables is taken
    tool: ToolVerdict | None = None


class Unresolvable(Exception):
    """A recipe's pinned version cannot be resolved upstream (drift skips the artifact)."""


@dataclass(frozen=True, slots=True)
class ReleaseVersion:
    """The newest upstream release a recipe's [version] table points at."""

    version: str
    tag: str
    assets: Mapping[str, str]  # release asset name -> download URL (when the release lists them)


@dataclass(frozen=True, slots=True)
class DriftLookup:
    """What the drift check asks an ecosystem.

    ``resolve(http, version_table, repo)`` is the newest release, or None when the [version]
    table is not this ecosystem's (raises ``Unresolvable``). Release-asset steps (``asset_actions``,
    with ``repo`` and ``asset_pattern`` parameters) download from ``download_base(repo, tag)``;
    ``asset_label`` names them in reports.
    """

    resolve: Callable[[HttpClient, Mapping[str, Any], str | None], ReleaseVersion | None]
    asset_actions: tuple[str, ...] = ()
    asset_label: str = ""
    download_base: Callable[[str, str], str] | None = None


# (http, registry, how many top entries are needed) -> ranked popularity within the ecosystem
PopularityLoader = Callable[["HttpClient", "RegistryLayout", int], "PopularityList"]


@dataclass(frozen=True, slots=True)
class EcosystemAdapter:
    """An ecosystem's fetch + build, and (optionally) what seeding needs: popularity + lookup."""

    ecosystem: str  # the normalised queue prefix: "pypi", "crates.io", "homebrew", ...
    fetch: Callable[[HttpClient, str], Any]
    build: Callable[[str, Any], BuiltRecipe | BuildFailure]
    description: str = ""
    popularity: PopularityLoader | None = None
    lookup: Callable[[HttpClient, str], Lookup] | None = None
    # how seeding names a candidate identifier (default: ``recipe_name_for``)
    recipe_name: Callable[[str], str] | None = None
    drift: DriftLookup | None = None  # how the drift check resolves this ecosystem's versions


@functools.cache
def _adapters_of(packages: tuple[str, ...]) -> dict[str, EcosystemAdapter]:
    found: dict[str, EcosystemAdapter] = {}
    for package in packages:
        if importlib.util.find_spec(f"{package}.adapter") is None:
            continue  # a package of facts only (no builder)
        adapter = getattr(importlib.import_module(f"{package}.adapter"), "ADAPTER", None)
        if isinstance(adapter, EcosystemAdapter):
            found[adapter.ecosystem] = adapter
    return found


def adapters() -> dict[str, EcosystemAdapter]:
    """Every ecosystem package's ``adapter.ADAPTER``, keyed by ecosystem."""
    return _adapters_of(ecosystem_packages())


def adapter_for(ecosystem: str) -> EcosystemAdapter:
    try:
        return adapters()[ecosystem]
    except KeyError:
        known = ", ".join(sorted(adapters()))
        raise UsageError(f"no builder for ecosystem {ecosystem!r} (available: {known})") from None


def seed_sources() -> tuple[str, ...]:
    """Ecosystems that can be seeded (their adapter has popularity data and a lookup)."""
    return tuple(e for e, a in sorted(adapters().items()) if a.popularity and a.lookup)


def fetcher_for(http: HttpClient) -> Callable[[str, str], Any]:
    """``(ecosystem, identifier) -> upstream facts`` over one HTTP client."""

    def fetch(ecosystem: str, identifier: str) -> Any:
        return adapter_for(ecosystem).fetch(http, identifier)

    return fetch


def build_any(ecosystem: str, name: str, fetched: Any) -> BuiltRecipe | BuildFailure:
    """Build with the ecosystem's builder."""
    return adapter_for(ecosystem).build(name, fetched)


__all__ = [
    "DriftLookup",
    "EcosystemAdapter",
    "Lookup",
    "PopularityLoader",
    "ReleaseVersion",
    "Unresolvable",
    "adapter_for",
    "adapters",
    "build_any",
    "fetcher_for",
    "make_source",
    "normalise_ecosystem",
    "seed_sources",
    "split_source",
]
