"""A batch's staging files (generation logs, ``selection.json``) are read within the data
bounds: a bad one is a DataError naming file (and line), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.registry.staging import Staging
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

BATCH = "2026-11-27-180000-pypi"
OUTCOME = {"name": "ripgrep", "source": "pypi:ripgrep", "status": "generated"}


@pytest.fixture
def staging(tmp_path: Path) -> Staging:
    staged = Staging(RegistryLayout.at(tmp_path), BATCH)
    staged.dir.mkdir(parents=True)
    return staged


@pytest.mark.parametrize(
    ("line", "message"),
    [(deep_nested(), DEEP_MESSAGE), (json.dumps({**OUTCOME, "downloads": HUGE}), HUGE_MESSAGE)],
    ids=["deep-nested", "huge-int"],
)
def test_generation_log_line_out_of_bounds(staging: Staging, line: str, message: str) -> None:
    staging.log_path.write_text(json.dumps(OUTCOME) + "\n" + line + "\n")
    with pytest.raises(DataError) as caught:
        staging.outcomes()
    assert (caught.value.path, caught.value.where) == (str(staging.log_path), "line 2")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (deep_nested(), DEEP_MESSAGE),
        (json.dumps({"batch_id": BATCH, "entries": ["ripgrep"], "size": HUGE}), HUGE_MESSAGE),
    ],
    ids=["deep-nested", "huge-int"],
)
def test_selection_out_of_bounds(staging: Staging, text: str, message: str) -> None:
    staging.selection_path.write_text(text)
    for read in (staging.selection, staging.selection_record):
        with pytest.raises(DataError) as caught:
            read()
        assert caught.value.path == str(staging.selection_path)
        assert "unreadable batch selection" in str(caught.value) and message in str(caught.value)
