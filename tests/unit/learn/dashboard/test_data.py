"""The dashboard numbers (dashboard.json) of a synthetic, an empty and the reference registry."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from automation.core.layout import RegistryLayout
from automation.learn.dashboard import build_dashboard
from automation.registry.failures import iter_failures
from tests.support.dashboard_build import build_and_read
from tests.support.dashboard_registry import (
    EXPECTED,
    build_registry,
    page_metrics,
    shown_int,
)


def test_synthetic_numbers(tmp_path: Path) -> None:
    build_registry(tmp_path / "reg")
    data, _ = build_and_read(tmp_path / "reg", tmp_path / "out")
    q = data["queue"]
    assert q["total"] == EXPECTED["queue.total"]
    assert q["by_status"] == EXPECTED["queue.by_status"]
    assert {t: sum(s.values()) for t, s in q["by_tier"].items()} == EXPECTED["queue.by_tier"]
    assert data["failures"]["by_category"] == EXPECTED["failures.by_category"]
    assert data["failures"]["by_subcategory"]["missing_dependency"] == 2
    runs = data["runs"]
    for key in ("records", "empty", "merged", "last_successful_run", "runs_since_last_success"):
        assert runs[key] == EXPECTED[f"runs.{key}"], key
    assert [d["date"] for d in runs["by_day"]] == ["2026-06-01", "2026-06-02"]
    assert [d["merge_rate"] for d in runs["by_day"]] == [1.0, 0.5]
    assert [d["generation_success_rate"] for d in runs["by_day"]] == [0.6667, 0.6667]
    funnel = {row["ecosystem"]: row for row in data["funnel"]["ecosystems"]}
    for eco, want in EXPECTED["funnel"].items():
        row = funnel[eco]
        got = {"seeded": row["seeded"], "generated": row["generated"], "merged": row["merged"]}
        got.update(row["validated"])
        assert got == want, eco
    control = data["control"]
    assert control["open_breakers"] == EXPECTED["open_breakers"]
    effective = {b["ecosystem"]: b["effective_state"] for b in control["breakers"]}
    assert effective == {"homebrew": "open", "npm": "half-open", "pypi": "closed"}
    assert control["emergency_stop"] is False
    assert data["blockers"]["missing_dependencies"] == EXPECTED["blockers.missing_dependencies"]
    assert data["blockers"]["blocked_packages"] == EXPECTED["blockers.blocked_packages"]
    assert data["blockers"]["top"][0]["dependency"] == "libfoo"
    assert data["batches"]["total"] == 1
    batch = data["batches"]["recent"][0]
    assert (batch["status"], batch["recipes_created"]) == ("merged", 1)
    assert batch["queue_transitions"]["success"] == 1
    assert [a for a in data["sli"]["alerts"] if "linux-debian-glibc-x86_64" in a]


def test_empty_registry(tmp_path: Path) -> None:
    (tmp_path / "reg").mkdir()
    data, html = build_and_read(tmp_path / "reg", tmp_path / "out")
    assert data["queue"]["total"] == 0 and data["runs"]["records"] == 0
    assert data["failures"]["records"] == 0 and data["control"]["breakers"] == []
    assert data["sli"]["alerts"] == []
    assert "the queue is empty" in html and "no batch manifests" in html
    assert shown_int(page_metrics(html)["queue.total"][1]) == 0


@pytest.fixture(scope="module")
def reference_dashboard(
    reference_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("reference-dashboard")
    build_dashboard(reference_dir, out, at="2026-06-26T21:00:00Z")
    return (
        json.loads((out / "dashboard.json").read_text(encoding="utf-8")),
        (out / "index.html").read_text(encoding="utf-8"),
    )


def test_reference_numbers(
    reference_dir: Path, reference_dashboard: tuple[dict[str, Any], str]
) -> None:
    """The real snapshot's counts (reference §4.1)."""
    data, html = reference_dashboard
    q = data["queue"]
    assert q["total"] == 5305
    assert q["by_status"] == {
        "pending": 3903,
        "success": 1374,
        "failed": 0,
        "blocked": 22,
        "requires_manual": 0,
        "excluded": 6,
    }
    runs = data["runs"]
    assert (runs["records"], runs["empty"], runs["merged"]) == (1710, 1631, 212)
    assert runs["last_successful_run"] == "2026-05-07T14:08:53Z"
    assert sum(d["runs"] for d in runs["by_day"]) == 1710
    control = data["control"]
    assert control["open_breakers"] == [
        "crates.io",
        "github",
        "homebrew",
        "npm",
        "pypi",
        "rubygems",
    ]
    records = list(iter_failures(RegistryLayout.at(reference_dir)))
    assert data["failures"]["records"] == len(records) == 6631
    want = Counter(r.category for r in records)
    assert {k: v for k, v in data["failures"]["by_category"].items() if v} == dict(want)
    assert data["failures"]["by_category"]["install_failed"] == 5125
    shown = page_metrics(html)
    assert shown_int(shown["queue.total"][1]) == 5305
    assert shown_int(shown["queue.by_status.pending"][1]) == 3903
    assert shown_int(shown["runs.empty"][1]) == 1631
    prefix = "control.breaker."
    shown_open = {k.removeprefix(prefix) for k, v in shown.items() if k.startswith(prefix)}
    assert {e for e in shown_open if shown[prefix + e][1] == "open"} == set(
        control["open_breakers"]
    )
    assert {a.split(":")[0] for a in data["sli"]["alerts"]} == {
        "ALERT empty runs (attempted nothing)",
        "ALERT time since the last merged recipe",
    }


def test_runner_minutes_of_the_week_are_on_the_dashboard(tmp_path: Path) -> None:
    from automation.ops.budget import budget_record
    from tests.support.dashboard_registry import NOW

    layout = build_registry(tmp_path / "reg")
    control = json.loads(layout.control_file.read_text()) if layout.control_file.exists() else {}
    control.setdefault("budget", {})["macos_minutes_limit"] = 100
    layout.control_file.write_text(json.dumps(control))
    batch = "2026-06-02-120000-pypi"
    budget_record(layout, "macos", "darwin-arm64", batch, seconds=30 * 60, now=NOW)
    budget_record(layout, "macos", "darwin-x86_64", batch, seconds=10 * 60, now=NOW)
    budget_record(layout, "linux", "debian-12-arm64", batch, seconds=61, now=NOW)
    data, html = build_and_read(tmp_path / "reg", tmp_path / "out")
    runners = {row["runner"]: row for row in data["budget"]["runners"]}
    assert data["budget"]["week_start"] == "2026-06-01"
    assert runners["macos"] == {
        "runner": "macos",
        "used": 40,
        "limit": 100,
        "remaining": 60,
        "share_used": 0.4,
        "environments": {"darwin-arm64": 30, "darwin-x86_64": 10},
    }
    assert (runners["linux"]["used"], runners["linux"]["limit"]) == (2, 20_000)
    shown = page_metrics(html)
    assert shown_int(shown["budget.macos.used"][1]) == 40
    assert shown_int(shown["budget.macos.remaining"][1]) == 60
    assert "Runner minutes this week" in html
