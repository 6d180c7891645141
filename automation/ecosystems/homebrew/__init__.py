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


FACTS = EcosystemFacts(
    name="homebrew",
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
)
