"""Seeding's popularity records as the gates read them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.registry.popularity import (
    daily_rate,
    load_popularity,
    period_days,
    popularity_path,
)

GATES = Path(__file__).resolve().parents[2] / "fixtures" / "gates"


@pytest.mark.parametrize(
    ("period", "days"),
    [
        ("30 days", 30.0),
        ("90 days", 90.0),
        ("month", 30.0),
        ("month 2026-03", 30.0),
        ("week", 7.0),
        ("one day's", 1.0),
        ("all time", None),
        ("0 days", None),
        ("", None),
        (None, None),
    ],
)
def test_period_days(period: str | None, days: float | None) -> None:
    assert period_days(period) == days


def test_daily_rate_needs_a_count_and_a_span() -> None:
    assert daily_rate(3000, "30 days") == 100.0
    assert daily_rate(None, "30 days") is None
    assert daily_rate(3000, "all time") is None


def test_load_the_records_seeding_wrote(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    assert load_popularity(layout) == {}  # never seeded: no records, no error
    popularity_path(layout).parent.mkdir(parents=True)
    shutil.copy(GATES / "popularity.json", popularity_path(layout))
    records = load_popularity(layout)
    assert set(records) == {"gunicorn", "uvicorn", "npm", "pnpm", "nypm", "touch", "torch"}
    npm = records["npm"]
    assert (npm.source, npm.downloads, npm.period) == ("npm:npm", 45716941, "month")
    assert records["torch"].period == "30 days" and records["torch"].downloads == 87347847


def test_an_invalid_file_names_itself(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    path = popularity_path(layout)
    path.parent.mkdir(parents=True)
    document = json.loads((GATES / "popularity.json").read_text())
    document["entries"]["npm"]["downloads"] = "many"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError) as caught:
        load_popularity(layout)
    assert str(path) in str(caught.value.path)
    path.write_text("{")
    with pytest.raises(DataError):
        load_popularity(layout)
