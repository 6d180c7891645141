"""``manual:`` sources: a human writes the recipe. Only facts, no builder.

Queue housekeeping moves such entries to ``requires_manual`` with the reason below; drift reports
recipes that name no source under this prefix.
"""

from __future__ import annotations

from automation.core.ecosystem_facts import EcosystemFacts

# Rows of the failure-code table (automation/registry/failure_codes.py's format) only this
# ecosystem emits; a row whose meaning is "-" adds an emitter to a shared code.
FAILURE_CODES = """
recipe_not_found | manual_source | no | requires_manual | - | ops/maintenance.py | a manual: source:
    a human writes the recipe
"""

FACTS = EcosystemFacts(
    name="manual",
    buildable=False,
    manual_reason="source is manual: a human writes this recipe",
    failure_codes=FAILURE_CODES,
)
