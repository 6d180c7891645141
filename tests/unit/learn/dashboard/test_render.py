"""The dashboard page: it shows the JSON numbers, escapes untrusted names, shows a stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.errors import UsageError
from automation.learn.dashboard import build_dashboard
from tests.support.dashboard_build import build_and_read
from tests.support.dashboard_registry import (
    EVIL,
    EXPECTED,
    NOW,
    build_registry,
    page_metrics,
    shown_int,
)


def test_page_shows_the_json_numbers(tmp_path: Path) -> None:
    build_registry(tmp_path / "reg")
    _, html = build_and_read(tmp_path / "reg", tmp_path / "out")
    shown = page_metrics(html)
    assert shown_int(shown["queue.total"][1]) == 8
    for status, n in EXPECTED["queue.by_status"].items():
        assert shown_int(shown[f"queue.by_status.{status}"][1]) == n
    for category, n in EXPECTED["failures.by_category"].items():
        assert shown_int(shown[f"failures.by_category.{category}"][1]) == n
    assert shown["control.breaker.npm"][1] == "open"
    assert shown_int(shown["control.open_breaker_count"][1]) == 2
    assert shown_int(shown["funnel.pypi.validated.debian-12"][1]) == 2
    assert shown_int(shown["runs.empty"][1]) == 2
    assert shown["runs.last_successful_run"][1] == "2026-06-02T10:00:00Z"
    assert shown["control.emergency_stop"][0] == "false"
    assert shown_int(shown["sli.alert_count"][1]) == 1
    # Static and self-contained: no scripts, nothing fetched.
    assert "<script" not in html.replace("&lt;script", "")
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_untrusted_names_are_escaped(tmp_path: Path) -> None:
    build_registry(tmp_path / "reg")
    _, html = build_and_read(tmp_path / "reg", tmp_path / "out")
    assert EVIL not in html
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_emergency_stop_banner(tmp_path: Path) -> None:
    build_registry(tmp_path / "reg", stopped=True)
    data, html = build_and_read(tmp_path / "reg", tmp_path / "out")
    assert data["control"]["emergency_stop"] is True
    assert page_metrics(html)["control.emergency_stop"][0] == "true"
    assert "EMERGENCY STOP by ops" in html and "incident 42: bad upstream" in html


def test_out_must_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError):
        build_dashboard(tmp_path, tmp_path / "file", now=NOW)
