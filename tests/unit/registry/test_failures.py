"""Failure files: both line shapes are read, legacy categories remapped, new records are clean."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.registry.failures import (
    NewFailure,
    cap_message,
    failure_files,
    iter_failures,
    read_failure_file,
    scan_failure_text,
    write_failures,
)


def nested(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "[1]" + "}" * (levels - 1)


def test_failure_lines_out_of_bounds_are_skipped_by_line() -> None:
    good = (
        '{"schema_version": 1, "recipe": "bar", "platform": "linux-x86_64", "exit_code": 1, '
        '"category": "install_failed", "timestamp": "2026-01-01T00:00:00Z"}'
    )
    huge = good.replace('"exit_code": 1', '"exit_code": 9223372036854775808')
    envelope = json.dumps(
        {
            "schema_version": 1,
            "ecosystem": "pypi",
            "environment": "linux",
            "updated_at": "2026-01-01T00:00:00Z",
            "failures": [
                {
                    "package_id": "pypi:x",
                    "category": "install_failed",
                    "message": "m",
                    "timestamp": "2026-01-01T00:00:00Z",
                    "exit_code": -(2**63) - 1,
                }
            ],
        }
    )
    scan = scan_failure_text("\n".join([good, huge, envelope, nested(80)]), rel="f.jsonl")
    assert [line for line, _ in scan.rows] == [1]
    assert [p.where for p in scan.problems] == ["line 2", "line 3", "line 4"]
    assert "exit_code" in scan.problems[0].message
    assert "failures[0].exit_code" in scan.problems[1].message


ENVELOPE = (
    '{"schema_version":1,"ecosystem":"homebrew","environment":"linux-glibc-x86_64",'
    '"updated_at":"2026-06-26T20-49-32Z","failures":[{"package_id":"homebrew:go-task",'
    '"category":"validation_failed","blocked_by":["libpng"],"message":"boom",'
    '"timestamp":"2026-06-26T20:47:05.87098022Z"}]}'
)


PLATFORM = (
    '{"schema_version":1,"recipe":"watchexec","platform":"linux-alpine-musl-x86_64",'
    '"exit_code":6,"category":"deterministic","timestamp":"2026-02-18T14:01:11Z"}'
)


def test_both_shapes_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "homebrew-2026-02-07T03-05-28Z.jsonl"
    path.write_text(ENVELOPE + "\n" + PLATFORM + "\n")
    scan = read_failure_file(path)
    assert scan.problems == []
    envelope, platform = scan.records
    assert (envelope.name, envelope.package_id, envelope.category, envelope.raw_category) == (
        "go-task",
        "homebrew:go-task",
        "install_failed",
        "validation_failed",
    )
    assert envelope.blocked_by == ("libpng",)
    assert (platform.name, platform.environment, platform.category) == (
        "watchexec",
        "linux-alpine-musl-x86_64",
        "generation_failed",
    )


@pytest.mark.parametrize(
    ("line", "where_fragment"),
    [
        ("{not json", "line 1"),
        (ENVELOPE.replace('"validation_failed"', '"exploded"'), "failures[0].category"),
        (PLATFORM.replace('"exit_code":6', '"exit_code":"6"'), "exit_code"),
        (ENVELOPE.replace('"libpng"', '"../../etc"'), "blocked_by[0]"),
        ('{"schema_version":1}', "line 1"),
    ],
)
def test_bad_lines_are_reported_and_skipped(tmp_path: Path, line: str, where_fragment: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(line + "\n" + PLATFORM + "\n")
    scan = read_failure_file(path)
    assert len(scan.records) == 1  # the good line survives
    assert scan.problems and all(p.where.startswith("line 1") for p in scan.problems)
    assert any(where_fragment in p.where for p in scan.problems)


def test_reference_failures_all_read(reference_dir: Path) -> None:
    layout = RegistryLayout(reference_dir)
    files = failure_files(layout)
    assert len(files) == 5785
    records = list(iter_failures(layout))
    shapes = Counter(r.shape for r in records)
    assert shapes == {"ecosystem": 6355, "platform": 276}
    categories = Counter(r.category for r in records)
    assert set(categories) <= {
        "install_failed",
        "generation_failed",
        "recipe_not_found",
        "missing_dep",
        "network_error",
    }
    # failures are keyed by the queue source, not the entry name: `task` fails as go-task
    assert any(r.package_id == "homebrew:go-task" for r in records)


def test_write_failures_round_trips(tmp_path: Path) -> None:
    layout = RegistryLayout(tmp_path)
    when = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    failure = NewFailure(
        name="http",
        package_id="pypi:httpie",
        category="verify_failed",
        subcategory="pattern_mismatch",
        message="x" * 40000,
        exit_code=1,
        blocked_by=("b", "a", "b"),
    )
    first = write_failures(layout, "pypi", "linux-debian-glibc-x86_64", [failure], when)
    second = write_failures(layout, "pypi", "linux-debian-glibc-x86_64", [failure], when)
    assert first is not None and second is not None and first != second  # same second, no clobber
    (record,) = read_failure_file(first).records
    assert record.name == "http" and record.subcategory == "pattern_mismatch"
    assert record.blocked_by == ("a", "b")
    assert len(record.message) <= 16384 and record.message.endswith("x")
    assert json.loads(first.read_text())["environment"] == "linux-debian-glibc-x86_64"


def test_write_refuses_unknown_category(tmp_path: Path) -> None:
    bad = NewFailure(name="x", package_id="pypi:x", category="oops", subcategory="y", message="")
    with pytest.raises(DataError, match="category"):
        write_failures(RegistryLayout(tmp_path), "pypi", "local", [bad], datetime.now(UTC))


def test_cap_message_keeps_the_end() -> None:
    text = "start " + "." * 50000 + " the real error"
    capped = cap_message(text, 1000)
    assert len(capped) <= 1000 and capped.startswith("start") and capped.endswith("the real error")
