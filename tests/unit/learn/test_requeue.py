"""Requeue: blocked entries return once every blocker has a matching recipe, none stay stuck."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from automation.core.layout import RegistryLayout
from automation.learn import blockers as bl
from automation.learn.requeue import backoff, plan_requeue, requeue, requeue_for_merged
from automation.registry.queue import load_queue
from tests.support.failure_graphs import entry, queue, record
from tests.support.gap_registry import make_registry

NOW = datetime(2026, 3, 10, tzinfo=UTC)


def current(q, records):
    return bl.current_blockers(records, q).by_entry


def test_all_blockers_must_be_satisfied() -> None:
    q = queue(entry("gnupg"), entry("coreutils"))
    blockers = current(
        q, [record("homebrew:gnupg", ("npth", "libassuan")), record("homebrew:coreutils", ("gmp",))]
    )
    recipes = bl.IdentityIndex(
        (bl.RecipeIdentity.build("gmp", source="homebrew:gmp"),
         bl.RecipeIdentity.build("npth", source="homebrew:npth"))
    )  # fmt: skip
    plan = plan_requeue(q, blockers, recipes, now=NOW)
    assert [(c.name, c.new_status) for c in plan.changes] == [("coreutils", "pending")]
    assert plan.changes[0].satisfied == ("homebrew:gmp <- gmp (source)",)
    assert [(s.name, s.missing) for s in plan.still_blocked] == [("gnupg", ("homebrew:libassuan",))]
    assert {e.name: e.status for e in plan.queue.entries} == {
        "gnupg": "blocked", "coreutils": "pending"
    }  # fmt: skip


def test_same_named_recipe_from_unrelated_source_does_not_requeue() -> None:
    q = queue(entry("coreutils"))
    blockers = current(q, [record("homebrew:coreutils", ("gmp",))])
    npm_gmp = bl.IdentityIndex((bl.RecipeIdentity.build("gmp", source="npm:gmp"),))
    assert plan_requeue(q, blockers, npm_gmp, now=NOW).changes == ()
    via_satisfies = bl.IdentityIndex(
        (bl.RecipeIdentity.build("libgmp", satisfies={"homebrew": ["gmp"]}),)
    )
    assert len(plan_requeue(q, blockers, via_satisfies, now=NOW).changes) == 1
    via_mapping = bl.IdentityIndex((bl.RecipeIdentity.build("libgmp"),), {"gmp": "libgmp"})
    assert len(plan_requeue(q, blockers, via_mapping, now=NOW).changes) == 1


def test_blocked_without_recorded_deps_fails_with_backoff() -> None:
    q = queue(entry("orphan"))
    plan = plan_requeue(q, {}, bl.IdentityIndex(), now=NOW)
    (change,) = plan.changes
    assert (change.old_status, change.new_status) == ("blocked", "failed")
    (orphan,) = plan.queue.entries
    assert orphan.failure_count == 2
    assert orphan.next_retry_at == "2026-03-10T02:00:00Z"
    # limited runs leave it alone
    assert plan_requeue(q, {}, bl.IdentityIndex(), now=NOW, dependency="gmp").changes == ()


def test_backoff_is_integer_safe_and_capped() -> None:
    assert backoff(1).total_seconds() == 3600
    assert backoff(4).total_seconds() == 8 * 3600
    assert backoff(893).total_seconds() == 168 * 3600


def test_dep_and_merged_limits() -> None:
    q = queue(entry("a"), entry("b"))
    blockers = current(q, [record("homebrew:a", ("gmp",)), record("homebrew:b", ("pcre2",))])
    recipes = bl.IdentityIndex(
        (bl.RecipeIdentity.build("gmp", source="homebrew:gmp"),
         bl.RecipeIdentity.build("pcre2", satisfies={"homebrew": ["pcre2"]}))
    )  # fmt: skip
    only_gmp = plan_requeue(q, blockers, recipes, now=NOW, dependency="homebrew:gmp")
    assert [c.name for c in only_gmp.changes] == ["a"]
    merged = plan_requeue(q, blockers, recipes, now=NOW, merged=["pcre2"])
    assert [c.name for c in merged.changes] == ["b"]


def test_io_wrapper_dry_run_and_write(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "reg")
    layout = RegistryLayout.at(root)
    before = layout.queue.read_bytes()
    report = requeue(root, dry_run=True, now=NOW, index_path=None)
    assert [c.name for c in report.plan.changes] == ["coreutils"]
    assert layout.queue.read_bytes() == before

    report = requeue(root, now=NOW, index_path=None)
    assert report.written
    statuses = {e.name: e.status for e in load_queue(layout.queue).entries}
    assert statuses == {
        "task": "blocked", "coreutils": "pending", "libfoo": "blocked", "tool": "blocked"
    }  # fmt: skip
    written = layout.queue.read_bytes()
    again = requeue(root, now=NOW, index_path=None)
    assert not again.written and layout.queue.read_bytes() == written


def test_requeue_for_merged(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "reg")
    layout = RegistryLayout.at(root)
    (root / "recipes" / "z").mkdir()
    (root / "recipes" / "z" / "zlib-ng.toml").write_text(
        (root / "recipes" / "g" / "gmp.toml").read_text().replace("gmp", "zlib-ng")
    )
    report = requeue_for_merged(layout, ["zlib-ng"], now=NOW, index_path=None)
    # libfoo was blocked only by homebrew zlib-ng. tool (npm) recorded npm:zlib-ng, which a
    # Homebrew-built recipe does not satisfy; task waits for libfoo; coreutils for gmp (not merged).
    assert [c.name for c in report.plan.changes] == ["libfoo"]
    statuses = {e.name: e.status for e in load_queue(layout.queue).entries}
    assert statuses == {
        "task": "blocked", "coreutils": "blocked", "libfoo": "pending", "tool": "blocked"
    }  # fmt: skip
    assert json.loads(layout.queue.read_text())["entries"][2]["status"] == "pending"


def test_reference_dry_run_keeps_every_blocked_entry(reference_dir: Path, tmp_path: Path) -> None:
    report = requeue(reference_dir, dry_run=True, now=NOW, index_path=None)
    assert report.plan.changes == ()
    still = {s.name: s for s in report.plan.still_blocked}
    assert len(still) == 22
    assert still["gnupg"].missing == (
        "homebrew:gnutls", "homebrew:libassuan", "homebrew:pinentry"
    )  # fmt: skip
    assert "homebrew:npth <- npth (source)" in still["gnupg"].satisfied
