"""The queue's fast paths change nothing but speed.

- the fast entry check never accepts an entry ``schemas/queue.schema.json`` rejects;
- a malformed entry is reported naming the entry and the field, whichever path it takes;
- reading through the one-pass fast path gives what the general (jsonschema) path gives;
- writing through the entry template gives the bytes ``json.dumps(indent=2)`` gives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.core import schemas
from automation.core.atomic import dumps_json
from automation.core.errors import DataError
from automation.registry.queue import (
    Queue,
    QueueEntry,
    _entries_fast,
    _entry_surely_valid,
    _parse_queue_general,
    _render_queue,
    parse_queue,
    read_queue,
    save_queue,
)

GOOD: dict[str, Any] = {
    "name": "bat",
    "source": "github:sharkdp/bat",
    "priority": 1,
    "status": "success",
    "confidence": "curated",
    "disambiguated_at": None,
    "failure_count": 3,
    "next_retry_at": "2026-02-24T06:13:30.875620816Z",
}
KEYS = list(GOOD)


def document(entries: list[Any]) -> dict[str, Any]:
    return {"schema_version": 1, "updated_at": "2026-08-13T20:39:55Z", "entries": entries}


def schema_valid(entry: Any) -> bool:
    return schemas.check(document([entry]), "queue", path="q") == []


# ---- values near the edges of each rule of the schema ----------------------------------------

CHARS = st.sampled_from(
    [
        "a",
        "Z",
        "0",
        "-",
        "_",
        ".",
        "/",
        "\\",
        ":",
        " ",
        "@",
        "é",
        "\x00",
        "\n",
        "\x1f",
        "\x7f",
        "\u2028",
        "\U0001f600",
        "٢",
    ]
)
TEXT = st.lists(CHARS, max_size=8).map("".join)
STAMPS = st.one_of(
    st.from_regex(
        r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,10})?"
        r"(Z|z|[+-][0-9]{2}:?[0-9]{2})?\n?\Z"
    ),
    st.sampled_from(
        [
            "2026-02-24T06:13:30Z",
            "2026-13-45T06:13:30Z",  # the pattern's shape, not a date
            "2026-02-24T06-13-30Z",
            "2026-02-24 06:13:30Z",
            "2026-02-24T06:13:30Z\n",
            "٢٠٢٦-02-24T06:13:30Z",  # \d matches Arabic-Indic digits in Python and jsonschema
            "tomorrow",
            "",
        ]
    ),
)
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=5),
    st.sampled_from([1.0, 2.0, 2.5, -1.0, 10**30]),
    TEXT,
    st.builds(lambda a, b: f"{a}:{b}", TEXT, TEXT),
    st.sampled_from(
        [
            "pending",
            "success",
            "failed",
            "blocked",
            "requires_manual",
            "excluded",
            "Pending",
            "in_progress",
            "auto",
            "curated",
            "manual",
            "x" * 200,
            "x" * 201,
            "cargo:x",
            "..:x",
            "a..b:x",
            "a.b:x",
            "a/b:x",
            "HOMEBREW:x",
            "npm:",
            ":x",
            "npm:x\n",
            "npm:a\x00b",
        ]
    ),
    STAMPS,
    st.lists(st.just("x"), max_size=1),
    st.dictionaries(st.just("a"), st.just(1), max_size=1),
)


def mutated(data: st.DataObject) -> dict[str, Any]:
    entry = dict(GOOD)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        key = data.draw(st.sampled_from([*KEYS, "extra"]))
        if data.draw(st.integers(min_value=0, max_value=4)) == 0 and key in entry:
            del entry[key]
        else:
            entry[key] = data.draw(ODD_VALUES)
    return entry


@settings(max_examples=2000, deadline=None)
@given(st.data())
def test_fast_check_never_accepts_what_the_schema_rejects(data: st.DataObject) -> None:
    entry = mutated(data)
    if _entry_surely_valid(entry):
        assert schema_valid(entry), f"fast check accepted an invalid entry: {entry!r}"


SINGLE_ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 3, 4, -1, 1.0, 2.0, 2.5, "", "x", "x" * 200, "x" * 201, "a\x00b",
    "a\n", "pending", "excluded", "Pending", "auto", "curated", "github:x", "cargo:x", "..:x",
    "a..b:x", "a.b:x", "a/b:x", "a\\b:x", "HOMEBREW:x", "npm:", ":x", "npm:x\n", "npm:a\x1fb",
    "2026-02-24T06:13:30Z", "2026-02-24T06:13:30.1234567890Z", "2026-02-24T06:13:30+0200",
    "2026-02-24T06:13:30Z\n", "٢٠٢٦-02-24T06:13:30Z", "2026-13-45T06:13:30Z", [], {}, ["x"],
]  # fmt: skip


def test_every_single_field_mutation_agrees_with_the_schema() -> None:
    """Exhaustive: each key removed, or replaced by each odd value; and one unknown key."""
    cases = [{k: v for k, v in GOOD.items() if k != key} for key in KEYS]
    cases += [{**GOOD, key: value} for key in [*KEYS, "extra"] for value in SINGLE_ODD_VALUES]
    accepted = 0
    for entry in cases:
        if _entry_surely_valid(entry):
            accepted += 1
            assert schema_valid(entry), f"fast check accepted an invalid entry: {entry!r}"
    assert accepted > 15  # the valid values stay on the fast path
    assert not _entry_surely_valid([GOOD]) and not _entry_surely_valid({**GOOD, "priority": True})


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_a_malformed_entry_is_named_with_its_field(data: st.DataObject) -> None:
    """Whatever is wrong with entries[1], the errors name entries[1] and entries[0] survives."""
    entry = mutated(data)
    if schema_valid(entry):
        return
    loaded = parse_queue(json.loads(json.dumps(document([GOOD, entry]))), "q.json")
    assert loaded.errors
    assert all(p.where.startswith("entries[1]") for p in loaded.errors), loaded.errors
    assert loaded.queue.entries[0].to_json() == GOOD
    assert len(loaded.queue.entries) == 1


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("value", ["", 4, -1, 2.5, "x" * 201, "a\x00b", "..:x", "tomorrow", []])
def test_a_bad_value_names_its_field_on_read_and_on_save(
    tmp_path: Path, key: str, value: Any
) -> None:
    entry = {**GOOD, "name": "fd", key: value}
    if schema_valid(entry):
        return
    loaded = parse_queue(document([GOOD, entry]), "q.json")
    assert [p.where for p in loaded.errors] == [f"entries[1].{key}"]
    queue = Queue(1, "2026-08-13T20:39:55Z", (QueueEntry(**entry),))
    with pytest.raises(DataError, match=rf"entries\[0\]\.{key}"):
        save_queue(tmp_path / "q.json", queue)
    assert not list(tmp_path.iterdir())  # nothing written, no temp file left


def test_missing_and_unknown_keys_are_named() -> None:
    missing = {k: v for k, v in GOOD.items() if k != "confidence"} | {"name": "rg"}
    loaded = parse_queue(document([GOOD, missing, {**GOOD, "name": "fd", "extra": 1}]), "q")
    assert [p.where for p in loaded.errors] == ["entries[1]", "entries[2]"]
    assert "'confidence'" in loaded.errors[0].message and "'extra'" in loaded.errors[1].message


# ---- one-pass read == general read -------------------------------------------------------------

VALID_ENTRIES = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["bat", "BAT", "fd", "Fd", "rg", "é", "x" * 200]),
        "source": st.builds(
            lambda prefix, ident: f"{prefix}:{ident}",
            st.sampled_from(["github", "cargo", "crates.io", "pip", "npm", "a.b", "x-y_z"]),
            st.sampled_from(["x", "sharkdp/bat", "@scope/pkg", "a:b", "é ü"]),
        ),
        "priority": st.integers(min_value=1, max_value=3),
        "status": st.sampled_from(["pending", "success", "failed", "requires_manual"]),
        "confidence": st.sampled_from(["auto", "curated"]),
        "disambiguated_at": st.one_of(st.none(), st.sampled_from(["2026-02-24T06:13:30Z"])),
        "failure_count": st.integers(min_value=0, max_value=2**70),
        "next_retry_at": st.one_of(
            st.none(),
            st.sampled_from(
                [
                    "2026-02-24T06:13:30.875620816Z",
                    "2026-02-24T06:13:30+02:00",
                    "2026-13-45T06:13:30Z",  # the schema's shape, but no date
                    "2026-02-30T06:13:30Z",
                    "2026-02-24T24:00:00Z",
                    "2026-02-24T06:13:30+25:00",
                ]
            ),
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(VALID_ENTRIES, max_size=12))
def test_one_pass_read_equals_the_general_read(entries: list[dict[str, Any]]) -> None:
    doc = document(entries)
    assert _entries_fast(entries, "q.json") is not None  # this is the fast path
    assert parse_queue(doc, "q.json") == _parse_queue_general(doc, "q.json")


def test_reference_queue_takes_the_fast_path_and_reads_the_same(reference_dir: Path) -> None:
    path = reference_dir / "data/queues/priority-queue.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert _entries_fast(doc["entries"], "q") is not None
    assert parse_queue(doc, "q") == _parse_queue_general(doc, "q")


# ---- template write == json.dumps ----------------------------------------------------------------

NAMES = st.text(min_size=1, max_size=30).filter(lambda s: not any(ord(c) < 0x20 for c in s))


@settings(max_examples=300, deadline=None)
@given(st.lists(VALID_ENTRIES, max_size=6), st.lists(NAMES, min_size=6, max_size=6))
def test_template_writes_the_bytes_json_dumps_writes(
    entries: list[dict[str, Any]], names: list[str]
) -> None:
    typed = [QueueEntry(**{**e, "name": n}) for e, n in zip(entries, names, strict=False)]
    queue = Queue(1, "2026-08-13T20:39:55Z", tuple(typed))
    assert _render_queue(queue) == dumps_json(queue.to_json())


def test_save_writes_json_dumps_bytes_atomically_and_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "q.json"
    entries = (QueueEntry(**GOOD), QueueEntry(**{**GOOD, "name": 'a "quoted" \\ é 😀'}))
    saved = save_queue(path, Queue(1, "2026-08-13T20:39:55Z", entries))
    assert path.read_bytes() == dumps_json(saved.to_json()).encode("utf-8")
    assert len(synced) == 2  # the file, then its directory
    assert [p.name for p in tmp_path.iterdir()] == ["q.json"]
    assert read_queue(path).queue == saved
    empty = save_queue(path, Queue(1, "2026-08-13T20:39:55Z", ()))
    assert path.read_text() == dumps_json(empty.to_json())


@pytest.mark.parametrize(("key", "value"), [("failure_count", 2.0), ("priority", 3.0)])
def test_save_of_an_entry_only_jsonschema_accepts_writes_the_same_bytes(
    tmp_path: Path, key: str, value: Any
) -> None:
    """Not vouched for by the fast check (a float), accepted by the schema: the general path."""
    path = tmp_path / "q.json"
    saved = save_queue(
        path, Queue(1, "2026-08-13T20:39:55Z", (QueueEntry(**{**GOOD, key: value}),))
    )
    assert path.read_text() == dumps_json(saved.to_json())
    assert f'"{key}": {value!r}' in path.read_text()
