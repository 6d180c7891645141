"""The SQLite failure index: incremental, a cache of the files, never in read-only roots."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from automation.failure_index import default_index_path, load_failure_records, open_index
from automation.failures import iter_failures
from automation.layout import RegistryLayout


def envelope(package_id: str, blocked_by: list[str] | None = None) -> str:
    failure = {
        "package_id": package_id,
        "category": "missing_dep" if blocked_by else "install_failed",
        "message": "boom",
        "timestamp": "2026-03-03T03:14:02.577320177Z",
    }
    if blocked_by:
        failure["blocked_by"] = blocked_by
    line = {
        "schema_version": 1,
        "ecosystem": package_id.split(":", 1)[0],
        "environment": "linux-glibc-x86_64",
        "updated_at": "2026-03-03T03-15-07Z",
        "failures": [failure],
    }
    return json.dumps(line) + "\n"


PLATFORM_LINE = (
    '{"schema_version":1,"recipe":"apr-util","platform":"linux-alpine-musl-x86_64",'
    '"exit_code":8,"category":"missing_dep","timestamp":"2026-02-21T07:27:58Z"}\n'
)


@pytest.fixture
def registry(tmp_path: Path) -> RegistryLayout:
    failures = tmp_path / "data" / "failures"
    failures.mkdir(parents=True)
    (failures / "homebrew-1.jsonl").write_text(envelope("homebrew:vim", ["python@3.14"]))
    (failures / "homebrew-2.jsonl").write_text(envelope("homebrew:node") + PLATFORM_LINE)
    return RegistryLayout.at(tmp_path)


def test_cold_then_warm_then_changes(registry: RegistryLayout, tmp_path: Path) -> None:
    db = tmp_path / "cache" / "failures.sqlite"
    records, problems, stats = load_failure_records(registry, index_path=db)
    assert (stats.files, stats.files_read, stats.records) == (2, 2, 3)
    assert problems == []
    assert [r.blocked_by for r in records] == [("python@3.14",), (), ()]

    _, _, warm = load_failure_records(registry, index_path=db)
    assert (warm.files_read, warm.files_unchanged) == (0, 2)

    # Same bytes, new mtime: hashed, not re-read.
    path = registry.failures_dir / "homebrew-1.jsonl"
    os.utime(path, ns=(1, 1))
    _, _, touched = load_failure_records(registry, index_path=db)
    assert (touched.files_read, touched.files_unchanged) == (0, 2)

    # Changed content: re-read; removed file: its rows go.
    path.write_text(envelope("homebrew:vim", ["python@3.14", "gettext"]) + "not json\n")
    (registry.failures_dir / "homebrew-2.jsonl").unlink()
    records, problems, changed = load_failure_records(registry, index_path=db)
    assert (changed.files_read, changed.files_removed, changed.records) == (1, 1, 1)
    assert records[0].blocked_by == ("python@3.14", "gettext")
    assert problems[0][:2] == ("data/failures/homebrew-1.jsonl", "line 2")


def test_index_matches_the_files(registry: RegistryLayout, tmp_path: Path) -> None:
    records, _, _ = load_failure_records(registry, index_path=tmp_path / "i.sqlite")
    expected = [dataclasses.replace(r, message="") for r in iter_failures(registry)]
    assert records == expected


def test_corrupt_database_is_rebuilt(registry: RegistryLayout, tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    _, _, stats = load_failure_records(registry, index_path=db)
    assert stats.records == 3


def test_read_only_root_gets_an_in_memory_index(
    registry: RegistryLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTOMATION_CACHE_DIR", raising=False)
    root = registry.root
    mode = root.stat().st_mode
    root.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        assert default_index_path(registry) is None
        with open_index(registry) as (_, stats):
            assert stats.location == ":memory:" and stats.records == 3
        assert not (root / ".cache").exists()
    finally:
        root.chmod(mode)
    assert default_index_path(registry) == root / ".cache" / "automation" / "failures.sqlite"


def test_cache_dir_override(registry: RegistryLayout, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AUTOMATION_CACHE_DIR", str(tmp_path / "elsewhere"))
    path = default_index_path(registry)
    assert path is not None and path.is_relative_to(tmp_path / "elsewhere")


def test_reference_data_indexes_every_record(reference_dir: Path, tmp_path: Path) -> None:
    layout = RegistryLayout.at(reference_dir)
    assert default_index_path(layout) is None  # the snapshot is read-only: never written
    db = tmp_path / "ref.sqlite"
    records, problems, cold = load_failure_records(layout, index_path=db)
    assert cold.files == cold.files_read == 5785
    assert problems == []
    assert len(records) == sum(1 for _ in iter_failures(layout))
    _, _, warm = load_failure_records(layout, index_path=db)
    assert warm.files_read == 0 and warm.files_unchanged == 5785
