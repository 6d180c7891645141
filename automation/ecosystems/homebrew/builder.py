"""Homebrew builder: inspected bottles in, a ``homebrew`` + ``install_binaries`` recipe out.

Pure: the adapter (``automation.ecosystems.homebrew.adapter``) has already read the formula
document,
listed the bottles' kegs and looked at the registry; this module only decides.

* A keg with ``bin/`` entries on some platform makes a tool recipe: ``homebrew {formula}`` then
  ``install_binaries {binaries = ["bin/<x>", ...]}`` (sorted). Platforms whose lists differ get
  one pair of steps each, with a ``when`` clause; identical lists share one pair without ``when``.
  Verify runs the executable named like the formula (else the first in sort order).
* Otherwise library files (``lib/*.{a,dylib,so,so.N}``, ``lib/pkgconfig/*.pc``) and headers
  make a library recipe: ``type = "library"``, ``[version] source = "homebrew"``, per-platform
  ``install_binaries {install_mode = "directory", outputs}``, no verify.
* Platforms without a usable bottle are left out of the steps; the recipe's constraints say so
  (``automation.registry.constraints.derive_constraints``) and ``unsupported_reason`` names them.
* Formula dependencies must resolve to registry recipes (``data/dep-mapping.json``, recipe
  names, ``satisfies`` and source identifiers); any miss is ``missing_dep`` with ``blocked_by``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import tomlkit

from automation.core.errors import UnsafeNameError
from automation.core.names import check_recipe_name
from automation.ecosystems.homebrew.client import PLATFORMS, Formula
from automation.ecosystems.homebrew.ghcr import BottleListing
from automation.ecosystems.recipe import (
    BuildFailure,
    BuiltRecipe,
    choose_homepage,
    clean_description,
    generated_metadata,
)
from automation.registry.constraints import VALIDATION_PLATFORMS, derive_constraints, parse_platform

# ---------------------------------------------------------------- what the adapter hands over


@dataclass(frozen=True, slots=True)
class RegistryView:
    """The registry as dependency resolution sees it (built by the adapter, read-only here)."""

    recipe_for: Mapping[str, str]  # identity (name, satisfies value, source id) -> recipe name
    dep_mapping: Mapping[str, str]  # Homebrew dependency -> recipe name (only names that differ)

    @classmethod
    def build(
        cls, recipes: Iterable[tuple[str, Iterable[str]]], dep_mapping: Mapping[str, str]
    ) -> RegistryView:
        """From ``(recipe name, identities)`` pairs; a recipe's own name always wins."""
        pairs = sorted((name, tuple(sorted(ids))) for name, ids in recipes)
        table: dict[str, str] = {name: name for name, _ in pairs}
        for name, identities in pairs:
            for identity in identities:
                table.setdefault(identity, name)
        return cls(MappingProxyType(table), MappingProxyType(dict(dep_mapping)))

    def resolve(self, dependency: str) -> str | None:
        """The recipe that provides Homebrew dependency ``dependency``, or None."""
        mapped = self.dep_mapping.get(dependency, dependency)
        for candidate in (mapped, dependency):
            found = self.recipe_for.get(candidate)
            if found is not None:
                return found
        return None

    def wanted_name(self, dependency: str) -> str:
        """The recipe name a missing dependency would have (what blocks this formula)."""
        return self.dep_mapping.get(dependency, dependency)


EMPTY_REGISTRY = RegistryView(MappingProxyType({}), MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class PlatformBottle:
    platform: str  # "linux/amd64", "linux/arm64", "darwin/arm64", "darwin/amd64"
    tag: str  # the bottle tag read for it
    listing: BottleListing


@dataclass(frozen=True, slots=True)
class MissingPlatform:
    platform: str
    reason: str


@dataclass(frozen=True, slots=True)
class HomebrewFacts:
    """A formula whose bottles were inspected (or not, when its dependencies are missing)."""

    formula: Formula
    registry: RegistryView
    bottles: tuple[PlatformBottle, ...]
    missing: tuple[MissingPlatform, ...]
    inspected: bool = True


@dataclass(frozen=True, slots=True)
class HomebrewRefusal:
    """The adapter decided before or while inspecting: tap name, disabled, no bottles, ..."""

    identifier: str
    subcategory: str
    message: str
    version: str = ""


@dataclass(frozen=True, slots=True)
class NotedRecipe(BuiltRecipe):
    """A built recipe plus what the builder left out and why (platforms, ignored members)."""

    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------- rendering


def render_document(
    *,
    metadata: Mapping[str, object],
    steps: Sequence[Mapping[str, object]],
    version: Mapping[str, str] | None = None,
    verify: Mapping[str, str] | None = None,
    satisfies: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Render through tomlkit: ``[metadata]`` (+ ``[metadata.satisfies]``), ``[version]``,
    ``[[steps]]`` with inline ``when`` tables, ``[verify]``. Every value is escaped by tomlkit.
    The metadata gets ``llm_validation = "skipped"`` where tsuku puts it
    (``generated_metadata``)."""
    name = metadata.get("name")
    if not isinstance(name, str):
        raise UnsafeNameError("recipe metadata needs a name")
    check_recipe_name(name)
    doc = tomlkit.document()
    meta = tomlkit.table()
    for key, value in generated_metadata(metadata).items():
        meta.add(key, value)
    if satisfies:
        sub = tomlkit.table()
        for key, values in satisfies.items():
            sub.add(key, list(values))
        meta.add("satisfies", sub)
    doc.add("metadata", meta)
    if version:
        table = tomlkit.table()
        for key, value in version.items():
            table.add(key, value)
        doc.add("version", table)
    steps_array = tomlkit.aot()
    for step in steps:
        table = tomlkit.table()
        for key, value in step.items():
            if key == "when" and isinstance(value, Mapping):
                inline = tomlkit.inline_table()
                inline.update(value)
                table.add(key, inline)
            else:
                table.add(key, value)
        steps_array.append(table)
    doc.add("steps", steps_array)
    if verify is not None:
        table = tomlkit.table()
        for key, value in verify.items():
            table.add(key, value)
        doc.add("verify", table)
    return tomlkit.dumps(doc)


# ---------------------------------------------------------------- helpers


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


def verify_binary(formula: str, names: Sequence[str]) -> str:
    """The executable named like the formula (``openssl@3`` -> ``openssl``), else the first."""
    wanted = {_normalise(formula), _normalise(formula.split("@", 1)[0])}
    for name in sorted(names):
        if _normalise(name) in wanted:
            return name
    return sorted(names)[0]


def constraints_for(covered: Iterable[str]) -> dict[str, list[str]]:
    """Minimal constraint fields admitting exactly the covered platforms (glibc on Linux)."""
    points = set(covered)
    outcomes: dict[str, str] = {}
    for environment in VALIDATION_PLATFORMS:
        point = parse_platform(environment).point
        label = f"{point.os}/{point.arch}"
        ok = label in points and point.libc in (None, "glibc")
        outcomes[environment] = "pass" if ok else "fail"
    decision = derive_constraints(outcomes)
    return decision.fields.as_metadata()


def _when(group: Sequence[str], covered: Sequence[str]) -> dict[str, object]:
    oses = sorted({p.split("/", 1)[0] for p in group})
    whole_os = all({p for p in covered if p.startswith(os_ + "/")} <= set(group) for os_ in oses)
    when: dict[str, object] = {"os": oses} if whole_os else {"platform": sorted(group)}
    if "linux" in oses:
        when["libc"] = ["glibc"]  # bottles are built against glibc
    return when


def _groups(by_platform: Mapping[str, tuple[str, ...]]) -> list[tuple[tuple[str, ...], list[str]]]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for platform in PLATFORMS:
        files = by_platform.get(platform)
        if files:
            groups.setdefault(files, []).append(platform)
    return list(groups.items())


def _failure(subcategory: str, message: str, version: str = "") -> BuildFailure:
    return BuildFailure("generation_failed", subcategory, message, version=version)


# ---------------------------------------------------------------- the builder


def build_homebrew(name: str, facts: HomebrewFacts | HomebrewRefusal) -> BuiltRecipe | BuildFailure:
    """Build the recipe for an inspected formula under registry name ``name`` (pure)."""
    if isinstance(facts, HomebrewRefusal):
        return _failure(facts.subcategory, facts.message, facts.version)
    formula = facts.formula
    try:
        check_recipe_name(name)
    except UnsafeNameError as exc:
        return _failure("unsafe_name", str(exc), formula.version)
    runtime: set[str] = set()
    missing: set[str] = set()
    for dependency in formula.dependencies:
        found = facts.registry.resolve(dependency)
        if found is None:
            missing.add(facts.registry.wanted_name(dependency))
        elif found != name:
            runtime.add(found)
    if missing:
        lines = [f"recipe {dep} not found in registry" for dep in sorted(missing)]
        return BuildFailure(
            "missing_dep",
            "missing_dependency",
            f"homebrew:{formula.name} {formula.version} needs recipes that do not exist yet:\n"
            + "\n".join(lines),
            blocked_by=tuple(sorted(missing)),
            version=formula.version,
        )
    if not facts.inspected:
        return _failure(
            "no_bottles", f"{formula.name}: bottles were not inspected", formula.version
        )
    bins = {b.platform: b.listing.binaries for b in facts.bottles if b.listing.binaries}
    outputs = {b.platform: b.listing.outputs for b in facts.bottles if b.listing.outputs}
    notes = [f"no bottle for {m.platform}: {m.reason}" for m in facts.missing]
    ignored = sorted({i for b in facts.bottles for i in b.listing.ignored})
    if ignored:
        notes.append(f"{len(ignored)} bottle members ignored, e.g. {ignored[0]}")
    if not bins and not outputs:
        read = ", ".join(f"{b.platform} ({b.tag})" for b in facts.bottles) or "none"
        return _failure(
            "no_binaries",
            f"{formula.name} {formula.version}: no bin/ executables, libraries or headers in "
            f"the bottles inspected: {read}",
            formula.version,
        )
    library = not bins
    chosen = outputs if library else bins
    for bottle in facts.bottles:
        if bottle.platform not in chosen:
            what = "library files" if library else "bin/ executables"
            notes.append(f"left out {bottle.platform}: its bottle ({bottle.tag}) has no {what}")
    covered = [p for p in PLATFORMS if p in chosen]
    groups = _groups(chosen)
    steps: list[dict[str, object]] = []
    for files, group in groups:
        when = _when(group, covered) if len(groups) > 1 else None
        steps.append(
            {"action": "homebrew", "formula": formula.name, **({"when": when} if when else {})}
        )
        install: dict[str, object] = {"action": "install_binaries"}
        if library:
            install.update(install_mode="directory", outputs=list(files))
        else:
            install["binaries"] = list(files)
        if when:
            install["when"] = when
        steps.append(install)
    metadata: dict[str, object] = {
        "name": name,
        "description": clean_description(formula.description, f"{formula.name} (Homebrew)"),
        "homepage": choose_homepage(
            (formula.homepage,), f"https://formulae.brew.sh/formula/{formula.name}"
        ),
    }
    if library:
        metadata["type"] = "library"
    if runtime:
        metadata["runtime_dependencies"] = sorted(runtime)
    metadata.update(constraints_for(covered))
    left_out = [p for p in PLATFORMS if p not in covered]
    why = "Homebrew bottles are built for glibc"
    if left_out:
        why = f"no usable Homebrew bottle for {', '.join(left_out)}; " + why
    metadata["unsupported_reason"] = why
    executables: tuple[str, ...] = ()
    verify_exe = ""
    verify = None
    if not library:
        per_group = [{f.split("/", 1)[1] for f in files} for files, _ in groups]
        common = set.intersection(*per_group) or set.union(*per_group)
        verify_exe = verify_binary(formula.name, sorted(common))
        executables = tuple(sorted(set.union(*per_group)))
        verify = {"command": f"{verify_exe} --version", "pattern": ""}
    text = render_document(
        metadata=metadata,
        satisfies={"homebrew": [formula.name]} if name != formula.name else None,
        version={"source": "homebrew", "formula": formula.name} if library else None,
        steps=steps,
        verify=verify,
    )
    return NotedRecipe(
        name=name,
        source=f"homebrew:{formula.name}",
        text=text,
        executables=executables,
        verify_executable=verify_exe,
        version=formula.version,
        notes=tuple(notes),
    )
