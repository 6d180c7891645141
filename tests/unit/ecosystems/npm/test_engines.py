"""engines.node against tsuku's Node.js: npm's own semver answers, saved, are the reference."""

from __future__ import annotations

import json
from typing import Any

import pytest

from automation.ecosystems.npm.engines import (
    MAX_RANGE,
    engines_node,
    node_admits,
    runtime_conflict,
)
from tests.support.fake_upstream import FIXTURES

TABLE: dict[str, Any] = json.loads((FIXTURES / "npm" / "semver" / "engines-node.json").read_text())
CASES = [
    (row["range"], version, row["valid"], satisfied)
    for row in TABLE["rows"]
    for version, satisfied in row["satisfies"].items()
]


def test_the_table_covers_real_and_tricky_ranges() -> None:
    ranges = {row["range"] for row in TABLE["rows"]}
    assert "^22.22.3 || ^24.15.0 || >=26.0.0" in ranges  # @angular/cli
    assert {"1 - 30", "18.x || 20.x", "~26.1", "node >= 18", ""} <= ranges
    assert len(CASES) > 500


@pytest.mark.parametrize(("node_range", "version", "valid", "satisfied"), CASES)
def test_node_admits_answers_as_npm_semver_does(
    node_range: str, version: str, valid: bool, satisfied: bool
) -> None:
    expected = satisfied if valid else None
    assert node_admits(node_range, version) is expected


def test_a_pre_release_node_is_refused() -> None:
    with pytest.raises(ValueError, match="final release"):
        node_admits(">=26", "26.0.0-rc.1")


def test_an_overlong_range_reads_as_no_constraint() -> None:
    assert node_admits(">=1 " * (MAX_RANGE // 4 + 1), "26.12.1") is None
    assert node_admits("<1 " * 60, "26.12.1") is False  # under the cap: read


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"engines": {"node": ">=18", "npm": ">=9"}}, ">=18"),
        ({"engines": {"npm": ">=9"}}, None),
        ({"engines": ["node >= 0.4"]}, None),  # the legacy array form
        ({"engines": {"node": 18}}, None),
        ({}, None),
    ],
)
def test_engines_node(manifest: dict[str, Any], expected: str | None) -> None:
    assert engines_node(manifest) == expected


def test_runtime_conflict_says_which_range_excludes_which_node() -> None:
    assert runtime_conflict(" ^18 || ^20 ", "26.12.1") == (
        "engines.node '^18 || ^20' excludes Node.js 26.12.1"
    )
    assert runtime_conflict(">=18", "26.12.1") == ""
    assert runtime_conflict("node >= 18", "26.12.1") == ""  # unreadable: no constraint
    assert runtime_conflict(None, "26.12.1") == ""
