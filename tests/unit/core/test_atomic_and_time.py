"""Writes are atomic, the registry lock excludes a second writer, timestamps parse in every form."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.atomic import append_jsonl, atomic_write_json, atomic_write_text, registry_lock
from automation.core.errors import LockedError
from automation.core.timefmt import format_filename_stamp, format_timestamp, parse_timestamp


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert os.listdir(target.parent) == ["file.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    atomic_write_text(target, "old")

    class Boom:
        def encode(self, _: str) -> bytes:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write_text(target, Boom())  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_append_jsonl_adds_compact_lines(tmp_path: Path) -> None:
    target = tmp_path / "r.jsonl"
    target.write_text('{"x":1}')  # no trailing newline: a truncated earlier writer
    append_jsonl(target, [{"y": 2}, {"z": 3}])
    assert target.read_text().splitlines() == ['{"x":1}', '{"y":2}', '{"z":3}']


def test_second_writer_is_locked_out(tmp_path: Path) -> None:
    lock = tmp_path / ".automation.lock"
    with registry_lock(lock), pytest.raises(LockedError), registry_lock(lock):
        pass
    with registry_lock(lock):  # released after the first context
        pass


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-13T20:39:55Z", datetime(2026, 8, 13, 20, 39, 55, tzinfo=UTC)),
        ("2026-02-17T00:10:01.867521792Z", datetime(2026, 2, 17, 0, 10, 1, 867521, tzinfo=UTC)),
        ("2026-06-26T20-49-32Z", datetime(2026, 6, 26, 20, 49, 32, tzinfo=UTC)),
        ("2026-06-26T22:49:32+02:00", datetime(2026, 6, 26, 20, 49, 32, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_forms(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2026-06-26", "2026-06-26T20:49:32", "2026-13-01T00:00:00Z"]
)
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        parse_timestamp(text)


def test_formats() -> None:
    moment = datetime(2026, 6, 26, 20, 49, 32, 123, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-06-26T20:49:32Z"
    assert format_filename_stamp(moment) == "2026-06-26T20-49-32Z"
