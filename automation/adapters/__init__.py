"""One adapter per ecosystem: how to fetch upstream facts for an identifier, and how to build.

Each module in this package defines ``ADAPTER = EcosystemAdapter(...)``; they are discovered by
name, so adding an ecosystem means adding one module and touching nothing shared. ``fetch`` does
the I/O (through the injected ``HttpClient``) and returns an ecosystem-specific value; ``build``
is pure and turns that value into a recipe or a ``BuildFailure``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automation.builders import BuildFailure, BuiltRecipe
from automation.errors import UsageError
from automation.http import HttpClient
from automation.layout import RegistryLayout
from automation.popularity import PopularityList


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one cheap metadata fetch says about a seeding candidate."""

    identifier: str
    executables: tuple[str, ...]
    version: str


# (http, registry, how many top entries are needed) -> ranked popularity within the ecosystem
PopularityLoader = Callable[[HttpClient, RegistryLayout, int], PopularityList]


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
        module = importlib.import_module(f"{__name__}.{module_info.name}")
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
