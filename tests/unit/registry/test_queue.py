"""The queue reads the live shape as it is, reads the legacy shape with a note, writes cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.registry.control import load_control
from automation.registry.queue import load_queue, read_queue, save_queue


def nested(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "[1]" + "}" * (levels - 1)


def test_queue_and_control_out_of_bounds_stop_the_task(tmp_path: Path) -> None:
    queue = tmp_path / "priority-queue.json"
    queue.write_text('{"schema_version": 1, "entries": [{"failure_count": 1' + "0" * 25 + "}]}")
    with pytest.raises(DataError, match=r"priority-queue.json.*entries\[0\].failure_count"):
        load_queue(queue)
    control = tmp_path / "batch-control.json"
    control.write_text(nested(5000))
    with pytest.raises(DataError, match=r"batch-control.json.*nested deeper than 64"):
        load_control(control)


ENTRY = {
    "name": "bat",
    "source": "github:sharkdp/bat",
    "priority": 1,
    "status": "success",
    "confidence": "curated",
    "disambiguated_at": None,
    "failure_count": 3,
    "next_retry_at": "2026-02-24T06:13:30.875620816Z",
}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "priority-queue.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def test_reference_queue_reads_all_entries(reference_dir: Path) -> None:
    loaded = read_queue(reference_dir / "data/queues/priority-queue.json")
    assert len(loaded.queue.entries) == 5305
    assert loaded.errors == []
    # the three `cargo:` prefixes are read as crates.io, and said so
    normalised = [p for p in loaded.problems if p.severity == "normalised"]
    assert len(normalised) == 3
    assert {e.ecosystem for e in loaded.queue.entries if e.source.startswith("cargo:")} == {
        "crates.io"
    }


def test_reference_queue_round_trips_byte_for_byte(reference_dir: Path, tmp_path: Path) -> None:
    original = (reference_dir / "data/queues/priority-queue.json").read_text()
    queue = load_queue(reference_dir / "data/queues/priority-queue.json")
    rendered = json.dumps(queue.to_json(), indent=2, ensure_ascii=False) + "\n"
    assert rendered == original


def test_legacy_queue_is_normalised_and_reported(reference_dir: Path) -> None:
    loaded = read_queue(reference_dir / "data/queues/priority-queue-homebrew.json")
    assert loaded.legacy
    assert len(loaded.queue.entries) == 5144
    assert any("legacy packages[]" in p.message for p in loaded.problems)
    first = loaded.queue.entries[0]
    assert first.source == f"homebrew:{first.name}"


def test_missing_queue_is_an_empty_registry(tmp_path: Path) -> None:
    assert read_queue(tmp_path / "nope.json").queue.entries == ()


@pytest.mark.parametrize(
    ("mutation", "where"),
    [
        ({"status": "generated"}, "entries[0].status"),
        ({"priority": 4}, "entries[0].priority"),
        ({"source": "../x:y"}, "entries[0].source"),
        ({"failure_count": -1}, "entries[0].failure_count"),
        ({"next_retry_at": "tomorrow"}, "entries[0].next_retry_at"),
    ],
)
def test_invalid_entries_are_named(tmp_path: Path, mutation: dict[str, object], where: str) -> None:
    path = write(
        tmp_path,
        {
            "schema_version": 1,
            "updated_at": "2026-08-13T20:39:55Z",
            "entries": [{**ENTRY, **mutation}, {**ENTRY, "name": "fd"}],
        },
    )
    loaded = read_queue(path)
    assert [p.where for p in loaded.errors] == [where]
    assert [e.name for e in loaded.queue.entries] == ["fd"]  # the good entry survives
    with pytest.raises(DataError, match=r"entries\[0\]"):
        load_queue(path)


def test_missing_key_is_an_error(tmp_path: Path) -> None:
    entry = dict(ENTRY)
    del entry["next_retry_at"]
    loaded = read_queue(
        write(
            tmp_path,
            {"schema_version": 1, "updated_at": "2026-08-13T20:39:55Z", "entries": [entry]},
        )
    )
    assert "next_retry_at" in loaded.errors[0].message


def test_duplicate_names_are_reported_case_insensitively(tmp_path: Path) -> None:
    loaded = read_queue(
        write(
            tmp_path,
            {
                "schema_version": 1,
                "updated_at": "2026-08-13T20:39:55Z",
                "entries": [ENTRY, {**ENTRY, "name": "BAT"}],
            },
        )
    )
    assert loaded.errors[0].where == "entries[1].name"


def test_truncated_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text('{\n  "schema_version": 1,\n  "entries": [\n')
    loaded = read_queue(path)
    assert loaded.errors[0].where.startswith("line ")


def test_save_keeps_updated_at_when_nothing_changed(tmp_path: Path) -> None:
    path = write(
        tmp_path, {"schema_version": 1, "updated_at": "2026-08-13T20:39:55Z", "entries": [ENTRY]}
    )
    before = path.read_bytes()
    queue = load_queue(path)
    save_queue(path, queue, previous=queue)
    assert path.read_bytes() == before
    changed = queue.with_entries([queue.entries[0].with_changes(status="pending")])
    saved = save_queue(path, changed, previous=queue)
    assert saved.updated_at != "2026-08-13T20:39:55Z"
    assert load_queue(path).entries[0].status == "pending"


def test_save_refuses_invalid_queue(tmp_path: Path) -> None:
    path = write(
        tmp_path, {"schema_version": 1, "updated_at": "2026-08-13T20:39:55Z", "entries": [ENTRY]}
    )
    queue = load_queue(path)
    bad = queue.with_entries([queue.entries[0].with_changes(status="generated")])
    with pytest.raises(DataError, match="status"):
        save_queue(path, bad)
    assert load_queue(path).entries[0].status == "success"
