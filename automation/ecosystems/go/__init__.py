"""Go: resolve the module path on the proxy, find its main packages -> ``go_install``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction

FACTS = EcosystemFacts(
    name="go",
    aliases=("golang", "goproxy"),
    endpoints=(Endpoint("goproxy", "https://proxy.golang.org", 10.0),),
    endpoint="goproxy",
    install_action="go_install",
    id_key="module",
    dependencies=("go",),
    recipe_actions=(RecipeAction("go_install", "module"),),
    language=True,
)
