"""Batch selection: status, tier, backoff, stops, breakers and probe rotation."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.core.errors import StoppedError
from automation.core.timefmt import parse_timestamp
from automation.registry.breaker import BreakerState
from automation.registry.control import Control, load_control, record_outcome
from automation.stages.selection import select_batch, structurally_impossible
from tests.support.breaker_history import CONFIG, T0, Entry, run

# --- selection ------------------------------------------------------------------------------------


def control_with(**states: BreakerState) -> Control:
    return Control(breakers=dict(states))


def test_closed_selection_honours_status_tier_backoff_and_impossible() -> None:
    entries = [
        Entry("done", "npm:done", status="success"),
        Entry("manual-one", "npm:manual-one", status="requires_manual"),
        Entry("gone", "npm:gone", status="excluded"),
        Entry("blocked", "npm:blocked", status="blocked"),
        Entry("later", "npm:later", status="failed", next_retry_at=T0 + timedelta(hours=1)),
        Entry("later-str", "npm:later-str", status="failed", next_retry_at="2026-08-16T00:00:00Z"),
        Entry("again", "npm:again", 1, "failed", 611, "1734-01-01T00:00:00Z"),
        Entry("tap", "homebrew:owner/tap/tool"),
        Entry("hand", "manual:hand"),
        Entry("tier3", "npm:tier3", priority=3),
        Entry("tier1", "npm:tier1", priority=1),
        Entry("crate", "cargo:crate"),
    ]
    selection = select_batch(entries, Control(), T0, batch_size=10, max_tier=2)
    assert [e.name for e in selection.entries] == ["again", "tier1"]
    selection = select_batch(entries, Control(), T0, batch_size=10, max_tier=3)
    assert [e.name for e in selection.entries] == ["again", "tier3", "tier1", "crate"]
    assert structurally_impossible(Entry("tap", "homebrew:owner/tap/tool"))
    assert structurally_impossible(Entry("hand", "manual:hand"))


def test_retries_last_takes_every_new_entry_before_a_due_retry() -> None:
    """Growing: a failed entry whose backoff passed waits behind entries never tried, however
    high it sits in the queue; with room left it is taken, and without the flag queue order
    decides alone."""
    due = T0 - timedelta(hours=1)
    entries = [
        Entry("failed-top", "npm:failed-top", status="failed", failure_count=2, next_retry_at=due),
        Entry("new-a", "npm:new-a"),
        Entry("failed-mid", "npm:failed-mid", status="failed", failure_count=1, next_retry_at=due),
        Entry("new-b", "npm:new-b"),
        Entry("new-c", "npm:new-c"),
    ]
    names = lambda selection: [e.name for e in selection.entries]  # noqa: E731
    assert names(select_batch(entries, Control(), T0, 3, 3, retries_last=True)) == [
        "new-a",
        "new-b",
        "new-c",
    ]
    assert names(select_batch(entries, Control(), T0, 4, 3, retries_last=True)) == [
        "new-a",
        "new-b",
        "new-c",
        "failed-top",
    ]
    assert names(select_batch(entries, Control(), T0, 3, 3)) == [
        "failed-top",
        "new-a",
        "failed-mid",
    ]


def test_batch_size_and_ecosystem_filter_with_cargo_alias() -> None:
    entries = [Entry(f"p{i}", "pypi:p" if i % 2 else f"cargo:c{i}") for i in range(20)]
    assert len(select_batch(entries, Control(), T0, 3, 3).entries) == 3
    crates = select_batch(entries, Control(), T0, 25, 3, ecosystem_filter="cargo")
    assert len(crates.entries) == 10
    assert all(e.source.startswith("cargo:") for e in crates.entries)
    assert select_batch(entries, Control(), T0, 0, 3).entries == ()


def test_open_breaker_holds_its_ecosystem() -> None:
    opened = run(BreakerState(), "fffff")
    entries = [Entry("a", "npm:a"), Entry("b", "pypi:b")]
    selection = select_batch(entries, control_with(npm=opened), T0, 10, 3)
    assert [e.name for e in selection.entries] == ["b"]
    assert "open until 2026-08-15T13:00:00Z" in selection.held["npm"]


def test_emergency_stop_and_disabled_ecosystem() -> None:
    entries = [Entry("a", "npm:a"), Entry("b", "cargo:b")]
    with pytest.raises(StoppedError, match="emergency stop"):
        select_batch(entries, Control(enabled=False, reason="incident"), T0, 10, 3)
    control = Control(disabled_ecosystems=("crates.io",))
    selection = select_batch(entries, control, T0, 10, 3)
    assert [e.name for e in selection.entries] == ["a"]
    assert "crates.io disabled" in selection.held["crates.io"]
    with pytest.raises(StoppedError):
        select_batch(entries, control, T0, 10, 3, ecosystem_filter="cargo")


def test_half_open_probes_rotate_and_come_first() -> None:
    half = BreakerState(state="open", opens_at=T0 - timedelta(minutes=1), trips=1)
    entries = [Entry(n, f"npm:{n}") for n in ("delta", "alpha", "echo", "charlie", "bravo")]
    entries += [Entry("closed-one", "pypi:closed-one")]
    control = control_with(npm=half)
    seen = []
    for _ in range(3):
        selection = select_batch(entries, control, T0, 10, 3)
        assert [e.name for e in selection.entries][-1] == "closed-one"
        probes = selection.probes["npm"]
        assert len(probes) == CONFIG.probes
        seen.append(probes)
        control = selection.control
        assert control.breaker("npm").state == "half-open"
        assert control.breaker("npm").probe_cursor == probes[-1]
    assert seen == [("alpha", "bravo"), ("charlie", "delta"), ("echo", "alpha")]


def test_probes_skip_backoff_and_ineligible_entries() -> None:
    half = BreakerState(state="half-open", trips=1)
    entries = [
        Entry("aaa", "homebrew:aaa", status="failed", next_retry_at=T0 + timedelta(days=1)),
        Entry("bbb", "homebrew:bbb", status="excluded"),
        Entry("ccc", "homebrew:someone/tap/ccc"),
        Entry("ddd", "homebrew:ddd", status="failed"),
    ]
    selection = select_batch(entries, control_with(homebrew=half), T0, 10, 3)
    assert selection.probes == {"homebrew": ("ddd",)}


def test_small_batches_probe_every_half_open_ecosystem() -> None:
    half = BreakerState(state="half-open", trips=1)
    ecosystems = ("npm", "pypi", "rubygems", "crates.io", "homebrew")
    entries = [Entry(f"{e[:3]}{i}", f"{e}:{e[:3]}{i}") for e in ecosystems for i in range(3)]
    control = Control(breakers=dict.fromkeys(ecosystems, half))
    selection = select_batch(entries, control, T0, 5, 3)
    assert sorted(selection.probes) == sorted(ecosystems)


# --- the reference registry: all six breakers open, stale counters -----------------------------


def _reference_entries(reference_dir: Path) -> list[Entry]:
    document = json.loads((reference_dir / "data/queues/priority-queue.json").read_text())
    return [
        Entry(
            name=raw["name"],
            source=raw["source"],
            priority=raw["priority"],
            status=raw["status"],
            failure_count=raw["failure_count"],
            next_retry_at=parse_timestamp(raw["next_retry_at"]) if raw["next_retry_at"] else None,
        )
        for raw in document["entries"]
    ]


def test_reference_state_migrates_and_yields_rotating_work(reference_dir: Path) -> None:
    entries = _reference_entries(reference_dir)
    control = load_control(reference_dir / "batch-control.json")
    assert {e for e, s in control.breakers.items() if s.state == "open"} == {
        "github",
        "homebrew",
        "rubygems",
        "crates.io",
        "npm",
        "pypi",
    }
    now = datetime(2026, 8, 15, 12, 0, tzinfo=UTC)
    first = select_batch(entries, control, now, batch_size=10, max_tier=3)
    # Every open breaker's time has passed: half-open, and the kit proceeds with probes.
    assert all(first.control.breaker(e).state == "half-open" for e in first.probes)
    assert len(first.probes) == 6 and len(first.entries) == 10

    # Simulate a day of hourly runs where everything fails (the reference's situation): the
    # probes rotate through the queue instead of retrying the same broken entry each hour.
    chosen: Counter[str] = Counter()
    probe_sets: dict[str, list[tuple[str, ...]]] = {}
    for hour in range(48):
        clock = now + timedelta(hours=hour)
        selection = select_batch(entries, control, clock, batch_size=10, max_tier=3)
        control = selection.control
        for eco, names in selection.probes.items():
            probe_sets.setdefault(eco, []).append(names)
        for entry in selection.entries:
            chosen[entry.name] += 1
            control = record_outcome(control, entry.source.split(":")[0], False, clock, CONFIG)
    assert len(chosen) >= 40
    for eco, sets in probe_sets.items():
        assert len(sets) >= 3, eco
        assert all(a != b for a, b in itertools.pairwise(sets)), eco
    homebrew = [name for names in probe_sets["homebrew"] for name in names]
    assert len(set(homebrew)) == len(homebrew)  # thousands pending: never the same twice
    # `hub` (the reference's eternal probe) is not probed every time.
    assert chosen["hub"] < len(probe_sets["github"])


def test_reference_selection_after_recovery_takes_closed_work(reference_dir: Path) -> None:
    entries = _reference_entries(reference_dir)
    control = load_control(reference_dir / "batch-control.json")
    now = datetime(2026, 8, 15, 12, 0, tzinfo=UTC)
    selection = select_batch(entries, control, now, batch_size=25, max_tier=3)
    control = selection.control
    for entry in selection.entries:
        control = record_outcome(control, entry.source.split(":")[0], True, now, CONFIG)
    assert all(replace(s, extra={}).state == "closed" for s in control.breakers.values())
    later = select_batch(entries, control, now + timedelta(hours=1), batch_size=25, max_tier=3)
    assert len(later.entries) == 25 and not later.probes


def test_queue_module_entries_work_as_they_are() -> None:
    from automation.registry.queue import QueueEntry

    entries = [
        QueueEntry("a", "npm:a", 1, "failed", "auto", None, 2, "2026-08-15T11:00:00.5Z"),
        QueueEntry("b", "npm:b", 1, "failed", "auto", None, 2, "2026-08-15T13:00:00Z"),
    ]
    selection = select_batch(entries, Control(), T0, 10, 3)
    assert [e.name for e in selection.entries] == ["a"]
