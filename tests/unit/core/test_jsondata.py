"""Every JSON value the kit reads is held to fixed bounds: nesting depth and int64 integers.

A value outside them is a Problem naming file and place, before any model is built from it."""

from __future__ import annotations

import json

import pytest

from automation.core.jsondata import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    iter_json_lines,
    iter_json_stream,
    loads,
)


def nested(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "[1]" + "}" * (levels - 1)


def test_depth_limit_is_exact() -> None:
    value, problem = loads(nested(MAX_DEPTH), "f.json")
    assert problem is None and value is not None
    value, problem = loads(nested(MAX_DEPTH + 1), "f.json")
    assert value is None and problem is not None
    assert problem.path == "f.json" and f"nested deeper than {MAX_DEPTH}" in problem.message


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 500, 5000, 100_000])
def test_deep_nesting_never_raises(levels: int) -> None:
    value, problem = loads("[" * levels + "]" * levels, "deep.json")
    assert value is None and problem is not None and "nested deeper" in problem.message


@pytest.mark.parametrize("number", [INT_MAX, INT_MIN, 0, -1])
def test_int64_range_is_accepted(number: int) -> None:
    assert loads(json.dumps({"n": [number, True, 1.5]}), "f.json") == (
        {"n": [number, True, 1.5]},
        None,
    )


@pytest.mark.parametrize("number", [INT_MAX + 1, INT_MIN - 1, 10**30, -(10**300)])
def test_integers_outside_int64_are_problems_naming_the_field(number: int) -> None:
    value, problem = loads(json.dumps({"entries": [{"ok": 1}, {"count": number}]}), "q.json")
    assert value is None and problem is not None
    assert "entries[1].count" in problem.message and "64-bit range" in problem.message


def test_line_readers_name_the_line() -> None:
    text = '{"a": 1}\n{"a": 100000000000000000000}\n' + nested(70) + "\n"
    decoded = list(iter_json_lines(text, "r.jsonl"))
    assert [d.problem is None for d in decoded] == [True, False, False]
    assert [d.problem.where for d in decoded[1:] if d.problem] == ["line 2", "line 3"]
    stream = list(iter_json_stream('{"a": 1}\n{"a": 100000000000000000000}\n{"a": 2}\n', "m"))
    assert [d.value for d in stream] == [{"a": 1}, None, {"a": 2}]  # the next record still read
    assert stream[1].problem is not None and stream[1].problem.where == "line 2 column 1"
