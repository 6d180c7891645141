"""The fast failure-line check never accepts a line the JSON schema rejects, and accepts the
valid lines real registries hold (otherwise it would not save anything)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from automation.core import schemas
from automation.registry.failures import fast_line_check, read_failure_file

VALID_ENVELOPE: dict[str, Any] = {
    "schema_version": 1,
    "ecosystem": "homebrew",
    "environment": "linux-glibc-x86_64",
    "updated_at": "2026-03-01T00-00-00Z",
    "failures": [
        {
            "package_id": "homebrew:neovim",
            "name": "neovim",
            "category": "missing_dep",
            "subcategory": "exit_8",
            "blocked_by": ["libuv", "tree-sitter@0.25"],
            "message": "missing dependencies",
            "exit_code": 8,
            "batch_id": "b1",
            "timestamp": "2026-03-01T00:00:00Z",
        }
    ],
}
VALID_PLATFORM: dict[str, Any] = {
    "schema_version": 1,
    "recipe": "neovim",
    "platform": "linux-alpine-musl-x86_64",
    "exit_code": 8,
    "category": "missing_dep",
    "blocked_by": ["libuv"],
    "timestamp": "2026-03-01T00:00:00.123456789+02:00",
}

# Values that break some rule of the schema somewhere (wrong type, pattern, enum, length...).
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(
        [
            "",
            "x",
            "1",
            "homebrew",
            "HOMEBREW:x",
            "pypi:",
            ":x",
            "a/b",
            "..",
            "lib..x",
            "has space",
            "ok_sub",
            "Bad-Sub",
            "missing_dep",
            "timeout",
            "bogus_category",
            "linux-x86_64",
            "linux-debian-glibc-x86_64",
            "darwin-arm64\n",
            "windows-x86_64",
            "2026-03-01T00:00:00Z",
            "2026-03-01T00-00-00Z",
            "2026-03-01T00:00:00.1234567890Z",
            "2026-03-01 00:00:00Z",
            "2026-03-01T00:00:00Z\n",
            "٢٠٢٦-03-01T00:00:00Z",  # Arabic-Indic digits: \d matches them in Python and jsonschema
            "x" * 16385,
        ]
    ),
    st.lists(st.sampled_from(["libuv", "a/b", "..x", "", "ok", "x y"]), max_size=3),
    st.lists(st.just("dep"), min_size=100, max_size=101),
    st.dictionaries(st.sampled_from(["a", "name"]), st.just("x"), max_size=2),
)
FAILURE_KEYS = [
    "package_id", "name", "category", "subcategory", "blocked_by", "message", "exit_code",
    "batch_id", "timestamp", "extra",
]  # fmt: skip
ENVELOPE_KEYS = ["schema_version", "ecosystem", "environment", "updated_at", "failures", "recipe"]
PLATFORM_KEYS = [
    "schema_version", "recipe", "platform", "exit_code", "category", "blocked_by", "timestamp",
    "failures", "extra",
]  # fmt: skip


def _mutate(base: dict[str, Any], keys: list[str], data: st.DataObject) -> dict[str, Any]:
    doc = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()) and key in doc:
            del doc[key]
        else:
            doc[key] = data.draw(ODD_VALUES)
    return doc


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_fast_check_never_accepts_what_the_schema_rejects(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["envelope", "failure", "platform"]))
    if kind == "platform":
        doc: Any = _mutate(VALID_PLATFORM, PLATFORM_KEYS, data)
    elif kind == "envelope":
        doc = _mutate(VALID_ENVELOPE, ENVELOPE_KEYS, data)
    else:
        doc = json.loads(json.dumps(VALID_ENVELOPE))
        doc["failures"].append(_mutate(VALID_ENVELOPE["failures"][0], FAILURE_KEYS, data))
    problems = schemas.check(doc, "failure-line", path="x.jsonl")
    if fast_line_check(doc):
        assert problems == [], f"fast check accepted an invalid line: {problems}"


def test_fast_check_accepts_the_valid_examples_and_rejects_obvious_damage() -> None:
    assert schemas.check(VALID_ENVELOPE, "failure-line", path="x") == []
    assert schemas.check(VALID_PLATFORM, "failure-line", path="x") == []
    assert fast_line_check(VALID_ENVELOPE) and fast_line_check(VALID_PLATFORM)
    assert not fast_line_check({**VALID_PLATFORM, "exit_code": True})  # bool is not an integer
    assert not fast_line_check({**VALID_PLATFORM, "schema_version": True})
    assert not fast_line_check([VALID_PLATFORM])


def test_fast_check_accepts_the_reference_registrys_valid_lines(reference_dir: Path) -> None:
    """Every reference line the schema accepts takes the fast path (so jsonschema never runs)."""
    valid = fast = 0
    for path in sorted((reference_dir / "data" / "failures").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            if schemas.check(doc, "failure-line", path=path.name) == []:
                valid += 1
                fast += fast_line_check(doc)
            else:
                assert not fast_line_check(doc)
    assert valid > 5000
    assert fast == valid


def test_reading_reports_the_same_problems_whichever_path_a_line_takes(tmp_path: Path) -> None:
    bad_platform = {**VALID_PLATFORM, "platform": "windows-x86_64"}
    path = tmp_path / "f.jsonl"
    lines = [VALID_ENVELOPE, bad_platform, VALID_PLATFORM]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    scan = read_failure_file(path, rel="data/failures/f.jsonl")
    assert [(r.line, r.name) for r in scan.records] == [(1, "neovim"), (3, "neovim")]
    assert [p.where.split()[:2] for p in scan.problems] == [["line", "2"]]
    assert "platform" in scan.problems[0].where or "windows" in scan.problems[0].message


SINGLE_ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 1.0, 1.5, "", "x", "homebrew", "HOMEBREW:x", "pypi:", ":x", "a/b",
    "..", "lib..x", "has space", "Bad-Sub", "missing_dep", "bogus_category", "linux-x86_64",
    "linux-debian-glibc-x86_64", "darwin-arm64\n", "windows-x86_64", "2026-03-01T00:00:00Z",
    "2026-03-01T00:00:00.1234567890Z", "2026-03-01 00:00:00Z", "x" * 16384, "x" * 16385,
    ["libuv"], ["a/b"], ["..x"], [""], [1], ["dep"] * 100, ["dep"] * 101, {}, {"name": "x"},
]  # fmt: skip


def test_every_single_field_mutation_agrees_with_the_schema() -> None:
    """Exhaustive: each field replaced by (or removed for) each odd value, in each shape."""
    cases: list[Any] = []
    for base, keys in ((VALID_PLATFORM, PLATFORM_KEYS), (VALID_ENVELOPE, ENVELOPE_KEYS)):
        for key in keys:
            cases.append({k: v for k, v in base.items() if k != key})
            cases += [{**base, key: value} for value in SINGLE_ODD_VALUES]
    failure = VALID_ENVELOPE["failures"][0]
    for key in FAILURE_KEYS:
        items = [{k: v for k, v in failure.items() if k != key}]
        items += [{**failure, key: value} for value in SINGLE_ODD_VALUES]
        cases += [{**VALID_ENVELOPE, "failures": [failure, item]} for item in items]
    accepted = 0
    for doc in cases:
        valid = schemas.check(doc, "failure-line", path="x.jsonl") == []
        if fast_line_check(doc):
            accepted += 1
            assert valid, f"fast check accepted an invalid line: {json.dumps(doc)[:300]}"
    assert accepted > 20  # the valid mutations (e.g. optional fields removed) stay fast
