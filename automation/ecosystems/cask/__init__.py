"""Homebrew casks: ``/api/cask/<token>.json`` -> ``app_bundle``
(``automation.ecosystems.cask.builder``).

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import VERSION_PARAM, EcosystemFacts, RecipeAction
from automation.ecosystems.homebrew import tap_refusal

# An ``app_bundle`` step only carries the cask version provider's templates (url, checksum) and
# the app name; the cask is ``[version] cask`` (reference recipes/i/iterm2.toml).
FACTS = EcosystemFacts(
    name="cask",
    endpoint="homebrew",
    install_action="app_bundle",
    recipe_actions=(RecipeAction("app_bundle", VERSION_PARAM + "cask"),),
    refuses=tap_refusal,
)
