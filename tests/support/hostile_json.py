"""JSON texts outside the data bounds (``automation.core.jsondata``), for reader tests.

``deep_nested`` exceeds Python's recursion limit when decoded with plain ``json.loads``
(RecursionError); ``HUGE`` is a valid JSON integer outside int64 (an OverflowError in SQLite,
a silently absurd count elsewhere).
"""

from __future__ import annotations

DEEP_LEVELS = 5000
HUGE = 10**30
DEEP_MESSAGE = "nested deeper than 64 levels"
HUGE_MESSAGE = "outside the 64-bit range"


def deep_nested(levels: int = DEEP_LEVELS) -> str:
    """One JSON object nesting ``levels`` objects deep, on one line."""
    return '{"a": ' * levels + "1" + "}" * levels
