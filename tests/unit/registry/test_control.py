"""The control file: reference shape read and written, emergency stop honoured."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.core import schemas
from automation.core.errors import DataError, ExitCode, StoppedError, UsageError
from automation.core.layout import RegistryLayout
from automation.registry.breaker import BreakerConfig, BreakerState, effective
from automation.registry.control import (
    Control,
    check_allowed,
    check_allowed_now,
    emergency_stop,
    load_control,
    parse_control,
    read_control,
    record_outcome,
    resume,
    save_control,
)

EXACT_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NOW = datetime(2026, 8, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry(tmp_path: Path, reference_dir: Path) -> RegistryLayout:
    shutil.copy(reference_dir / "batch-control.json", tmp_path / "batch-control.json")
    return RegistryLayout.at(tmp_path)


def test_reference_file_reads(reference_dir: Path) -> None:
    document = json.loads((reference_dir / "batch-control.json").read_text())
    assert schemas.check(document, "batch-control", path="batch-control.json") == []
    control = load_control(reference_dir / "batch-control.json")
    assert control.enabled and control.disabled_ecosystems == ()
    assert control.breaker("homebrew").state == "open"
    assert control.breaker("homebrew").failures == 957
    assert control.breaker("default").state == "closed"
    assert control.breaker("go").state == "closed"  # missing = closed
    assert control.breaker("cargo") is control.breaker("crates.io")
    # Migration: every opens_at is in the past, so each breaker is half-open now.
    for eco in ("github", "homebrew", "rubygems", "crates.io", "npm", "pypi"):
        assert effective(control.breaker(eco), NOW, BreakerConfig()).state == "half-open"
        check_allowed(control, eco, now=NOW)


def test_round_trip_keeps_reference_fields_and_unknown_keys(
    tmp_path: Path, reference_dir: Path
) -> None:
    document = json.loads((reference_dir / "batch-control.json").read_text())
    document["future_field"] = {"kept": True}
    document["circuit_breaker"]["npm"]["operator_note"] = "watch this"
    document["budget"]["macos_weekly_cap"] = 1000
    control = parse_control(document, "x").control
    path = tmp_path / "batch-control.json"
    save_control(path, control)
    written = json.loads(path.read_text())
    assert list(written)[:9] == [
        "enabled",
        "disabled_ecosystems",
        "reason",
        "incident_url",
        "disabled_by",
        "disabled_at",
        "expected_resume",
        "circuit_breaker",
        "budget",
    ]
    assert written["future_field"] == {"kept": True}
    assert written["circuit_breaker"]["npm"]["operator_note"] == "watch this"
    assert written["budget"] == document["budget"]
    for eco, raw in document["circuit_breaker"].items():
        for key, value in raw.items():
            assert written["circuit_breaker"][eco][key] == value
    assert load_control(path) == control


def test_written_timestamps_use_the_exact_layout(tmp_path: Path) -> None:
    control = Control()
    moment = datetime(2026, 8, 15, 12, 0, 0, 123456, tzinfo=UTC)
    for _ in range(5):
        control = record_outcome(control, "npm", False, moment, BreakerConfig())
    path = tmp_path / "batch-control.json"
    save_control(path, control)
    npm = json.loads(path.read_text())["circuit_breaker"]["npm"]
    assert npm["state"] == "open"
    assert EXACT_STAMP.match(npm["opens_at"]) and EXACT_STAMP.match(npm["last_failure"])
    assert npm["window"] == ["failure"] * 5


def test_cargo_is_normalised_everywhere() -> None:
    document = {
        "enabled": True,
        "disabled_ecosystems": ["cargo", "crates.io"],
        "circuit_breaker": {
            "cargo": {"state": "open", "failures": 3, "opens_at": "2026-08-15T13:00:00Z"},
            "crates.io": {"state": "closed", "failures": 7},
        },
    }
    loaded = parse_control(document, "batch-control.json")
    assert loaded.errors == []
    control = loaded.control
    assert control.disabled_ecosystems == ("crates.io",)
    assert list(control.breakers) == ["crates.io"]
    merged = control.breakers["crates.io"]
    assert merged.state == "open" and merged.failures == 7  # the cautious one wins
    assert {p.severity for p in loaded.problems} == {"normalised"}
    with pytest.raises(StoppedError, match=r"crates\.io disabled"):
        check_allowed(control, "cargo")


def test_missing_file_is_enabled(tmp_path: Path) -> None:
    assert read_control(tmp_path / "none.json").control == Control()


def test_invalid_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "batch-control.json"
    path.write_text('{"enabled": "yes", "circuit_breaker": {"npm": {"state": "ajar"}}}')
    loaded = read_control(path)
    assert {p.where for p in loaded.errors} == {"enabled", "circuit_breaker.npm.state"}
    with pytest.raises(DataError, match=r"batch-control\.json"):
        load_control(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="line 1"):
        load_control(path)


def test_emergency_stop_and_resume_everything(registry: RegistryLayout) -> None:
    report = emergency_stop(registry, "bad recipes merged", by="alice", now=NOW)
    assert report.exit_code == ExitCode.OK
    written = json.loads(registry.control_file.read_text())
    assert written["enabled"] is False
    assert written["reason"] == "bad recipes merged"
    assert written["disabled_by"] == "alice"
    assert written["disabled_at"] == "2026-08-15T12:00:00Z"
    assert written["circuit_breaker"]["homebrew"]["failures"] == 957  # untouched
    with pytest.raises(StoppedError) as caught:
        check_allowed_now(registry, "npm")
    assert caught.value.exit_code == ExitCode.STOPPED
    assert "bad recipes merged" in str(caught.value) and "alice" in str(caught.value)
    with pytest.raises(StoppedError):
        check_allowed_now(registry, None)

    resumed = resume(registry)
    assert "resumed" in resumed.to_text()
    written = json.loads(registry.control_file.read_text())
    assert written["enabled"] is True
    assert written["reason"] == written["disabled_by"] == written["disabled_at"] == ""
    check_allowed_now(registry, "npm")


def test_stop_one_ecosystem(registry: RegistryLayout) -> None:
    emergency_stop(registry, "npm outage", ecosystem="npm", by="bob", now=NOW)
    emergency_stop(registry, "cargo too", ecosystem="cargo", by="bob", now=NOW)
    control = load_control(registry.control_file)
    assert control.enabled
    assert control.disabled_ecosystems == ("npm", "crates.io")
    with pytest.raises(StoppedError, match="npm disabled"):
        check_allowed(control, "npm")
    check_allowed(control, "pypi")
    report = resume(registry, ecosystem="npm")
    assert "still disabled: crates.io" in report.message
    report = resume(registry, ecosystem="crates.io")
    control = report.control
    assert control.disabled_ecosystems == () and control.reason == ""


def test_stop_creates_a_missing_control_file(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    emergency_stop(layout, "first day", now=NOW)
    assert load_control(layout.control_file).enabled is False


def test_stop_needs_reason_and_a_sane_ecosystem(registry: RegistryLayout) -> None:
    with pytest.raises(UsageError):
        emergency_stop(registry, "  ")
    with pytest.raises(UsageError):
        emergency_stop(registry, "x", ecosystem="../etc")
    with pytest.raises(UsageError):
        resume(registry, ecosystem="a b")


def test_check_allowed_consults_an_open_breaker_when_given_a_clock() -> None:
    opened = BreakerState(state="open", opens_at=NOW + timedelta(minutes=30), trips=1)
    control = Control(breakers={"npm": opened})
    check_allowed(control, "npm")  # without a clock: only the stop fields
    with pytest.raises(StoppedError, match="open until 2026-08-15T12:30:00Z"):
        check_allowed(control, "npm", now=NOW)
    check_allowed(control, "npm", now=NOW + timedelta(minutes=30))


def test_record_outcome_normalises_prefix() -> None:
    control = Control()
    for _ in range(5):
        control = record_outcome(control, "cargo", False, NOW, BreakerConfig())
    assert control.breaker("crates.io").state == "open"
    assert "cargo" not in control.breakers


def test_resume_can_close_an_ecosystems_breaker(registry: RegistryLayout) -> None:
    from automation.registry.control import update_control

    opened = BreakerState(
        state="open", opens_at=NOW + timedelta(hours=2), trips=2, window=(False,) * 6
    )
    update_control(registry, lambda c: c.with_breaker("pypi", opened))
    with pytest.raises(StoppedError):
        check_allowed(load_control(registry.control_file), "pypi", now=NOW)
    with pytest.raises(UsageError, match="--ecosystem"):
        resume(registry, close_breaker=True)
    report = resume(registry, ecosystem="pypi", close_breaker=True)
    assert "circuit breaker closed (was open)" in report.message
    breaker = load_control(registry.control_file).breaker("pypi")
    assert (breaker.state, breaker.window, breaker.trips, breaker.opens_at) == (
        "closed",
        (),
        0,
        None,
    )
    check_allowed(load_control(registry.control_file), "pypi", now=NOW)
