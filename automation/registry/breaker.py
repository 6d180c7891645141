"""Per-ecosystem circuit breaker (pure; the clock is a parameter).

The breaker knows nothing of the control file or the queue: ``automation.registry.control``
stores breakers and records outcomes into them, ``automation.stages.selection`` chooses a batch
from them.

The breaker trips on the failure rate over a sliding window of recent outcomes (the design's
rule, reference §4.4), not on consecutive all-failed batches. States and the tsuku fields
(``state``, ``failures``, ``last_failure``, ``opens_at``) keep their meaning for tsuku's readers;
the kit's extra state lives in extra keys of the same object (``window``, ``probe_cursor``,
``trips``, ``probe_failures``).

* closed: each outcome enters the window; with at least ``min_samples`` outcomes and a failure
  rate above ``threshold`` the breaker opens for ``cooldown``.
* open: nothing of the ecosystem is selected until ``opens_at``; then it is half-open. An open
  breaker without ``opens_at`` (which tsuku would skip forever) opens ``cooldown`` after its
  ``last_failure``, or at once when that is missing too.
* half-open: a probe set of ``probes`` entries, chosen in rotation among eligible entries (so a
  broken entry is not probed every time, §4.2.3), runs. A successful probe closes the breaker
  with an empty window; when every probe of the set failed it reopens with a cooldown that
  doubles per consecutive trip, capped at ``max_cooldown``.

``failures`` counts consecutive failed outcomes since the last success (tsuku counted
consecutive failed batches); on reading the reference file the old counters are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from automation.core.timefmt import format_timestamp, parse_timestamp

State = Literal["closed", "open", "half-open"]
STATES: tuple[State, ...] = ("closed", "open", "half-open")
_MAX_DOUBLINGS = 20  # 2**20 cooldowns is far past any cap: keeps the arithmetic small


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Breaker tuning; the defaults follow tsuku's design document (§4.4)."""

    threshold: float = 0.5  # trip when the failure rate in the window is above this
    window: int = 10
    min_samples: int = 5
    cooldown: timedelta = timedelta(minutes=60)
    max_cooldown: timedelta = timedelta(hours=24)
    probes: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.threshold < 1:
            raise ValueError("threshold must be in [0, 1)")
        if self.window < 1 or not 1 <= self.min_samples <= self.window:
            raise ValueError("need window >= 1 and 1 <= min_samples <= window")
        if self.probes < 1:
            raise ValueError("probes must be at least 1")
        if self.cooldown <= timedelta(0) or self.max_cooldown < self.cooldown:
            raise ValueError("need 0 < cooldown <= max_cooldown")

    def cooldown_for(self, trips: int) -> timedelta:
        """Cooldown after the ``trips``-th consecutive opening (1 -> ``cooldown``), capped."""
        doublings = min(max(trips - 1, 0), _MAX_DOUBLINGS)
        return min(self.cooldown * (1 << doublings), self.max_cooldown)


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One ecosystem's breaker object from ``batch-control.json``, typed."""

    state: State = "closed"
    failures: int = 0
    last_failure: datetime | None = None
    opens_at: datetime | None = None
    window: tuple[bool, ...] = ()  # recent outcomes, oldest first; True = success
    trips: int = 0  # consecutive openings without a close
    probe_failures: int = 0  # failed probes in the current half-open period
    probe_cursor: str | None = None  # last probed entry name (rotation position)
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown keys, preserved

    @property
    def failure_rate(self) -> float | None:
        if not self.window:
            return None
        return self.window.count(False) / len(self.window)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "failures": self.failures}
        if self.last_failure is not None:
            out["last_failure"] = format_timestamp(self.last_failure)
        if self.opens_at is not None:
            out["opens_at"] = format_timestamp(self.opens_at)
        out["window"] = ["success" if ok else "failure" for ok in self.window]
        out["trips"] = self.trips
        out["probe_failures"] = self.probe_failures
        if self.probe_cursor is not None:
            out["probe_cursor"] = self.probe_cursor
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> BreakerState:
        """Build from a breaker object already checked against the schema."""
        known = {
            "state",
            "failures",
            "last_failure",
            "opens_at",
            "window",
            "trips",
            "probe_failures",
            "probe_cursor",
        }
        state = raw.get("state", "closed")
        # tsuku treats an unknown state as closed (§3.11).
        typed_state: State = state if state in STATES else "closed"
        last_failure = raw.get("last_failure")
        opens_at = raw.get("opens_at")
        window = tuple(v == "success" for v in raw.get("window", ()))
        trips = raw.get("trips")
        if trips is None:
            trips = 1 if typed_state != "closed" else 0  # reference file: no trip history
        return cls(
            state=typed_state,
            failures=int(raw.get("failures", 0)),
            last_failure=parse_timestamp(last_failure) if last_failure else None,
            opens_at=parse_timestamp(opens_at) if opens_at else None,
            window=window,
            trips=int(trips),
            probe_failures=int(raw.get("probe_failures", 0)),
            probe_cursor=raw.get("probe_cursor") or None,
            extra={k: v for k, v in raw.items() if k not in known},
        )


def effective(state: BreakerState, now: datetime, config: BreakerConfig) -> BreakerState:
    """The state at ``now``: an open breaker whose time has come is half-open."""
    if state.state != "open":
        return state
    opens_at = state.opens_at
    if opens_at is None and state.last_failure is not None:
        opens_at = state.last_failure + config.cooldown_for(max(state.trips, 1))
    if opens_at is None or opens_at <= now:
        return replace(state, state="half-open", probe_failures=0)
    return state


def _open(state: BreakerState, now: datetime, config: BreakerConfig) -> BreakerState:
    trips = state.trips + 1
    return replace(
        state,
        state="open",
        trips=trips,
        opens_at=now + config.cooldown_for(trips),
        probe_failures=0,
    )


def record(
    state: BreakerState, success: bool, now: datetime, config: BreakerConfig
) -> BreakerState:
    """The breaker after one generation/validation outcome of its ecosystem at ``now``."""
    state = effective(state, now, config)
    window = (*state.window, success)[-config.window :]
    if success:
        state = replace(state, window=window, failures=0)
    else:
        state = replace(state, window=window, failures=state.failures + 1, last_failure=now)
    if state.state == "half-open":
        if success:
            # A fresh window: the failures that opened the breaker must not re-trip it at once.
            return replace(
                state, state="closed", window=(), trips=0, probe_failures=0, opens_at=None
            )
        failed = state.probe_failures + 1
        if failed >= config.probes:
            return _open(state, now, config)
        return replace(state, probe_failures=failed)
    if state.state == "closed" and len(window) >= config.min_samples:
        rate = window.count(False) / len(window)
        if rate > config.threshold:
            return _open(replace(state, trips=0), now, config)
    return state  # open: an item that was already running; its outcome only enters the window


def record_batch(
    state: BreakerState, outcomes: Sequence[bool], now: datetime, config: BreakerConfig
) -> BreakerState:
    """The breaker after one batch's outcomes, all observed at ``now`` (a merge votes them at once).

    Half-open probes (selected first, so first in the batch) are still decided one by one. A
    closed breaker takes the trip decision once, on the evidence the whole batch leaves: the
    last ``max(window, len(batch))`` outcomes. A run of failures inside a batch that the rest of
    the batch outweighs (its highest-priority packages broken on the runtime, then 31 of 40
    passing) no longer opens the breaker for an hour; a batch failing as a whole still does.
    """
    state = effective(state, now, config)
    rest = list(outcomes)
    while rest and state.state == "half-open":
        state = record(state, rest.pop(0), now, config)
    if not rest or state.state == "open":
        for success in rest:  # already running when it opened: they only enter the window
            state = record(state, success, now, config)
        return state
    seen = (*state.window, *rest)
    failures, last_failure = state.failures, state.last_failure
    for success in rest:
        failures, last_failure = (0, last_failure) if success else (failures + 1, now)
    state = replace(
        state, window=seen[-config.window :], failures=failures, last_failure=last_failure
    )
    evidence = seen[-max(config.window, len(rest)) :]
    tripped = evidence.count(False) / len(evidence) > config.threshold
    if len(evidence) >= config.min_samples and tripped:
        return _open(replace(state, trips=0), now, config)
    return state


def admits(state: BreakerState, now: datetime, config: BreakerConfig) -> bool:
    """Whether the ecosystem may run an item now (half-open: only the selected probes)."""
    return effective(state, now, config).state != "open"
