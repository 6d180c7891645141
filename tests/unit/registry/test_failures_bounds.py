"""Failure lines are decoded by the shared bounded reader: a line outside the bounds is a
problem naming file and line and is skipped; the lines around it are still read."""

from __future__ import annotations

import json

import pytest

from automation.registry.failures import scan_failure_text
from tests.support.gap_registry import failure_line
from tests.support.hostile_json import DEEP_MESSAGE, HUGE, HUGE_MESSAGE, deep_nested

GOOD = failure_line("npm:tool", ["openssl@3"], "2026-04-01T00:00:00Z", "linux-debian")


def _huge() -> str:
    document = json.loads(GOOD)
    document["failures"][0]["attempts"] = HUGE
    return json.dumps(document)


@pytest.mark.parametrize(
    ("bad", "message"),
    [(deep_nested(), DEEP_MESSAGE), (_huge(), HUGE_MESSAGE), ('{"n": NaN}', "NaN")],
    ids=["deep-nested", "huge-int", "nan"],
)
def test_out_of_bounds_line_is_skipped_with_a_problem(bad: str, message: str) -> None:
    scan = scan_failure_text("\n".join([GOOD, bad, GOOD]), rel="data/failures/npm-1.jsonl")
    assert [line for line, _ in scan.rows] == [1, 3]
    assert [(p.path, p.where) for p in scan.problems] == [("data/failures/npm-1.jsonl", "line 2")]
    assert message in scan.problems[0].message


def test_a_syntax_error_names_the_line_and_puts_the_column_in_the_message() -> None:
    scan = scan_failure_text(GOOD + "\n{not json\n", rel="f.jsonl")
    assert [(p.where, p.message) for p in scan.problems] == [
        ("line 2", "invalid JSON: Expecting property name enclosed in double quotes at column 2")
    ]
