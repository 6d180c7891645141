"""Ecosystems: one package each (``automation/ecosystems/<name>/``), discovered by name.

Each package's ``adapter`` module defines ``ADAPTER = EcosystemAdapter(...)``; adding an ecosystem
means adding one package and touching nothing shared. ``fetch`` does
the I/O (through the injected ``HttpClient``) and returns an ecosystem-specific value; ``build``
is pure and turns that value into a recipe or a ``BuildFailure``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automation.core.errors import DataError, UsageError

if TYPE_CHECKING:  # the adapters' types; importing them here would make every reader of a
    # source prefix (queue, failures, ...) import every ecosystem's builder
    from automation.core.http import HttpClient
    from automation.core.layout import RegistryLayout
    from automation.ecosystems.popularity import PopularityList
    from automation.ecosystems.recipe import BuildFailure, BuiltRecipe


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one cheap metadata fetch says about a seeding candidate."""

    identifier: str
    executables: tuple[str, ...]
    version: str


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


@functools.cache
def adapters() -> dict[str, EcosystemAdapter]:
    """Every adapter module's ``ADAPTER``, keyed by ecosystem."""
    found: dict[str, EcosystemAdapter] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module_info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}.adapter")
        adapter = getattr(module, "ADAPTER", None)
        if isinstance(adapter, EcosystemAdapter):
            found[adapter.ecosystem] = adapter
    return found


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


# ---- source prefixes -------------------------------------------------------------------------

# Prefix aliases seen in the reference data and in tsuku's `--from` parsing.
_ALIASES = {
    "cargo": "crates.io",
    "crates": "crates.io",
    "crates_io": "crates.io",
    "cratesio": "crates.io",
    "gem": "rubygems",
    "gems": "rubygems",
    "rubygems.org": "rubygems",
    "pip": "pypi",
    "python": "pypi",
    "pypi.org": "pypi",
    "node": "npm",
    "nodejs": "npm",
    "npmjs": "npm",
    "golang": "go",
    "goproxy": "go",
    "perl": "cpan",
    "metacpan": "cpan",
}

KNOWN = (
    "homebrew",
    "cask",
    "crates.io",
    "npm",
    "pypi",
    "rubygems",
    "go",
    "cpan",
    "github",
    "nix",
    "manual",
)

# Ecosystems a deterministic builder of this kit handles.
BUILDABLE = ("homebrew", "cask", "crates.io", "npm", "pypi", "rubygems", "go", "cpan", "github")


def normalise_ecosystem(prefix: str) -> str:
    """``cargo`` -> ``crates.io`` etc.; unknown prefixes are returned lowercased."""
    key = prefix.strip().lower()
    return _ALIASES.get(key, key)


def split_source(source: str) -> tuple[str, str]:
    """``"github:sharkdp/bat"`` -> ``("github", "sharkdp/bat")`` with the prefix normalised.

    Raises DataError for a source without ``:`` or with an unsafe prefix.
    """
    if ":" not in source:
        raise DataError(f"source {source!r} has no '<ecosystem>:' prefix")
    prefix, identifier = source.split(":", 1)
    if not prefix or "/" in prefix or "\\" in prefix or ".." in prefix:
        raise DataError(f"source {source!r} has an invalid ecosystem prefix")
    if not identifier:
        raise DataError(f"source {source!r} has an empty identifier")
    return normalise_ecosystem(prefix), identifier


def make_source(ecosystem: str, identifier: str) -> str:
    return f"{normalise_ecosystem(ecosystem)}:{identifier}"
