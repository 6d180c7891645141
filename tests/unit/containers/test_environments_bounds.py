"""``data/environments.json`` is read within the data bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.containers.environments import ENVIRONMENTS_FILE, load_environments
from automation.core.errors import DataError
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested


def _huge_environments() -> str:
    document = json.loads(ENVIRONMENTS_FILE.read_text())
    document["environments"][0]["timeout"] = HUGE
    return json.dumps(document)


@pytest.mark.parametrize("kind", ["deep-nested", "huge-int"])
def test_environments_out_of_bounds(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "environments.json"
    path.write_text(deep_nested() if kind == "deep-nested" else _huge_environments())
    with pytest.raises(DataError) as caught:
        load_environments(path)
    assert caught.value.path == str(path)
    if kind == "deep-nested":
        assert DEEP_MESSAGE in str(caught.value)
    else:
        assert "environments[0].timeout" in str(caught.value)
        assert HUGE_MESSAGE in str(caught.value)
