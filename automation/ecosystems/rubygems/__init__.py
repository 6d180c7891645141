"""RubyGems: the gem document plus the ``.gem``'s gemspec ``executables`` -> ``gem_install``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction

# Rows of the failure-code table (automation/registry/failure_codes.py's format) only this
# ecosystem emits; a row whose meaning is "-" adds an emitter to a shared code.
FAILURE_CODES = """
recipe_not_found | package_not_found | no | excluded | - | ecosystems/rubygems/install.py | -
install_failed | runtime_version | no | failed+backoff | - | ecosystems/rubygems/install.py | -
install_failed | build_failed | no | failed+backoff | - | ecosystems/rubygems/install.py | -
generation_failed | no_executables | no | excluded | - | ecosystems/rubygems/adapter.py | -
"""

FACTS = EcosystemFacts(
    name="rubygems",
    aliases=("gem", "gems", "rubygems.org"),
    # RubyGems documents 10 req/s for the API but throttles bulk gem downloads hard.
    endpoints=(Endpoint("rubygems", "https://rubygems.org", 0.2),),
    endpoint="rubygems",
    install_action="gem_install",
    id_key="gem",
    recipe_actions=(RecipeAction("gem_install", "gem"),),
    language=True,
    runtimes=("ruby",),
    failure_codes=FAILURE_CODES,
)
