"""Checksum baselines (``data/checksums/<recipe>.json``) are read within the data bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.core.errors import DataError, ExitCode
from automation.core.layout import RegistryLayout
from automation.ops.drift import baseline_path, read_baselines
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (deep_nested(), DEEP_MESSAGE),
        (
            json.dumps({"schema_version": 1, "recipe": "ripgrep", "baselines": [{"size": HUGE}]}),
            HUGE_MESSAGE,
        ),
    ],
    ids=["deep-nested", "huge-int"],
)
def test_an_out_of_bounds_baseline_is_a_data_error_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    layout = RegistryLayout.at(tmp_path)
    path = baseline_path(layout, "ripgrep")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(DataError) as caught:
        read_baselines(layout, "ripgrep")
    assert caught.value.path == "data/checksums/ripgrep.json"
    assert message in str(caught.value) and caught.value.exit_code == ExitCode.DATA_ERROR
