"""GitHub releases: ``github:<owner>/<repo>`` -> ``github_archive`` / ``github_file`` steps.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction

# Rows of the failure-code table (automation/registry/failure_codes.py's format) only this
# ecosystem emits; a row whose meaning is "-" adds an emitter to a shared code.
FAILURE_CODES = """
recipe_not_found | no_release | no | failed+backoff | - | ecosystems/github/builder.py | the
    repository has no published stable release (yet)
generation_failed | llm_only_source | no | requires_manual | - | ops/maintenance.py | the source
    needs the LLM builder (github:)
generation_failed | too_many_assets | no | requires_manual | - | ecosystems/github/builder.py | the
    release lists more assets than can be read: a human picks
generation_failed | asset_not_found | no | failed+backoff | - | ecosystems/github/builder.py | the
    release has no asset for any supported platform
install_failed | checksum_missing | no | failed+backoff | - | ecosystems/github/install.py | -
install_failed | bad_recipe | no | failed+backoff | - | ecosystems/github/install.py | -
install_failed | no_version | no | failed+backoff | - | ecosystems/github/install.py | -
"""

FACTS = EcosystemFacts(
    name="github",
    endpoints=(
        # The unauthenticated core limit is 60/hour, so 1/s needs a token to last.
        Endpoint("github", "https://api.github.com", 1.0, token_env="GITHUB_TOKEN"),
        # Release asset downloads (browser_download_url), read for archive listings.
        Endpoint("githubdownload", "https://github.com", 5.0),
    ),
    endpoint="github",
    install_action="github_archive",
    id_key="repo",
    recipe_actions=(
        RecipeAction("github_archive", "repo"),
        RecipeAction("github_file", "repo"),
        RecipeAction("download_archive", "repo"),  # only when it names a repo
    ),
    version_source_key="github_repo",
    llm_only_upstream=True,  # tsuku's builder needs an LLM (exit 9 in its pipeline)
    failure_codes=FAILURE_CODES,
)
