"""Metrics records: the concatenated stream decodes, errors name line and column, writes read
back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.registry.metrics import (
    GenerationCounts,
    MetricsRecord,
    PlatformCounts,
    parse_metrics_text,
    read_metrics_file,
    read_seeding_runs,
    write_metrics_record,
)
from tests.support.data_samples import (
    LEGACY_METRICS_RECORD,
    METRICS_RECORD,
)


def test_metrics_stream_decodes_concatenated_pretty_records() -> None:
    text = json.dumps(LEGACY_METRICS_RECORD, indent=2) + "\n" + json.dumps(METRICS_RECORD, indent=2)
    scan = parse_metrics_text(text, "data/metrics/batch-runs.jsonl")
    assert [r.batch_id for r in scan.records] == ["2026-02-03-homebrew", "2026-06-26"]
    assert scan.legacy == 1
    assert scan.records[0].legacy and scan.records[0].ecosystems == (("homebrew", None),)
    (note,) = scan.problems
    assert note.severity == "normalised" and note.where.startswith("line 1")


def test_metrics_stream_reports_line_and_column_and_recovers() -> None:
    good = json.dumps(METRICS_RECORD, indent=2)
    text = good + "\n" + good.replace('"total": 0,', '"total": 0') + "\n" + good + "\n"
    scan = parse_metrics_text(text, "m.jsonl")
    assert len(scan.records) == 2
    (problem,) = scan.problems
    assert problem.severity == "error"
    assert problem.where.startswith("line ") and " column " in problem.where
    line = int(problem.where.split()[1])
    assert good.count("\n") + 1 < line <= 2 * (good.count("\n") + 1)


def test_reference_legacy_metrics_file(reference_dir: Path) -> None:
    scan = read_metrics_file(
        reference_dir / "data/metrics/batch-runs.jsonl", rel="batch-runs.jsonl"
    )
    assert not [p for p in scan.problems if p.severity == "error"]
    assert len(scan.records) > 1 and scan.values == len(scan.records)
    assert scan.legacy == sum(1 for p in scan.problems if p.severity == "normalised")


def test_reference_seeding_run(reference_dir: Path) -> None:
    scan = read_seeding_runs(reference_dir / "data/metrics/seeding-runs.jsonl")
    assert scan.problems == []
    (run,) = scan.runs
    assert run.stale_refreshed == 4998
    assert len(run.source_changes) == 1030 and run.auto_accepted == 261


def _record(**changes: Any) -> MetricsRecord:
    values: dict[str, Any] = {
        "batch_id": "2026-07-01-001",
        "ecosystems": (("pypi", 3),),
        "total": 2,
        "generated": 2,
        "platforms": (PlatformCounts("debian-13", 2, 1, 1),),
        "merged": 1,
        "excluded": 1,
        "constrained": 1,
        "timestamp": "2026-07-01T10:00:00Z",
        "duration_seconds": 42,
        "generation": GenerationCounts(3, 2, 1, 0),
    }
    values.update(changes)
    return MetricsRecord(**values)


def test_write_metrics_record_is_compact_and_reads_back(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    path = write_metrics_record(layout, _record())
    assert path.name == "batch-runs-2026-07-01T10-00-00Z.jsonl"
    write_metrics_record(layout, _record(batch_id="2026-07-01-002"))
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith('{"batch_id":') for line in lines)
    scan = read_metrics_file(path)
    assert scan.problems == [] and scan.records[0] == _record()


@pytest.mark.parametrize(
    "bad",
    [
        {"total": -1},
        {"timestamp": "yesterday"},
        {"duration_seconds": float("nan")},
        {"legacy": True},
    ],
)
def test_write_metrics_record_refuses_invalid(tmp_path: Path, bad: dict[str, Any]) -> None:
    layout = RegistryLayout.at(tmp_path)
    with pytest.raises(DataError):
        write_metrics_record(layout, _record(**bad), path=tmp_path / "m.jsonl")
    assert not (tmp_path / "m.jsonl").exists()
