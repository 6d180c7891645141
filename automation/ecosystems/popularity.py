"""Popularity per ecosystem, as ranks and rank-based percentiles (100 = most popular).

The shared shape only: each ecosystem's loader (``automation/ecosystems/<name>/``, the adapter's
``popularity``) turns its registry's download numbers into a ``PopularityList``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Ranked:
    identifier: str
    downloads: int
    rank: int  # 1 = most downloaded
    percentile: float  # 100 = most downloaded


@dataclass(frozen=True, slots=True)
class PopularityList:
    """Ranked identifiers of one ecosystem, most popular first."""

    ecosystem: str
    period: str  # what ``downloads`` counts, e.g. "30 days" or "month 2026-03"
    source: str  # where the numbers came from
    as_of: str | None
    population: int  # projects ranked against (percentile denominator)
    entries: tuple[Ranked, ...]
    notes: tuple[str, ...] = ()

    def top(self, n: int) -> PopularityList:
        return replace(self, entries=self.entries[:n])


def percentile_for_rank(rank: int, population: int) -> float:
    """Rank-based percentile: rank 1 -> 100.0; the last of ``population`` -> about 0."""
    if rank < 1 or population < 1:
        raise ValueError("rank and population must be positive")
    population = max(population, rank)
    return round(100.0 * (1.0 - (rank - 1) / population), 6)


def rank_counts(pairs: list[tuple[str, int]], population: int) -> tuple[Ranked, ...]:
    """Sort by downloads (desc) then name, assign ranks 1.. and percentiles."""
    ordered = sorted(pairs, key=lambda p: (-p[1], p[0]))
    return tuple(
        Ranked(name, count, i, percentile_for_rank(i, population))
        for i, (name, count) in enumerate(ordered, start=1)
    )
