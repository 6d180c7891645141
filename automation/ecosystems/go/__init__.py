"""Go: resolve the module path on the proxy, find its main packages -> ``go_install``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction

# Rows of the failure-code table (automation/registry/failure_codes.py's format) only this
# ecosystem emits; a row whose meaning is "-" adds an emitter to a shared code.
FAILURE_CODES = """
generation_failed | no_executables | no | excluded | - | ecosystems/go/client.py | -
generation_failed | no_package | no | excluded | - | ecosystems/go/client.py | the Go module has no
    package at the requested path
generation_failed | not_main_package | no | excluded | - | ecosystems/go/client.py | the Go package
    is not a main package
"""

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
    runtimes=("go",),
    failure_codes=FAILURE_CODES,
)
