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
