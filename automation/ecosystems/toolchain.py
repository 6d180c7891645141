"""Builders for ecosystems installed by a language toolchain: crates.io, RubyGems, Go and CPAN.

Each emits one install step ``{<id key>: <install target>, executables}`` plus a ``[verify]``.
The adapter (``automation.ecosystems.<eco>``) has already read the registry; when the registry's
own data rules a recipe out (a library crate, a gem without executables, ...) it says so in
``ToolchainPackage.problem`` and the builder turns that into a ``BuildFailure`` with a specific
subcategory. Nothing here guesses an executable from a package name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from automation.core.errors import UnsafeNameError
from automation.core.names import check_recipe_name
from automation.ecosystems.recipe import (
    BuildFailure,
    BuiltRecipe,
    choose_homepage,
    clean_description,
    render_recipe,
    safe_executables,
    verify_executable_for,
)


@dataclass(frozen=True, slots=True)
class ToolchainSpec:
    action: str  # e.g. "cargo_install"
    id_key: str  # the action's parameter naming what to install: "crate", "gem", ...
    dependencies: tuple[str, ...] = ()  # recipe-level [metadata] dependencies


SPECS = {
    "crates.io": ToolchainSpec("cargo_install", "crate"),
    "rubygems": ToolchainSpec("gem_install", "gem"),
    "go": ToolchainSpec("go_install", "module", ("go",)),
    "cpan": ToolchainSpec("cpan_install", "distribution", ("perl",)),
}

# What may go into the install step: registry identifiers and Go package paths/patterns. The
# adapters apply each registry's own (stricter) rules first; this is the last line of defence.
_INSTALL_TARGET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~+/-]{0,299}")


@dataclass(frozen=True, slots=True)
class ToolchainPackage:
    """What a toolchain builder needs about one package, from its registry."""

    ecosystem: str
    identifier: str  # the queue's source identifier (never the display name)
    install_target: str  # value of the step's id key (crate, gem, distribution, Go package path)
    version: str
    description: str
    homepage_candidates: tuple[str, ...]  # in order of preference
    fallback_homepage: str  # an https page the registry serves for the package
    executables: tuple[str, ...]  # as declared upstream (order irrelevant; the builder sorts)
    primary: str = ""  # the name the verify executable should match (defaults to identifier)
    first_release: str | None = None
    problem: tuple[str, str] | None = None  # (subcategory, message): registry rules a recipe out


def verify_command_for(ecosystem: str, executable: str) -> str:
    """``<exe> --version``; a cargo subcommand ``cargo-x`` is run as ``cargo x --version``."""
    if ecosystem == "crates.io" and executable.startswith("cargo-") and len(executable) > 6:
        return f"cargo {executable[len('cargo-') :]} --version"
    return f"{executable} --version"


def build_toolchain(name: str, package: ToolchainPackage) -> BuiltRecipe | BuildFailure:
    """Build the recipe for ``package`` under registry name ``name`` (pure, deterministic)."""
    spec = SPECS.get(package.ecosystem)
    if spec is None:
        return BuildFailure(
            "generation_failed", "unsupported_ecosystem", f"no builder for {package.ecosystem!r}"
        )
    try:
        check_recipe_name(name)
    except UnsafeNameError as exc:
        return BuildFailure("generation_failed", "unsafe_name", str(exc))
    source = f"{package.ecosystem}:{package.identifier}"
    if package.problem is not None:
        subcategory, message = package.problem
        return BuildFailure(
            "generation_failed", subcategory, f"{source}: {message}", version=package.version
        )
    # A Go package pattern may end in "/..." (every main package below); nowhere else "..".
    target = package.install_target.removesuffix("/...")
    if not _INSTALL_TARGET.fullmatch(target) or ".." in target:
        return BuildFailure(
            "generation_failed",
            "unsafe_name",
            f"{source}: unsafe install target {package.install_target[:100]!r}",
            version=package.version,
        )
    executables, rejected = safe_executables(package.executables)
    if not executables:
        detail = f" (rejected unsafe names: {', '.join(rejected)})" if rejected else ""
        return BuildFailure(
            "generation_failed",
            "no_executables",
            f"{source} {package.version} declares no command-line executables{detail}",
            version=package.version,
        )
    verify_exe = verify_executable_for(package.primary or package.identifier, executables)
    text = render_recipe(
        name=name,
        description=clean_description(
            package.description, f"{package.identifier} command-line tool"
        ),
        homepage=choose_homepage(package.homepage_candidates, package.fallback_homepage),
        dependencies=spec.dependencies,
        steps=[
            {
                "action": spec.action,
                spec.id_key: package.install_target,
                "executables": list(executables),
            }
        ],
        verify_command=verify_command_for(package.ecosystem, verify_exe),
    )
    return BuiltRecipe(
        name=name,
        source=source,
        text=text,
        executables=executables,
        verify_executable=verify_exe,
        version=package.version,
        first_release=package.first_release,
    )
