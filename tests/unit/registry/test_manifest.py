"""Batch manifests record and restore exact bytes and refuse unsafe or tampered paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.core.errors import DataError, UnsafeNameError
from automation.core.layout import RegistryLayout
from automation.registry.manifest import (
    FileState,
    kind_of,
    load_manifest,
    new_manifest,
    read_manifest_file,
    record_file_after,
    record_file_before,
    record_queue_change,
    save_manifest,
)
from automation.registry.queue import QueueEntry

ENTRY = QueueEntry("bat", "github:sharkdp/bat", 1, "pending", "curated", None, 0, None)


def test_manifest_records_and_restores_exact_bytes(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    (tmp_path / "recipes/b").mkdir(parents=True)
    text_file = tmp_path / "recipes/b/bat.toml"
    text_file.write_bytes(b'[metadata]\r\nname = "bat"\n# \xc3\xbc\n')
    binary = tmp_path / "data/checksums/blob.bin"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(bytes(range(256)))
    m = new_manifest("2026-07-01-001", ["github", "github"])
    for rel in ("recipes/b/bat.toml", "data/checksums/blob.bin", "recipes/b/new.toml"):
        m = record_file_before(m, layout, rel)
    text_file.write_text("changed")
    m = record_file_before(m, layout, "recipes/b/bat.toml")  # first snapshot wins
    (tmp_path / "recipes/b/new.toml").write_text("new")
    binary.unlink()
    for rel in ("recipes/b/bat.toml", "data/checksums/blob.bin", "recipes/b/new.toml"):
        m = record_file_after(m, layout, rel)
    m = record_queue_change(m, ENTRY, ENTRY.with_changes(status="success"))
    m = record_queue_change(m, ENTRY, ENTRY.with_changes(status="failed"))
    saved = save_manifest(layout, m.with_status("merged"))
    loaded = load_manifest(layout, "2026-07-01-001")
    assert loaded == saved
    assert loaded.ecosystems == ("github",)
    assert [c.action for c in loaded.files] == ["modified", "deleted", "created"]
    assert [c.before.encoding for c in loaded.files] == ["text", "base64", None]
    assert loaded.files[0].before_bytes() == b'[metadata]\r\nname = "bat"\n# \xc3\xbc\n'
    assert loaded.files[1].before_bytes() == bytes(range(256))
    assert loaded.files[2].before_bytes() is None
    (change,) = loaded.queue_changes
    assert change.before == ENTRY and change.after is not None and change.after.status == "failed"
    document = json.loads(layout.batch_manifest("2026-07-01-001").read_text())
    assert document["files"][0]["kind"] == "recipe"
    assert set(document["queue_changes"][0]["before"]) == set(ENTRY.to_json())


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "data/../../x", "a\\b", "", "data/./x"])
def test_manifest_refuses_unsafe_paths(tmp_path: Path, rel: str) -> None:
    with pytest.raises(UnsafeNameError):
        record_file_before(new_manifest("b1"), RegistryLayout.at(tmp_path), rel)


def test_manifest_refuses_symlink_out_of_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    (root / "data/link").symlink_to(tmp_path)
    with pytest.raises(UnsafeNameError):
        record_file_before(new_manifest("b1"), RegistryLayout.at(root), "data/link/secret")


def test_manifest_after_without_before_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        record_file_after(new_manifest("b1"), RegistryLayout.at(tmp_path), "recipes/b/bat.toml")


def test_tampered_manifest_is_reported(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    (tmp_path / "f.txt").write_text("hello")
    m = record_file_after(record_file_before(new_manifest("b1"), layout, "f.txt"), layout, "f.txt")
    save_manifest(layout, m)
    path = layout.batch_manifest("b1")
    document = json.loads(path.read_text())
    document["files"][0]["before"]["content"] = "HELLO"
    document["files"][0]["action"] = "created"
    document["results_files"] = ["data/results/x.jsonl"]
    path.write_text(json.dumps(document))
    scan = read_manifest_file(path, rel="m")
    assert sorted((p.where, p.severity) for p in scan.problems) == [
        ("files[0].action", "error"),
        ("files[0].before", "error"),
        ("results_files", "warning"),
    ]
    with pytest.raises(DataError):
        load_manifest(layout, "b1")


def test_file_kinds() -> None:
    assert kind_of("recipes/b/bat.toml") == "recipe"
    assert kind_of("data/queues/priority-queue.json") == "queue"
    assert kind_of("data/queues/batch-results.json") == "batch_summary"
    assert kind_of("data/failures/pypi-2026-07-01T10-00-00Z.jsonl") == "failures"
    assert kind_of("batch-control.json") == "control"
    assert FileState.of_bytes(b"", keep_content=True).data() == b""
