"""What each ecosystem declares about itself, discovered from its package.

Every package ``automation/ecosystems/<name>/`` defines ``FACTS = EcosystemFacts(...)`` in its
``__init__.py`` (import-light: this module and nothing heavier), and usually an ``adapter`` module
(fetch + build, see ``automation.ecosystems``). Shared code reads these facts instead of keeping
its own per-ecosystem tables: the configuration its endpoints and rate limits, the recipe reader
its install actions, the breaker and queue housekeeping its identifier rules, the failure-code
table its codes. Adding an ecosystem means adding one package; nothing shared names it.

Discovery imports the packages by name at run time, so this core module has no static import of
any ecosystem. ``registered(module_name)`` adds a package that lives elsewhere (a plug-in, or a
toy ecosystem built by a test) for the duration of a ``with`` block.

The source-prefix helpers (``normalise_ecosystem``, ``split_source``, ``make_source``) live here
because registry modules (queue, failures, breaker, ...) need them without importing adapters.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType

from automation.core.errors import DataError, UsageError

# The package that holds one sub-package per ecosystem.
ECOSYSTEMS_PACKAGE = "automation.ecosystems"
# The [version] parameter prefix of a recipe action whose identifier is read from [version].
VERSION_PARAM = "[version]."


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An upstream base URL an ecosystem reads, under a configurable name.

    ``name`` is the ``AUTOMATION_ENDPOINT_<NAME>`` suffix (lowercased) and the key of the
    ``[endpoints]`` / ``[rate_limits]`` tables of ``automation.toml``.
    """

    name: str
    base_url: str
    rate_limit: float  # requests per second
    # An environment variable holding a bearer token for this endpoint (sent only to its host).
    token_env: str | None = None


@dataclass(frozen=True, slots=True)
class RecipeAction:
    """A recipe step action that installs from the ecosystem, and its parameter naming the
    package (``[version].<key>`` when the identifier sits in the recipe's [version] table)."""

    action: str
    param: str


@dataclass(frozen=True, slots=True)
class Setting:
    """An ecosystem-specific configuration value: ``[<section>] <key>`` of ``automation.toml``."""

    section: str
    key: str
    default: int | float | str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an identifier can never be built by the ecosystem's builder.

    ``subcategory`` is the failure code recorded; ``reason`` the short phrase the breaker shows;
    ``message`` the failure record's message; ``counter`` and ``pending_warning`` what
    ``check-data`` counts and says about such an entry still pending.
    """

    subcategory: str
    reason: str
    message: str
    counter: str = "refused_pending"
    pending_warning: str = ""


@dataclass(frozen=True, slots=True)
class RuntimePin:
    """The language runtime tsuku installs for an ecosystem's tools, at the version validated.

    ``name`` is the runtime's command (``node``, ``python3``); ``version`` the exact release the
    kit provides in every environment (``26.12.1``); ``series`` what tsuku's own recipe pins
    (``3.13`` for its python recipe, the LTS major for nodejs), which a package's declared
    requirement (``engines.node``, ``Requires-Python``) is checked against; ``pinned_by`` says
    where tsuku pins it, for reports.
    """

    name: str
    version: str
    series: str
    pinned_by: str
    replaces: str = ""  # for an installer tool: the runtime's own installer it stands in for


# (identifier, queue entry name) -> a refusal, or None when the builder can try
RefusalRule = Callable[[str, str], Refusal | None]


@dataclass(frozen=True, slots=True)
class EcosystemFacts:
    """Everything shared code needs to know about one ecosystem (no I/O, no heavy imports)."""

    name: str  # the normalised queue prefix: "pypi", "crates.io", "homebrew", ...
    display_name: str = ""  # how reports name it ("Homebrew"); defaults to ``name``
    aliases: tuple[str, ...] = ()  # other prefixes read as this one (tsuku's ``--from`` words)
    endpoints: tuple[Endpoint, ...] = ()  # the upstream endpoints this package declares
    endpoint: str | None = None  # the endpoint serving the package metadata (maybe another's)
    install_action: str | None = None  # the step action this kit's builder emits
    id_key: str | None = None  # that action's parameter naming the package
    dependencies: tuple[str, ...] = ()  # recipe-level dependencies of a built recipe (runtimes)
    subcommand_prefix: str | None = None  # "cargo-": exe ``cargo-x`` is verified as ``cargo x``
    recipe_actions: tuple[RecipeAction, ...] = ()  # actions that name a package of this ecosystem
    version_source_key: str | None = None  # a [version] key naming the identifier as a fallback
    buildable: bool = True  # a deterministic builder exists (in tsuku or this kit)
    llm_only_upstream: bool = False  # tsuku's builder needs an LLM when this kit has no adapter
    manual_reason: str | None = None  # sources a human must write; the reason recorded
    language: bool = False  # a language package registry (its dependencies come with the tool)
    default_dependency: bool = False  # unprefixed dependency names in failure data mean this one
    refuses: RefusalRule | None = None  # identifiers the builder never takes (tap names, ...)
    settings: tuple[Setting, ...] = ()  # ecosystem-specific configuration values
    failure_codes: str = ""  # rows of the failure-code table only this ecosystem emits
    queue_files: tuple[str, ...] = ()  # legacy per-ecosystem queue files under data/queues/
    runtimes: tuple[str, ...] = ()  # language runtime names its packages need ("python", ...)
    runtime: RuntimePin | None = None  # the runtime its tools run on, as tsuku installs it
    # A tool the kit's install action installs packages with, in place of the runtime's own
    # installer, provisioned and mounted like a runtime (uv for PyPI): not something tsuku
    # installs, so a result line names it beside the runtime.
    installer_tool: RuntimePin | None = None

    @property
    def label(self) -> str:
        """``display_name``, else ``name``."""
        return self.display_name or self.name

    def refusal(self, identifier: str, entry_name: str = "") -> Refusal | None:
        """The refusal for ``identifier`` (queue entry ``entry_name``), or None."""
        return self.refuses(identifier, entry_name) if self.refuses is not None else None


# ---- discovery -------------------------------------------------------------------------------

_registered: list[str] = []  # module names added by ``registered``


@functools.cache
def _discovered_packages() -> tuple[str, ...]:
    package = importlib.import_module(ECOSYSTEMS_PACKAGE)
    return tuple(
        f"{ECOSYSTEMS_PACKAGE}.{m.name}"
        for m in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
        if m.ispkg
    )


def ecosystem_packages() -> tuple[str, ...]:
    """Module names of every ecosystem package: discovered ones, then registered ones."""
    return (*_discovered_packages(), *_registered)


@functools.cache
def _facts_of(packages: tuple[str, ...]) -> Mapping[str, tuple[EcosystemFacts, str]]:
    found: dict[str, tuple[EcosystemFacts, str]] = {}
    for module_name in packages:
        facts = getattr(importlib.import_module(module_name), "FACTS", None)
        if not isinstance(facts, EcosystemFacts):
            raise DataError(f"ecosystem package {module_name} defines no FACTS = EcosystemFacts")
        if facts.name in found:
            raise DataError(
                f"ecosystem {facts.name!r} is declared by {found[facts.name][1]} and {module_name}"
            )
        found[facts.name] = (facts, module_name)
    return MappingProxyType(found)


def all_facts() -> tuple[EcosystemFacts, ...]:
    """Every ecosystem's facts, in package order."""
    return tuple(facts for facts, _ in _facts_of(ecosystem_packages()).values())


def package_of(ecosystem: str) -> str | None:
    """The module name of the package declaring ``ecosystem`` (normalised), or None."""
    entry = _facts_of(ecosystem_packages()).get(ecosystem)
    return entry[1] if entry else None


def facts_for(ecosystem: str) -> EcosystemFacts | None:
    """The facts of ``ecosystem`` (a normalised prefix), or None when no package declares it."""
    entry = _facts_of(ecosystem_packages()).get(ecosystem)
    return entry[0] if entry else None


def ecosystem_names() -> tuple[str, ...]:
    """Every declared ecosystem (buildable or not)."""
    return tuple(f.name for f in all_facts())


def buildable_names() -> tuple[str, ...]:
    """Ecosystems a deterministic builder (tsuku's or this kit's) handles."""
    return tuple(f.name for f in all_facts() if f.buildable)


@contextmanager
def registered(module_name: str) -> Iterator[EcosystemFacts]:
    """Add the ecosystem package ``module_name`` (importable, with ``FACTS`` and usually an
    ``adapter`` module) to discovery inside the ``with`` block; yields its facts.

    This is the registration hook for packages outside ``automation/ecosystems/``.
    """
    if module_name in ecosystem_packages():
        raise UsageError(f"ecosystem package {module_name} is already registered")
    _registered.append(module_name)
    try:
        facts = getattr(importlib.import_module(module_name), "FACTS", None)
        if not isinstance(facts, EcosystemFacts):
            raise UsageError(f"{module_name} defines no FACTS = EcosystemFacts")
        all_facts()  # a name clash raises here, not later inside a run
        yield facts
    finally:
        _registered.remove(module_name)


# ---- source prefixes -------------------------------------------------------------------------


@functools.cache
def _alias_table(packages: tuple[str, ...]) -> Mapping[str, str]:
    table: dict[str, str] = {}
    for facts, _ in _facts_of(packages).values():
        for alias in facts.aliases:
            table[alias.lower()] = facts.name
    return MappingProxyType(table)


def normalise_ecosystem(prefix: str) -> str:
    """An alias prefix read as its ecosystem (tsuku's bootstrap wrote one for crates.io);
    unknown prefixes are returned lowercased."""
    key = prefix.strip().lower()
    return _alias_table(ecosystem_packages()).get(key, key)


def split_source(source: str) -> tuple[str, str]:
    """``"<ecosystem>:<identifier>"`` -> ``(ecosystem, identifier)`` with the prefix normalised.

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
    """``<normalised ecosystem>:<identifier>``."""
    return f"{normalise_ecosystem(ecosystem)}:{identifier}"


# ---- tables other modules read ---------------------------------------------------------------


def declared_endpoints() -> tuple[Endpoint, ...]:
    """Every ecosystem's endpoints, in package order (a name declared twice is an error)."""
    seen: dict[str, str] = {}
    out: list[Endpoint] = []
    for facts in all_facts():
        for endpoint in facts.endpoints:
            if endpoint.name in seen:
                raise DataError(
                    f"endpoint {endpoint.name!r} is declared by {seen[endpoint.name]} "
                    f"and {facts.name}"
                )
            seen[endpoint.name] = facts.name
            out.append(endpoint)
    return tuple(out)


def declared_settings() -> tuple[Setting, ...]:
    """Every ecosystem's configuration settings, in package order."""
    return tuple(s for facts in all_facts() for s in facts.settings)


def recipe_action_sources() -> Mapping[str, tuple[str, str]]:
    """Step action -> (ecosystem, parameter naming the package), from every ecosystem."""
    return _action_sources(ecosystem_packages())


@functools.cache
def _action_sources(packages: tuple[str, ...]) -> Mapping[str, tuple[str, str]]:
    return MappingProxyType(
        {
            action.action: (facts.name, action.param)
            for facts, _ in _facts_of(packages).values()
            for action in facts.recipe_actions
        }
    )


def version_source_keys() -> tuple[tuple[str, str], ...]:
    """``([version] key, ecosystem)`` pairs that name a recipe's source as a fallback."""
    return tuple((f.version_source_key, f.name) for f in all_facts() if f.version_source_key)


def refusal_for(ecosystem: str, identifier: str, entry_name: str = "") -> Refusal | None:
    """The ecosystem's refusal of ``identifier`` (None for unknown ecosystems)."""
    facts = facts_for(ecosystem)
    return facts.refusal(identifier, entry_name) if facts is not None else None


def legacy_queue_files() -> tuple[str, ...]:
    """File names (under ``data/queues/``) of the ecosystems' legacy ``packages[]`` queues."""
    return tuple(name for facts in all_facts() for name in facts.queue_files)
