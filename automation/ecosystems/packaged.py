"""Builder for ecosystems whose package manager installs the tool from its own registry.

The ecosystem's facts (``FACTS.install_action``, ``id_key``, ``dependencies``) give the step shape.
Each emits one install step ``{<id key>, executables}`` and a ``[verify]`` that runs the executable
matching the package name. A package whose declared runtime requirement excludes the runtime tsuku
installs (``UpstreamPackage.runtime_conflict``, found by the ecosystem's adapter) fails with
``runtime_unsatisfiable``. The verify pattern is left for validation to fill in from what the tool
really prints.
"""

from __future__ import annotations

from automation.core.ecosystem_facts import facts_for
from automation.core.errors import UnsafeNameError
from automation.core.names import check_recipe_name
from automation.ecosystems.recipe import (
    BuildFailure,
    BuiltRecipe,
    UpstreamPackage,
    choose_homepage,
    clean_description,
    render_recipe,
    safe_executables,
    verify_executable_for,
)


def build_packaged(name: str, package: UpstreamPackage) -> BuiltRecipe | BuildFailure:
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
    executables, rejected = safe_executables(package.executables)
    if not executables:
        detail = f" (rejected unsafe names: {', '.join(rejected)})" if rejected else ""
        return BuildFailure(
            "generation_failed",
            "no_executables",
            f"{package.ecosystem}:{package.identifier} {package.version} declares no "
            f"command-line executables{detail}",
        )
    if package.runtime_conflict:
        return BuildFailure(
            "generation_failed",
            "runtime_unsatisfiable",
            f"{package.ecosystem}:{package.identifier}: {package.runtime_conflict}",
            version=package.version,
        )
    verify_exe = verify_executable_for(package.identifier, executables)
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
                spec.id_key: package.identifier,
                "executables": list(executables),
            }
        ],
        verify_command=f"{verify_exe} --version",
    )
    return BuiltRecipe(
        name=name,
        source=f"{package.ecosystem}:{package.identifier}",
        text=text,
        executables=executables,
        verify_executable=verify_exe,
        version=package.version,
        first_release=package.first_release,
        downloads=package.downloads,
        downloads_period=package.downloads_period,
    )
