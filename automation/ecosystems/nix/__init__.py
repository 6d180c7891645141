"""Nix: recipes with a ``nix_install`` step. No builder in tsuku's deterministic set or here.

Only facts: the prefix is known (so ``[metadata.satisfies]`` entries and queue sources are read),
and recipes installing from it are traced back to their source.
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, RecipeAction

FACTS = EcosystemFacts(
    name="nix",
    recipe_actions=(RecipeAction("nix_install", "package"),),
    buildable=False,
)
