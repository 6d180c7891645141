"""Circuit breaker state machine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automation.registry.breaker import (
    BreakerConfig,
    BreakerState,
    admits,
    effective,
    record,
    record_batch,
)
from tests.support.breaker_history import CONFIG, T0, run

# --- state machine ------------------------------------------------------------------------------


def test_config_validation_and_capped_cooldown() -> None:
    with pytest.raises(ValueError):
        BreakerConfig(threshold=1.5)
    with pytest.raises(ValueError):
        BreakerConfig(window=3, min_samples=5)
    assert CONFIG.cooldown_for(1) == timedelta(minutes=60)
    assert CONFIG.cooldown_for(2) == timedelta(minutes=120)
    assert CONFIG.cooldown_for(4) == timedelta(hours=8)
    assert CONFIG.cooldown_for(10_000) == timedelta(hours=24)  # capped, no overflow


def test_needs_min_samples_before_tripping() -> None:
    assert run(BreakerState(), "ffff").state == "closed"
    tripped = run(BreakerState(), "fffff")
    assert tripped.state == "open"
    assert tripped.opens_at == T0 + timedelta(minutes=60)
    assert tripped.failures == 5 and tripped.last_failure == T0


def test_trips_on_rate_above_threshold_only() -> None:
    # 5 of 10 failures is exactly the threshold: stays closed; the 6th failure trips it.
    assert run(BreakerState(), "sfsfsfsfsf").state == "closed"
    assert run(BreakerState(), "sfsfsfsfsff").state == "open"
    # Isolated failures among successes never trip it: the rate counts, not a streak.
    assert run(BreakerState(), "ssssffsssf").state == "closed"


def test_window_slides() -> None:
    state = run(BreakerState(), "sssssfffff")  # 5 of 10: at the threshold, closed
    state = run(state, "s")  # the oldest success slides out: still 5 of 10
    assert state.state == "closed" and len(state.window) == 10
    # 6 of 10 in the window trips it (6 of 12 overall would not).
    assert run(state, "f").state == "open"
    assert run(BreakerState(), "ffff" + "s" * 10).failures == 0


def test_open_becomes_half_open_after_cooldown() -> None:
    opened = run(BreakerState(), "fffff")
    assert effective(opened, T0 + timedelta(minutes=59), CONFIG).state == "open"
    assert not admits(opened, T0 + timedelta(minutes=59), CONFIG)
    assert effective(opened, T0 + timedelta(minutes=60), CONFIG).state == "half-open"
    assert admits(opened, T0 + timedelta(minutes=60), CONFIG)


def test_open_without_opens_at_does_not_stay_open_forever() -> None:
    state = BreakerState(state="open", failures=3, last_failure=T0, trips=1)
    assert effective(state, T0 + timedelta(minutes=30), CONFIG).state == "open"
    assert effective(state, T0 + timedelta(minutes=61), CONFIG).state == "half-open"
    assert effective(BreakerState(state="open"), T0, CONFIG).state == "half-open"


def test_half_open_probe_success_closes_with_fresh_window() -> None:
    half = effective(run(BreakerState(), "fffff"), T0 + timedelta(hours=1), CONFIG)
    closed = record(half, True, T0 + timedelta(hours=1), CONFIG)
    assert closed.state == "closed"
    assert closed.window == () and closed.trips == 0 and closed.failures == 0
    # One more failure does not re-trip it on the old window.
    assert record(closed, False, T0 + timedelta(hours=1), CONFIG).state == "closed"


def test_half_open_reopens_when_the_probe_set_failed_with_growing_cooldown() -> None:
    state = run(BreakerState(), "fffff")
    now = T0
    cooldowns = []
    for _ in range(6):
        now = state.opens_at
        assert now is not None
        state = record(state, False, now, CONFIG)
        assert state.state == "half-open"  # the first failed probe of a set of two
        state = record(state, False, now, CONFIG)
        assert state.state == "open"
        assert state.opens_at is not None
        cooldowns.append(state.opens_at - now)
    assert cooldowns[:4] == [timedelta(hours=h) for h in (2, 4, 8, 16)]
    assert cooldowns[4:] == [timedelta(hours=24)] * 2


def _batch(outcomes: str) -> list[bool]:
    return [c == "s" for c in outcomes]


def test_a_batch_is_judged_as_a_whole() -> None:
    """The live pypi batch that opened the breaker: its 9 highest-priority packages failed on
    Python 3.13, then 31 passed. One outcome at a time, the first ten trip it; as a batch it
    stays closed, with the window of its last ten and the failure history kept."""
    live = "f" * 9 + "s" * 31
    assert run(BreakerState(), live).state == "open"  # what per-outcome voting did
    after = record_batch(BreakerState(), _batch(live), T0, CONFIG)
    assert after.state == "closed"
    assert after.window == (True,) * 10
    assert after.failures == 0 and after.last_failure == T0


@pytest.mark.parametrize(
    ("outcomes", "state"),
    [
        ("fffff", "open"),  # min_samples failures
        ("ffff", "closed"),  # too few to judge
        ("fsfsfsfsff", "open"),  # 60% failed
        ("fsfsfsfsfs", "closed"),  # 50% is not above the threshold
        ("s" * 20 + "f" * 20 + "f", "open"),  # a batch failing by more than half
        ("s" * 30 + "f" * 10, "closed"),  # a bad tail the batch outweighs
    ],
)
def test_a_batch_trips_on_its_failure_rate(outcomes: str, state: str) -> None:
    assert record_batch(BreakerState(), _batch(outcomes), T0, CONFIG).state == state


def test_a_batch_adds_to_the_evidence_before_it() -> None:
    """A small batch is judged with the window it joins (window 10)."""
    before = record_batch(BreakerState(), _batch("ssssff"), T0, CONFIG)
    assert before.state == "closed"
    assert record_batch(before, _batch("ff"), T0, CONFIG).state == "closed"  # 4 of 8
    assert record_batch(before, _batch("fff"), T0, CONFIG).state == "open"  # 5 of 9


def test_half_open_probes_in_a_batch_are_decided_one_by_one() -> None:
    half_at = T0 + timedelta(hours=1)
    opened = run(BreakerState(), "fffff")
    # The probes come first: one passing closes it, and the rest is judged on a fresh window.
    closed = record_batch(opened, _batch("s" + "ffss"), half_at, CONFIG)
    assert closed.state == "closed" and closed.window == (False, False, True, True)
    # Both probes failing reopens it; what ran alongside only enters the window.
    reopened = record_batch(opened, _batch("ff" + "sss"), half_at, CONFIG)
    assert reopened.state == "open" and reopened.trips == 2
    assert reopened.window[-3:] == (True, True, True)


def test_breaker_json_round_trip_keeps_unknown_keys() -> None:
    raw = {
        "state": "open",
        "failures": 996,
        "last_failure": "2026-06-26T20:51:01Z",
        "opens_at": "2026-06-26T21:51:01Z",
        "note": "kept",
    }
    state = BreakerState.from_json(raw)
    assert state.trips == 1 and state.window == ()
    out = state.to_json()
    for key, value in raw.items():
        assert out[key] == value
    assert BreakerState.from_json(out) == state
