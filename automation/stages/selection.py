"""Batch selection: which queue entries one batch builds (pure; the clock is a parameter).

Honours the control file (emergency stop, disabled ecosystems), each ecosystem's circuit breaker
(closed: ordinary work; open: nothing; half-open: a rotating probe set) and the entries' own
backoff. Selection reads breakers and returns the control state to save with the batch; the
breaker state machine itself is ``automation.registry.breaker``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from automation.core.ecosystem_facts import buildable_names, normalise_ecosystem, refusal_for
from automation.core.errors import StoppedError
from automation.core.timefmt import format_timestamp, parse_timestamp
from automation.registry.breaker import BreakerConfig, BreakerState, effective
from automation.registry.control import Control
from automation.registry.queue import SELECTABLE_STATUSES


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
    retries_last: bool = False,
) -> Selection[E]:
    """Choose up to ``batch_size`` entries to build, honouring stops, breakers and backoff.

    Entries come in queue order; only eligible ones (:func:`eligible`) with
    ``priority <= max_tier`` count. Closed ecosystems contribute them in order, open ones
    nothing, half-open ones their rotating probe set, placed first so truncation never drops
    probes before ordinary work (ecosystems waiting longest go first). Raises StoppedError when
    the control file stops everything or the filtered ecosystem.

    ``retries_last``: ordinary work takes every entry never tried (``pending``) before any
    failed entry whose backoff has passed (queue order within each): a run that grows the
    registry spends its time on new packages first, and retries a package failure (most are
    deterministic: the same release fails the same way) only when no new work is left.
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
        elif len(regular) < batch_size or retries_last:
            regular.append(entry)
    if retries_last:
        regular = sorted(regular, key=lambda e: e.status != "pending")[:batch_size]

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
