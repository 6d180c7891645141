"""crates.io: the crate document's newest non-yanked version and its ``bin_names`` ->

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction

FACTS = EcosystemFacts(
    name="crates.io",
    aliases=("cargo", "crates", "crates_io", "cratesio"),
    endpoints=(Endpoint("cratesio", "https://crates.io", 1.0),),
    endpoint="cratesio",
    install_action="cargo_install",
    id_key="crate",
    subcommand_prefix="cargo-",
    recipe_actions=(RecipeAction("cargo_install", "crate"),),
    language=True,
)
