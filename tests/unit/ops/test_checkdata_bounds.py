"""check-data reports the same out-of-bounds files the task readers refuse, as errors naming
them: the seed popularity file, and the tier-1, curated-tools and environments lists."""

from __future__ import annotations

import json
from pathlib import Path

from automation.core.errors import ExitCode
from automation.core.layout import RegistryLayout
from automation.ops.checkdata import check_data
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

FILES = {
    "data/queues/popularity.json": (deep_nested(), DEEP_MESSAGE),
    "data/tier1.json": (json.dumps({"schema_version": 1, "entries": [HUGE]}), HUGE_MESSAGE),
    "data/environments.json": (deep_nested(), DEEP_MESSAGE),
    "data/github-tools.json": (json.dumps({"schema_version": HUGE}), HUGE_MESSAGE),
}


def test_out_of_bounds_kit_and_seed_files_are_check_data_errors(tmp_path: Path) -> None:
    for rel, (text, _) in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    report = check_data(RegistryLayout.at(tmp_path))
    errors = {p.path: p.message for _, p in report.problems if p.severity == "error"}
    assert {rel: message in errors.get(rel, "") for rel, (_, message) in FILES.items()} == {
        rel: True for rel in FILES
    }
    assert report.exit_code == ExitCode.DATA_ERROR
