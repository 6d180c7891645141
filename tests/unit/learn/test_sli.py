"""SLIs: rates over a window, thresholds from automation.toml [sli] or flags, alerts exit 4."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.errors import DataError, ExitCode, UsageError
from automation.learn.sli import Thresholds, evaluate, parse_window, sli_report
from tests.support.dashboard_registry import NOW, build_registry


def test_window_syntax() -> None:
    assert parse_window("7d").total_seconds() == 7 * 86400
    assert parse_window("36h").total_seconds() == 36 * 3600
    assert parse_window("2w").days == 14
    for bad in ("7", "d", "-1d", "0h", "7 days"):
        with pytest.raises(UsageError):
            parse_window(bad)


def test_synthetic_registry_rates_and_alert(tmp_path: Path) -> None:
    build_registry(tmp_path)
    report = sli_report(tmp_path, now=NOW)
    values = {i.key: i for i in report.indicators}
    assert values["runs"].value == 4
    assert values["empty_run_ratio"].value == 0.5 and values["empty_run_ratio"].status == "ok"
    assert values["generation_success_rate"].numerator == 4
    assert values["generation_success_rate"].denominator == 6
    assert values["merge_rate"].value == 0.75
    assert values["hours_since_last_merge"].value == 14.0
    pass_rate = values["validation_pass_rate:linux-debian-glibc-x86_64"]
    assert (pass_rate.value, pass_rate.status) == (0.75, "alert")
    assert [a.key for a in report.alerts] == [pass_rate.key]
    assert report.exit_code == ExitCode.PARTIAL
    assert "ALERT validation pass rate linux-debian-glibc-x86_64" in report.to_text()
    assert report.to_json()["exit_code"] == 4
    # A flag lowers the threshold: no alert, exit 0.
    relaxed = sli_report(tmp_path, now=NOW, overrides={"min_validation_pass": "0.7"})
    assert relaxed.alerts == () and relaxed.exit_code == ExitCode.OK


def test_window_excludes_old_runs(tmp_path: Path) -> None:
    build_registry(tmp_path)
    report = sli_report(tmp_path, now=NOW, window="1d")  # only 2026-06-02 runs
    assert report.indicator("runs").value == 2
    assert report.indicator("merge_rate").value == 0.5
    later = sli_report(tmp_path, at="2026-06-20T00:00:00Z")
    assert later.indicator("runs").status == "alert"  # the pipeline stopped running
    assert later.indicator("hours_since_last_merge").status == "alert"
    assert later.indicator("merge_rate").status == "no_data"


def test_thresholds_from_config(tmp_path: Path) -> None:
    build_registry(tmp_path)
    (tmp_path / "automation.toml").write_text(
        '[sli]\nwindow = "2d"\nmin_validation_pass = 0.7\nmax_hours_since_merge = 10\n',
        encoding="utf-8",
    )
    report = sli_report(tmp_path, now=NOW)
    assert report.window == "2d"
    assert report.thresholds.min_validation_pass == 0.7
    assert [a.key for a in report.alerts] == ["hours_since_last_merge"]
    # Flags win over the file.
    assert sli_report(tmp_path, now=NOW, overrides={"max_hours_since_merge": 24}).alerts == ()


def test_bad_config_and_flags(tmp_path: Path) -> None:
    (tmp_path / "automation.toml").write_text("[sli]\nmin_merge_rate = 2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"automation\.toml"):
        sli_report(tmp_path, now=NOW)
    (tmp_path / "automation.toml").write_text("[sli]\nunknown = 1\n", encoding="utf-8")
    with pytest.raises(DataError):
        sli_report(tmp_path, now=NOW)
    (tmp_path / "automation.toml").unlink()
    with pytest.raises(UsageError):
        sli_report(tmp_path, now=NOW, overrides={"min_runs": "many"})
    with pytest.raises(UsageError):
        sli_report(tmp_path, at="yesterday")


def test_empty_registry_does_not_alert(tmp_path: Path) -> None:
    report = sli_report(tmp_path, now=NOW)
    assert {i.status for i in report.indicators} == {"no_data"}
    assert report.exit_code == ExitCode.OK
    assert evaluate([], [], NOW, Thresholds()).last_merge is None


def test_reference_alerts(reference_dir: Path) -> None:
    """Deadlocked reference: last merge 2026-05-07, only empty runs at the end (§4.1, §4.2)."""
    now = sli_report(reference_dir, now=datetime(2026, 11, 27, tzinfo=UTC))
    assert now.last_merge == "2026-05-07T14:08:53Z"
    assert now.last_run == "2026-06-26T20:51:08Z"
    assert now.runs_total == 1710
    assert {a.key for a in now.alerts} == {"runs", "hours_since_last_merge"}
    assert now.exit_code == ExitCode.PARTIAL
    at_end = sli_report(reference_dir, at="2026-06-26T21:00:00Z")
    assert at_end.indicator("empty_run_ratio").value == 1.0
    assert {a.key for a in at_end.alerts} == {"empty_run_ratio", "hours_since_last_merge"}
    assert at_end.indicator("generation_success_rate").status == "no_data"
