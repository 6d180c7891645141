"""Breaker histories for the breaker and selection tests: a start time, outcomes as a string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from automation.registry.breaker import BreakerConfig, BreakerState, record

T0 = datetime(2026, 8, 15, 12, 0, tzinfo=UTC)
CONFIG = BreakerConfig()


@dataclass(frozen=True)
class Entry:
    """The queue-entry fields selection reads."""

    name: str
    source: str
    priority: int = 3
    status: str = "pending"
    failure_count: int = 0
    next_retry_at: datetime | str | None = None


def run(state: BreakerState, outcomes: str, now: datetime = T0) -> BreakerState:
    """``state`` after one batch outcome per character: ``s`` a success, anything else a failure."""
    for char in outcomes:
        state = record(state, char == "s", now, CONFIG)
    return state
