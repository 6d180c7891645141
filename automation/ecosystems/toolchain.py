"""Builder for ecosystems installed by a language toolchain (``cargo_install``-like steps).

Each emits one install step ``{<id key>: <install target>, executables}`` plus a ``[verify]``; the
ecosystem's facts (``FACTS.install_action``, ``id_key``, ``dependencies``, ``subcommand_prefix``)
give its shape.
The adapter (``automation.ecosystems.<eco>``) has already read the registry; when the registry's
own data rules a recipe out (a library crate, a gem without executables, ...) it says so in
``ToolchainPackage.problem`` and the builder turns that into a ``BuildFailure`` with a specific
subcategory. Nothing here guesses an executable from a package name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from automation.core.ecosystem_facts import facts_for
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
    downloads: int | None = None  # from the registry document, when it says (popularity gate)
    downloads_period: str | None = None  # what ``downloads`` counts ("all time", "30 days")
    problem: tuple[str, str] | None = None  # (subcategory, message): registry rules a recipe out


def verify_command_for(ecosystem: str, executable: str) -> str:
    """``<exe> --version``; a subcommand executable ``<tool>-x`` of an ecosystem that declares
    ``subcommand_prefix = "<tool>-"`` is run as ``<tool> x --version``."""
    facts = facts_for(ecosystem)
    prefix = facts.subcommand_prefix if facts is not None else None
    if prefix and executable.startswith(prefix) and len(executable) > len(prefix):
        return f"{prefix.rstrip('-')} {executable[len(prefix) :]} --version"
    return f"{executable} --version"


def build_toolchain(name: str, package: ToolchainPackage) -> BuiltRecipe | BuildFailure:
    """Build the recipe for ``package`` under registry name ``name`` (pure, deterministic)."""
    spec = facts_for(package.ecosystem)
    if spec is None or spec.install_action is None or spec.id_key is None:
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
                "action": spec.install_action,
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
        downloads=package.downloads,
        downloads_period=package.downloads_period,
    )
