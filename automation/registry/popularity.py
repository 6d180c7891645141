"""``data/queues/popularity.json``: what seeding recorded of each queued name's popularity.

Seeding writes one record per accepted name (its ecosystem's own download count, the period the
count covers, rank and percentile). Generation logs a candidate's count from it, and merge's
typosquat gate compares a candidate with the name it resembles by it (``stages/gates.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core import schemas
from automation.core.errors import DataError
from automation.core.jsondata import read_json
from automation.core.layout import RegistryLayout

# How many days a period string covers: "30 days", "90 days", "month", "month 2026-03",
# "week", "day", "one day's". Anything else (e.g. "all time") is not a rate.
_DAYS = re.compile(r"^\s*(\d{1,4})\s+days?\b", re.IGNORECASE)
_NAMED = {"day": 1.0, "one day": 1.0, "week": 7.0, "month": 30.0}


@dataclass(frozen=True, slots=True)
class PopularityRecord:
    """One name's popularity as seeding recorded it."""

    name: str
    ecosystem: str
    identifier: str
    downloads: int
    period: str
    percentile: float

    @property
    def source(self) -> str:
        return f"{self.ecosystem}:{self.identifier}"


def popularity_path(layout: RegistryLayout) -> Path:
    """Where seeding keeps the records (``data/queues/popularity.json``)."""
    return layout.root / "data" / "queues" / "popularity.json"


def period_days(period: str | None) -> float | None:
    """Days a download period covers (``"30 days"`` -> 30, ``"month ..."`` -> 30), or None
    when the period is not a span of time (``"all time"``, unknown text)."""
    if not period:
        return None
    match = _DAYS.match(period)
    if match:
        days = int(match[1])
        return float(days) if days > 0 else None
    head = period.strip().lower().rstrip("'s")
    for word, named in _NAMED.items():
        if head == word or head.startswith(word + " "):
            return named
    return None


def daily_rate(downloads: int | None, period: str | None) -> float | None:
    """Downloads per day, when both the count and the span it covers are known."""
    days = period_days(period)
    if downloads is None or days is None:
        return None
    return downloads / days


def parse_popularity(document: Any, *, path: str) -> dict[str, PopularityRecord]:
    """Records by lower-cased name from a schema-valid document; DataError otherwise."""
    problems = schemas.check(document, "popularity", path=path)
    if problems:
        raise DataError(problems[0].message, path=path, where=problems[0].where)
    entries: Mapping[str, Mapping[str, Any]] = document["entries"]
    return {
        name.lower(): PopularityRecord(
            name=name,
            ecosystem=raw["ecosystem"],
            identifier=raw["identifier"],
            downloads=raw["downloads"],
            period=raw["period"],
            percentile=float(raw["percentile"]),
        )
        for name, raw in entries.items()
    }


def load_popularity(layout: RegistryLayout) -> dict[str, PopularityRecord]:
    """The records of ``layout`` (none when seeding never wrote the file); a file that is
    there but unreadable or invalid is a DataError naming it (exit 3)."""
    path = popularity_path(layout)
    if not path.exists():
        return {}
    document, problem = read_json(path, str(path))  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(problem.message, path=str(path), where=problem.where)
    return parse_popularity(document, path=str(path))
