"""``manual:`` sources: a human writes the recipe. Only facts, no builder.

Queue housekeeping moves such entries to ``requires_manual`` with the reason below; drift reports
recipes that name no source under this prefix.
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts

FACTS = EcosystemFacts(
    name="manual",
    buildable=False,
    manual_reason="source is manual: a human writes this recipe",
)
