"""Per-ecosystem circuit breaker and batch selection (pure; the clock is a parameter).

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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from automation.core.ecosystem_facts import buildable_names, normalise_ecosystem, refusal_for
from automation.core.errors import StoppedError
from automation.core.timefmt import format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from automation.registry.control import Control

State = Literal["closed", "open", "half-open"]
STATES: tuple[State, ...] = ("closed", "open", "half-open")
SELECTABLE_STATUSES = ("pending", "failed")
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


def admits(state: BreakerState, now: datetime, config: BreakerConfig) -> bool:
    """Whether the ecosystem may run an item now (half-open: only the selected probes)."""
    return effective(state, now, config).state != "open"


# --- selection ---------------------------------------------------------------------------------


class EntryLike(Protocol):
    """What selection needs of a queue entry (``automation.registry.queue.QueueEntry`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def failure_count(self) -> int: ...

    @property
    def next_retry_at(self) -> datetime | str | None: ...


E = TypeVar("E", bound=EntryLike)


def entry_ecosystem(entry: EntryLike) -> str:
    """The entry's normalised ecosystem prefix (``cargo:x`` -> ``crates.io``)."""
    return normalise_ecosystem(entry.source.split(":", 1)[0]) if ":" in entry.source else ""


def _retry_time(entry: EntryLike) -> datetime | None:
    value = entry.next_retry_at
    if value is None or isinstance(value, datetime):
        return value
    return parse_timestamp(value)


def structurally_impossible(entry: EntryLike) -> str | None:
    """Why no deterministic builder can ever produce this entry, or None (§4.2, §4.6).

    Sources without a builder (ecosystems declared ``buildable=False``) and identifiers the
    ecosystem refuses (its ``refuses`` rule, e.g. Homebrew's tap-qualified formulas).
    """
    if ":" not in entry.source:
        return "source has no ecosystem prefix"
    ecosystem = entry_ecosystem(entry)
    identifier = entry.source.split(":", 1)[1]
    if ecosystem not in buildable_names():
        return f"no deterministic builder for {ecosystem!r}"
    refusal = refusal_for(ecosystem, identifier, entry.name)
    return refusal.reason if refusal is not None else None


def eligible(
    entry: EntryLike,
    now: datetime,
    impossible: Callable[[EntryLike], str | None] = structurally_impossible,
) -> bool:
    """Pending/failed, not backing off, and buildable at all."""
    if entry.status not in SELECTABLE_STATUSES:
        return False
    retry = _retry_time(entry)
    if retry is not None and retry > now:
        return False
    return impossible(entry) is None


@dataclass(frozen=True, slots=True)
class Selection(Generic[E]):
    """The entries of one batch, and the control state the caller must save with it."""

    entries: tuple[E, ...]
    probes: Mapping[str, tuple[str, ...]]  # ecosystem -> probe entry names (half-open)
    held: Mapping[str, str]  # ecosystem -> why it contributed nothing (open, disabled)
    control: Control  # breakers migrated (open -> half-open) and probe cursors advanced

    def to_json(self) -> dict[str, Any]:
        return {
            "entries": [e.name for e in self.entries],
            "probes": {k: list(v) for k, v in self.probes.items()},
            "held": dict(self.held),
        }


def _rotate(candidates: Sequence[E], cursor: str | None, count: int) -> list[E]:
    """``count`` candidates after ``cursor`` in name order, wrapping around.

    Name order, not queue order: it stays stable while the queue is reordered and entries come
    and go, so every eligible entry gets its turn.
    """
    ordered = sorted(candidates, key=lambda e: (e.name.lower(), e.source))
    if not ordered:
        return []
    start = 0
    if cursor is not None:
        key = cursor.lower()
        start = next((i for i, e in enumerate(ordered) if e.name.lower() > key), 0)
    picked = ordered[start:] + ordered[:start]
    return picked[: min(count, len(ordered))]


def select_batch(
    entries: Iterable[E],
    control: Control,
    now: datetime,
    batch_size: int,
    max_tier: int,
    ecosystem_filter: str | None = None,
    *,
    config: BreakerConfig | None = None,
    impossible: Callable[[EntryLike], str | None] = structurally_impossible,
) -> Selection[E]:
    """Choose up to ``batch_size`` entries to build, honouring stops, breakers and backoff.

    Entries come in queue order; only eligible ones (:func:`eligible`) with
    ``priority <= max_tier`` count. Closed ecosystems contribute them in order, open ones
    nothing, half-open ones their rotating probe set, placed first so truncation never drops
    probes before ordinary work (ecosystems waiting longest go first). Raises StoppedError when
    the control file stops everything or the filtered ecosystem.
    """
    config = config or BreakerConfig()
    if batch_size < 1:
        return Selection((), {}, {}, control)
    stop = control.stopped_reason(None)
    if stop:
        raise StoppedError(stop)
    wanted = normalise_ecosystem(ecosystem_filter) if ecosystem_filter else None
    if wanted is not None:
        stop = control.stopped_reason(wanted)
        if stop:
            raise StoppedError(stop)

    states: dict[str, BreakerState] = {}
    held: dict[str, str] = {}
    regular: list[E] = []
    probe_pool: dict[str, list[E]] = {}
    for entry in entries:
        ecosystem = entry_ecosystem(entry)
        if wanted is not None and ecosystem != wanted:
            continue
        if ecosystem not in states:
            states[ecosystem] = effective(control.breaker(ecosystem), now, config)
            stop = control.stopped_reason(ecosystem)
            if stop:
                held[ecosystem] = stop
            elif states[ecosystem].state == "open":
                opens_at = states[ecosystem].opens_at
                held[ecosystem] = "circuit breaker open" + (
                    f" until {format_timestamp(opens_at)}" if opens_at else ""
                )
        if ecosystem in held or entry.priority > max_tier or not eligible(entry, now, impossible):
            continue
        if states[ecosystem].state == "half-open":
            probe_pool.setdefault(ecosystem, []).append(entry)
        elif len(regular) < batch_size:
            regular.append(entry)

    def waited_since(ecosystem: str) -> tuple[datetime, str]:
        opens_at = states[ecosystem].opens_at
        return (opens_at or datetime.min.replace(tzinfo=now.tzinfo), ecosystem)

    per_ecosystem = {
        eco: _rotate(pool, states[eco].probe_cursor, config.probes)
        for eco, pool in probe_pool.items()
    }
    # Interleave (first probe of every ecosystem, then the second...) so that a small batch
    # still probes every half-open ecosystem.
    order = sorted(per_ecosystem, key=waited_since)
    probe_list: list[E] = []
    for round_ in range(config.probes):
        for eco in order:
            if round_ < len(per_ecosystem[eco]):
                probe_list.append(per_ecosystem[eco][round_])
    probe_list = probe_list[:batch_size]
    chosen = (probe_list + regular)[:batch_size]

    probes: dict[str, tuple[str, ...]] = {}
    for entry in probe_list:
        eco = entry_ecosystem(entry)
        probes[eco] = (*probes.get(eco, ()), entry.name)
    new_control = control
    for eco, state in sorted(states.items()):
        updated = replace(state, probe_cursor=probes[eco][-1]) if eco in probes else state
        if updated != control.breaker(eco):
            new_control = new_control.with_breaker(eco, updated)
    return Selection(tuple(chosen), probes, held, new_control)


def record_outcome(
    control: Control, ecosystem: str, success: bool, now: datetime, config: BreakerConfig
) -> Control:
    """``control`` with one outcome of ``ecosystem`` recorded in its breaker."""
    eco = normalise_ecosystem(ecosystem)
    return control.with_breaker(eco, record(control.breaker(eco), success, now, config))
