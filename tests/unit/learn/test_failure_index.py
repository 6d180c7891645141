"""The SQLite failure index: incremental, a cache of the files, never in read-only roots."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from automation.learn.failure_index import default_index_path, load_failure_records, open_index
from automation.registry.failures import iter_failures


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


def test_reference_data_indexes_every_record(
    reference_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = RegistryLayout.at(reference_dir)
    monkeypatch.delenv("AUTOMATION_CACHE_DIR", raising=False)
    # The kit's own default: no cache inside a read-only root (the reference data is read-only
    # unless someone made ../shared writable; either way the session keeps it unchanged).
    read_only = not reference_dir.stat().st_mode & 0o222
    assert (default_index_path(layout) is None) == read_only
    db = tmp_path / "ref.sqlite"
    records, problems, cold = load_failure_records(layout, index_path=db)
    assert cold.files == cold.files_read == 5785
    assert problems == []
    assert len(records) == sum(1 for _ in iter_failures(layout))
    _, _, warm = load_failure_records(layout, index_path=db)
    assert warm.files_read == 0 and warm.files_unchanged == 5785


def _both_ways(layout: RegistryLayout, db: Path, **filters: str) -> tuple[object, object]:
    from automation.learn.blockers import current_blockers
    from automation.learn.failure_index import indexed_current_blockers
    from automation.registry.queue import load_queue

    queue = load_queue(layout.queue)
    with open_index(layout, path=db) as (conn, _):
        indexed = indexed_current_blockers(conn, queue, **filters)
    return indexed, current_blockers(iter_failures(layout), queue, **filters)


@pytest.mark.parametrize(
    "filters",
    [{}, {"ecosystem": "homebrew"}, {"environment": "linux-alpine-musl-x86_64"},
     {"ecosystem": "github", "environment": "linux-glibc-x86_64"}],
)  # fmt: skip
def test_current_blockers_indexed_equal_the_record_by_record_rule(
    reference_dir: Path, tmp_path: Path, filters: dict[str, str]
) -> None:
    """On the reference registry: same entries, dependencies, evidence and counts."""
    indexed, by_records = _both_ways(RegistryLayout.at(reference_dir), tmp_path / "i", **filters)
    assert indexed == by_records
    assert indexed.records > 0  # type: ignore[attr-defined]


def test_current_blockers_indexed_on_synthetic_history(tmp_path: Path) -> None:
    """Mixed shapes, timestamp forms, ties within one envelope line, stale and unknown records."""
    from bench import synth

    root = tmp_path / "reg"
    synth.write_queue(root / "data" / "queues" / "priority-queue.json", 400)
    synth.write_failures(root / "data" / "failures", 6000, 400)
    extra = root / "data" / "failures" / "homebrew-zz.jsonl"
    stamp = "2026-03-03T03:14:02.577320177Z"
    extra.write_text(
        envelope("homebrew:a0-tool", ["late-dep"]).replace(stamp, "2026-09-01T00:00:00Z")
        + envelope("homebrew:a0-tool", ["same-time"]).replace(stamp, "2026-09-01T02:00:00+02:00")
        + envelope("homebrew:ghost", ["x"])
        + "{broken\n"
    )  # fmt: skip
    layout = RegistryLayout.at(root)
    for filters in ({}, {"ecosystem": "pypi"}, {"environment": "darwin-arm64"}):
        indexed, by_records = _both_ways(layout, tmp_path / "i", **filters)
        assert indexed == by_records
    assert indexed.by_entry  # type: ignore[attr-defined]


def test_parallel_build_equals_the_in_process_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many changed files are read in worker processes; the index is the same."""
    from automation.learn import failure_index
    from bench import synth

    root = tmp_path / "reg"
    synth.write_queue(root / "data" / "queues" / "priority-queue.json", 300)
    synth.write_failures(root / "data" / "failures", 20000, 300)
    layout = RegistryLayout.at(root)
    serial, _, _ = load_failure_records(layout, index_path=tmp_path / "serial.sqlite")
    monkeypatch.setattr(failure_index, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(failure_index, "PARALLEL_MIN_BYTES", 1)
    forked: list[str] = []
    real_get_context = failure_index.multiprocessing.get_context

    def get_context(method: str):  # type: ignore[no-untyped-def]
        forked.append(method)
        return real_get_context(method)

    monkeypatch.setattr(failure_index.multiprocessing, "get_context", get_context)
    parallel, _, stats = load_failure_records(layout, index_path=tmp_path / "parallel.sqlite")
    assert forked == ["fork"] and stats.files_read > 2
    assert parallel == serial and len(parallel) == 20000


def test_changes_after_a_parallel_build_apply_incrementally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation.learn import failure_index
    from bench import synth

    root = tmp_path / "reg"
    synth.write_queue(root / "data" / "queues" / "priority-queue.json", 300)
    synth.write_failures(root / "data" / "failures", 20000, 300)
    layout = RegistryLayout.at(root)
    monkeypatch.setattr(failure_index, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(failure_index, "PARALLEL_MIN_BYTES", 1)
    db = tmp_path / "i.sqlite"
    load_failure_records(layout, index_path=db)
    files = sorted(layout.failures_dir.glob("*.jsonl"))
    files[0].unlink()
    files[1].write_text(files[1].read_text() + envelope("homebrew:late", ["libz"]))
    records, _, stats = load_failure_records(layout, index_path=db)
    assert (stats.files_read, stats.files_removed) == (1, 1)
    fresh, _, _ = load_failure_records(layout, index_path=tmp_path / "fresh.sqlite")
    assert records == fresh
    assert any(r.name == "late" and r.blocked_by == ("libz",) for r in records)
