"""Homebrew: formula JSON + bottle inspection on ghcr.io -> ``homebrew`` + ``install_binaries``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``builder`` where the recipe shape is its own, ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts, Endpoint, RecipeAction, Refusal


def tap_refusal(identifier: str, entry_name: str = "") -> Refusal | None:
    """A tap-qualified name (``user/tap/formula``) in the identifier or the queue entry's name:
    the builder takes homebrew/core names only."""
    if "/" not in identifier and "/" not in entry_name:
        return None
    return Refusal(
        "tap_name",
        "tap-qualified Homebrew name",
        f"{identifier!r} is a tap-qualified formula; the Homebrew builder takes core "
        "formula names only",
        counter="tap_pending",
        pending_warning=f"tap-qualified formula {identifier!r} is pending, but the Homebrew "
        "builder cannot build tap formulas",
    )


# Rows of the failure-code table (automation/registry/failure_codes.py's format) only this
# ecosystem emits; a row whose meaning is "-" adds an emitter to a shared code.
FAILURE_CODES = """
generation_failed | unsafe_name | no | excluded | - | ecosystems/homebrew/builder.py | -
recipe_not_found | tap_name | no | excluded | - | ops/maintenance.py | tap-qualified Homebrew
    formula (user/tap/name)
generation_failed | tap_name | no | excluded | - | stages/merge.py | Homebrew tap formula: not
    buildable
generation_failed | no_bottles | no | excluded | - | ecosystems/homebrew/builder.py,
    ops/maintenance.py | Homebrew formula without bottles
generation_failed | disabled | no | excluded | - | stages/merge.py | formula or cask disabled
    upstream
generation_failed | no_binaries | no | excluded | - | ecosystems/homebrew/builder.py | the bottle
    installs no executables
generation_failed | unsafe_bottle | no | excluded | - | ecosystems/homebrew/ghcr.py | the bottle
    exceeds member or size limits
generation_failed | bad_bottle | no | failed+backoff | - | ecosystems/homebrew/ghcr.py | the bottle
    is not a readable tarball
missing_dep | missing_dependency | no | blocked | - | ecosystems/homebrew/builder.py | dependencies
    have no recipe yet (blocked_by lists them)
install_failed | no_bottle | no | failed+backoff | - | ecosystems/homebrew/install.py | no bottle
    for this platform tag
install_failed | bad_recipe | no | failed+backoff | - | ecosystems/homebrew/install.py | -
- | homebrew | no | none | unsupported_platform | ecosystems/homebrew/install.py | skipped:
    macOS bottles are not validated in containers
"""

FACTS = EcosystemFacts(
    name="homebrew",
    display_name="Homebrew",
    endpoints=(
        Endpoint("homebrew", "https://formulae.brew.sh", 5.0),
        Endpoint("ghcr", "https://ghcr.io", 5.0),
    ),
    endpoint="homebrew",
    install_action="homebrew",
    id_key="formula",
    recipe_actions=(RecipeAction("homebrew", "formula"),),
    default_dependency=True,  # failure data lists unprefixed formula names per platform
    refuses=tap_refusal,
    queue_files=("priority-queue-homebrew.json",),
    failure_codes=FAILURE_CODES,
)
