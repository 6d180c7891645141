"""CPAN: the latest MetaCPAN release and the scripts it installs -> ``cpan_install``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction

# Rows of the failure-code table (automation/registry/failure_codes.py's format) only this
# ecosystem emits; a row whose meaning is "-" adds an emitter to a shared code.
FAILURE_CODES = """
recipe_not_found | package_not_found | no | excluded | - | ecosystems/cpan/install.py | -
install_failed | runtime_version | no | failed+backoff | - | ecosystems/cpan/install.py | -
generation_failed | no_executables | no | excluded | - | ecosystems/cpan/adapter.py | -
"""

FACTS = EcosystemFacts(
    name="cpan",
    aliases=("perl", "metacpan"),
    # MetaCPAN's API (release documents, the file index) and the CPAN mirror cpanm installs
    # from (``modules/02packages.details.txt.gz``, ``authors/id/...``): two services, two
    # endpoints; AUTOMATION_ENDPOINT_CPAN points cpan_install at another mirror.
    endpoints=(
        Endpoint("metacpan", "https://fastapi.metacpan.org", 2.0),
        Endpoint("cpan", "https://cpan.metacpan.org", 2.0),
    ),
    endpoint="metacpan",
    install_action="cpan_install",
    id_key="distribution",
    dependencies=("perl",),
    recipe_actions=(RecipeAction("cpan_install", "distribution"),),
    language=True,
    runtimes=("perl",),
    failure_codes=FAILURE_CODES,
)
