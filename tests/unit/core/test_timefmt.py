"""Timestamps parse in every form the registry holds and format in the exact layout."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automation.core.timefmt import format_filename_stamp, format_timestamp, parse_timestamp


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
