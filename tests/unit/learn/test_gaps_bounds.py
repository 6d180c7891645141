"""The gap report's result cache is read within the data bounds: an out-of-bounds cache file is
a miss (the report is computed again and the cache rewritten), never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.learn.gaps import gap_report
from tests.support.gap_registry import make_registry
from tests.support.hostile_json import HUGE, deep_nested


def _without_run_details(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if k not in ("index", "result_cache")}


@pytest.mark.parametrize("kind", ["deep-nested", "huge-int"])
def test_an_out_of_bounds_cache_is_recomputed(tmp_path: Path, kind: str) -> None:
    root = make_registry(tmp_path / "reg")
    db = tmp_path / "cache" / "idx.sqlite"
    before = gap_report(root, index_path=db).to_json()
    (cached,) = (db.parent / "gap-reports").glob("*.json")
    if kind == "deep-nested":
        cached.write_text(deep_nested())
    else:  # the right fingerprint: without the bound this would be served as is
        document = json.loads(cached.read_text())
        document["report"]["blockers"][0]["weighted_value"] = HUGE
        cached.write_text(json.dumps(document))
    after = gap_report(root, index_path=db).to_json()
    assert after["result_cache"]["hit"] is False
    assert _without_run_details(after) == _without_run_details(before)
    assert str(HUGE) not in cached.read_text() and "zlib-ng" in cached.read_text()
