"""The result line a container prints is data too: one outside the bounds is not used, and the
classified failure says why (no RecursionError, no absurd exit code carried on)."""

from __future__ import annotations

import json

import pytest

from automation.containers.runtime import Completed
from automation.containers.validate import CONTAINER_ERROR, parse_installer_output
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

HUGE_RESULT = json.dumps({"status": "pass", "category": "", "exit_code": HUGE})


@pytest.mark.parametrize(
    ("line", "message"),
    [(deep_nested(), DEEP_MESSAGE), (HUGE_RESULT, HUGE_MESSAGE)],
    ids=["deep-nested", "huge-int"],
)
def test_out_of_bounds_result_line_is_a_classified_failure(line: str, message: str) -> None:
    stdout = f"installing ripgrep\n{line}\n"
    record = parse_installer_output(Completed(("podman", "exec"), 0, stdout=stdout))
    assert record["status"] == "fail" and record["category"] == CONTAINER_ERROR
    assert record["exit_code"] == -1
    first_line = record["message"].splitlines()[0]
    assert first_line.startswith("installer output line 2: ") and message in first_line
