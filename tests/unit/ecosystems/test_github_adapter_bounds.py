"""The curated GitHub tools list (``data/github-tools.json``) is read within the data bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.ecosystems.github.adapter import CURATED_FILE, load_curated
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested


def _huge_curated() -> str:
    document = json.loads(CURATED_FILE.read_text())
    document["entries"][0]["stars"] = HUGE
    return json.dumps(document)


@pytest.mark.parametrize("kind", ["deep-nested", "huge-int"])
def test_curated_list_out_of_bounds(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "github-tools.json"
    path.write_text(deep_nested() if kind == "deep-nested" else _huge_curated())
    with pytest.raises(DataError) as caught:
        load_curated(path)
    assert caught.value.path == str(path)
    if kind == "deep-nested":
        assert DEEP_MESSAGE in str(caught.value)
    else:
        assert "entries[0].stars" in str(caught.value) and HUGE_MESSAGE in str(caught.value)
