"""crates.io: the crate document's newest non-yanked version and its ``bin_names`` ->

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction

# Rows of the failure-code table (automation/registry/failure_codes.py's format) only this
# ecosystem emits; a row whose meaning is "-" adds an emitter to a shared code.
FAILURE_CODES = """
generation_failed | library_only | no | excluded | - | ecosystems/cratesio/adapter.py | -
generation_failed | all_yanked | no | failed+backoff | - | ecosystems/cratesio/adapter.py | every
    published crate version is yanked
generation_failed | no_bin_metadata | no | failed+backoff | - | ecosystems/cratesio/adapter.py | the
    registry does not say which binaries a crate ships (never guessed)
"""

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
    runtimes=("rust",),
    failure_codes=FAILURE_CODES,
)
