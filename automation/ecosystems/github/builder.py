"""GitHub releases -> ``github_archive`` / ``github_file`` steps, without an LLM.

The pure builder: the release's asset names go through ``automation.ecosystems.github.assets``
(per-platform
choice, patterns with ``{version}``/``{os}``/``{arch}``, ``when`` clauses); ``[version]`` names
the repository and the tag prefix. Platforms without an asset are excluded through
``automation.registry.constraints.derive_constraints`` (so the loader never offers them) and named
in
``unsupported_reason``. Failures: ``recipe_not_found/no_release`` (no stable release),
``generation_failed/asset_not_found`` (no asset for any platform), ``too_many_assets``,
``no_executables``, ``unsafe_name``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tomlkit

from automation.core.errors import UnsafeNameError
from automation.core.names import check_recipe_name
from automation.ecosystems.github.assets import (
    TARGETS,
    Picks,
    PlannedStep,
    pick,
    plan_steps,
    split_tag,
)
from automation.ecosystems.github.client import MAX_ASSETS, GithubProject
from automation.ecosystems.recipe import (
    BuildFailure,
    BuiltRecipe,
    choose_homepage,
    clean_description,
    render_recipe,
    safe_executables,
)
from automation.registry.constraints import derive_constraints


@dataclass(frozen=True, slots=True)
class GithubFacts:
    """What the adapter fetched, plus the curated executable names when the list has them."""

    project: GithubProject
    executables: tuple[str, ...] = ()
    archive_listings: tuple[tuple[str, tuple[str, ...]], ...] = ()  # asset name -> members


@dataclass(frozen=True, slots=True)
class GithubPlan:
    """The picker's outcome for one release (for reports and for ``lookup``)."""

    version: str
    tag_prefix: str
    executables: tuple[str, ...]
    picks: Picks
    steps: tuple[dict[str, Any], ...]
    planned: tuple[PlannedStep, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(t.label for t in self.picks.missing)


def default_executables(facts: GithubFacts) -> tuple[str, ...]:
    """Curated names when known, else the repository name (rejected names dropped)."""
    names = facts.executables or (facts.project.repo.rsplit("/", 1)[-1],)
    usable, _ = safe_executables(names)
    # Keep the curated order (the first is the one verified), dropping unsafe names.
    return tuple(n for n in dict.fromkeys(names) if n in usable)


def plan_release(facts: GithubFacts) -> GithubPlan | BuildFailure:
    """Pick assets and plan steps (pure)."""
    project = facts.project
    release = project.release
    if release is None:
        return BuildFailure(
            "recipe_not_found",
            "no_release",
            f"github:{project.repo} has no published stable release",
        )
    if release.asset_count > MAX_ASSETS:
        return BuildFailure(
            "generation_failed",
            "too_many_assets",
            f"github:{project.repo} {release.tag} lists {release.asset_count} assets "
            f"(GitHub allows {MAX_ASSETS}); refusing to guess",
            version=release.tag,
        )
    executables = default_executables(facts)
    if not executables:
        return BuildFailure(
            "generation_failed",
            "no_executables",
            f"github:{project.repo}: no safe executable name",
            version=release.tag,
        )
    prefix, version = split_tag(release.tag)
    repo_name = project.repo.rsplit("/", 1)[-1]
    picks = pick([(a.name, a.size) for a in release.assets], preferred=[*executables, repo_name])
    if not picks.chosen:
        detail = (
            "has no assets"
            if not release.assets
            else f"has {len(release.assets)} assets, none for linux or darwin on amd64/arm64"
        )
        return BuildFailure(
            "generation_failed",
            "asset_not_found",
            f"github:{project.repo} {release.tag} {detail}",
            version=version,
        )
    listings = {name: members for name, members in facts.archive_listings}
    steps, planned = plan_steps(
        picks,
        repo=project.repo,
        version=version,
        executables=executables,
        all_names=[a.name for a in release.assets],
        listing=listings or None,
    )
    return GithubPlan(version, prefix, executables, picks, tuple(steps), planned)


def _inline(value: dict[str, Any]) -> Any:
    table = tomlkit.inline_table()
    for key, item in value.items():
        table.append(key, item)
    return table


def build_github(name: str, facts: GithubFacts) -> BuiltRecipe | BuildFailure:
    """Build the recipe for ``facts`` under registry name ``name`` (pure, deterministic)."""
    try:
        check_recipe_name(name)
    except UnsafeNameError as exc:
        return BuildFailure("generation_failed", "unsafe_name", str(exc))
    plan = plan_release(facts)
    if isinstance(plan, BuildFailure):
        return plan
    project = facts.project
    release = project.release
    assert release is not None
    steps: list[dict[str, object]] = []
    for step in plan.steps:
        rendered: dict[str, object] = {}
        for key, value in step.items():
            rendered[key] = _inline(value) if isinstance(value, dict) else value
        steps.append(rendered)
    extra: dict[str, object] = {}
    if plan.picks.missing:
        outcomes = {
            t.validation_platform: ("pass" if t in plan.picks.chosen else "fail") for t in TARGETS
        }
        extra.update(derive_constraints(outcomes).fields.as_metadata())
        extra["unsupported_reason"] = f"release {release.tag} publishes no asset for " + ", ".join(
            plan.missing
        )
    verify_exe = plan.executables[0]
    text = render_recipe(
        name=name,
        description=clean_description(
            project.info.description, f"{project.repo} command-line tool"
        ),
        homepage=choose_homepage(
            (project.info.homepage or "",), f"https://github.com/{project.repo}"
        ),
        steps=steps,
        verify_command=f"{verify_exe} --version",
        extra_metadata=extra,
    )
    return BuiltRecipe(
        name=name,
        source=f"github:{project.repo}",
        text=_with_version_table(text, project.repo, plan.tag_prefix),
        executables=plan.executables,
        verify_executable=verify_exe,
        version=plan.version,
    )


def _with_version_table(text: str, repo: str, tag_prefix: str) -> str:
    """Insert ``[version]`` after ``[metadata]`` (where hand-written recipes keep it)."""
    parsed = tomlkit.parse(text)
    out = tomlkit.document()
    out.add("metadata", parsed["metadata"])
    version = tomlkit.table()
    version.add("github_repo", repo)
    if tag_prefix:
        version.add("tag_prefix", tag_prefix)
    out.add("version", version)
    for key in ("steps", "verify"):
        if key in parsed:
            out.add(key, parsed[key])
    return tomlkit.dumps(out)


def executables_of(plan: GithubPlan | BuildFailure) -> Sequence[str]:
    """Executables a seeding look-up reports: none when nothing installable was found."""
    return () if isinstance(plan, BuildFailure) else plan.executables
