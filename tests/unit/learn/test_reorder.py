"""Reorder: impact within tiers, popularity then name, stable and idempotent."""

from __future__ import annotations

from pathlib import Path

from automation.core.layout import RegistryLayout
from automation.learn import blockers as bl
from automation.learn.reorder import plan_reorder, reorder
from automation.registry.queue import load_queue, save_queue
from tests.support.failure_graphs import entry, queue, record
from tests.support.gap_registry import make_registry


def analysis_of(q, records):
    current = bl.current_blockers(records, q)
    return bl.analyse_blockers(current, q, bl.IdentityIndex(), bl.Weights.build(q, uniform=True))


def test_impact_within_tier_keeps_file_order_without_popularity() -> None:
    q = queue(
        entry("zeta", status="pending"),
        entry("alpha", status="pending"),
        entry("libx", status="pending"),
        entry("top", status="pending", priority=1),
        entry("user1"),
        entry("user2"),
    )
    a = analysis_of(q, [record("homebrew:user1", ("libx",)), record("homebrew:user2", ("libx",))])
    names = [e.name for e in plan_reorder(q, a, {}).entries]
    # priority first; libx blocks two; the rest keep their order (zeta before alpha)
    assert names == ["top", "libx", "zeta", "alpha", "user1", "user2"]
    again = plan_reorder(plan_reorder(q, a, {}), a, {})
    assert [e.name for e in again.entries] == names


def test_popularity_then_name_when_popularity_is_known() -> None:
    q = queue(entry("c", status="pending"), entry("b", status="pending"), entry("a"))
    a = analysis_of(q, [])
    pop = {"c": bl.Popularity("homebrew", 5, 90.0, "365d")}
    assert [e.name for e in plan_reorder(q, a, pop).entries] == ["c", "a", "b"]


def test_second_run_does_not_rewrite(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "reg")
    layout = RegistryLayout.at(root)
    shuffled = load_queue(layout.queue)
    save_queue(layout.queue, shuffled.with_entries(reversed(shuffled.entries)))
    first = reorder(root, index_path=None)
    assert first.written
    # tiers 1 (task), 2 (coreutils), 3: libfoo blocks task, so it goes ahead of tool
    assert [e.name for e in load_queue(layout.queue).entries] == [
        "task", "coreutils", "libfoo", "tool"
    ]  # fmt: skip
    data, mtime = layout.queue.read_bytes(), layout.queue.stat().st_mtime_ns
    second = reorder(root, index_path=None)
    assert not second.written and second.moves == ()
    assert layout.queue.read_bytes() == data and layout.queue.stat().st_mtime_ns == mtime


def test_reference_dry_run(reference_dir: Path) -> None:
    report = reorder(reference_dir, dry_run=True, index_path=None)
    moves = {m.name: m for m in report.moves}
    assert not report.written
    assert moves["icu4c@78"].impact == 6.0  # node (3) + gemini-cli (2) + harfbuzz (1)
