"""Result lines read for constraint learning are held to the data bounds: a bad line stops the
run with a DataError naming file and line (as a syntax error there always did)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.registry.constraints import read_results
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

GOOD = {"recipe": "ripgrep", "platform": "linux-debian-glibc-x86_64", "status": "pass"}


@pytest.mark.parametrize(
    ("line", "message"),
    [(deep_nested(), DEEP_MESSAGE), (json.dumps({**GOOD, "exit_code": HUGE}), HUGE_MESSAGE)],
    ids=["deep-nested", "huge-int"],
)
def test_out_of_bounds_result_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "debian-11.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + line + "\n")
    with pytest.raises(DataError) as caught:
        read_results([path], "ripgrep")
    assert (caught.value.path, caught.value.where) == (str(path), "line 2")
    assert message in str(caught.value)
