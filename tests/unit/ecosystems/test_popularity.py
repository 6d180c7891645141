"""Popularity lists: percentiles from raw counts."""

from __future__ import annotations

import pytest

from automation.ecosystems.popularity import percentile_for_rank


def test_percentiles() -> None:
    assert percentile_for_rank(1, 1000) == 100.0
    assert percentile_for_rank(11, 1000) == 99.0
    assert percentile_for_rank(1000, 1000) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        percentile_for_rank(0, 10)
