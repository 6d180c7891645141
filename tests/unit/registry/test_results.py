"""Results files: later lines supersede, writers refuse invalid lines, totals must add up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from automation.core.errors import DataError, UnsafeNameError
from automation.core.layout import RegistryLayout
from automation.registry.results import (
    ResultLine,
    append_results,
    latest_results,
    parse_batch_summary,
    read_batch_summary,
    read_results_file,
)
from tests.support.data_samples import (
    BATCH_RESULTS,
    RESULT_FAIL,
    changed,
)


def _line(**changes: Any) -> ResultLine:
    doc = changed(RESULT_FAIL, **changes)
    return ResultLine(**doc)


def test_results_append_and_later_lines_supersede(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    path = append_results(layout, "2026-02-21-001", "alpine-321", [_line(), _line(recipe="apr")])
    append_results(
        layout,
        "2026-02-21-001",
        "alpine-321",
        [_line(status="pass", category=None, subcategory=None, exit_code=0, attempts=2)],
    )
    assert path == tmp_path / "data/results/2026-02-21-001/alpine-321.jsonl"
    scan = read_results_file(path, rel="r.jsonl")
    assert scan.problems == [] and scan.line_count == 3 and scan.superseded == 1
    latest = scan.latest()
    assert latest[("apr-util", "alpine-321")].status == "pass"
    assert latest[("apr", "alpine-321")].status == "fail"
    assert latest_results(scan.lines) == latest


def test_results_writer_refuses_invalid_lines(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    with pytest.raises(DataError):
        append_results(layout, "b1", "debian-13", [_line()])  # environment mismatch
    with pytest.raises(DataError):
        append_results(layout, "b1", "alpine-321", [_line(status="pass")])  # pass with category
    with pytest.raises(UnsafeNameError):
        append_results(layout, "../b1", "alpine-321", [_line()])
    assert not (tmp_path / "data/results").exists()


def test_results_writer_caps_long_messages(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    path = append_results(layout, "b1", "alpine-321", [_line(message="x" * 100_000 + "END")])
    (line,) = read_results_file(path).lines
    assert len(line.message) <= 16384 and line.message.endswith("END")


def test_results_reader_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "data/results/b1/alpine-321.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        json.dumps(RESULT_FAIL),
        "not json",
        json.dumps(changed(RESULT_FAIL, status="maybe")),
        json.dumps(changed(RESULT_FAIL, environment="debian-13")),
        json.dumps(changed(RESULT_FAIL, batch_id="b2")),
    ]
    path.write_text("\n".join(lines) + "\n")
    scan = read_results_file(path, rel="r")
    assert len(scan.lines) == 1
    assert sorted({p.where.split()[1] for p in scan.problems}) == ["2", "3", "4", "5"]


def test_reference_batch_results(reference_dir: Path) -> None:
    scan = read_batch_summary(reference_dir / "data/queues/batch-results.json")
    assert scan.problems == [] and scan.summary is not None
    assert scan.summary.to_json() == BATCH_RESULTS


def test_batch_results_totals_must_add_up() -> None:
    scan = parse_batch_summary(changed(BATCH_RESULTS, blocked=4), "b")
    assert [(p.where, p.severity) for p in scan.problems] == [("total", "warning")]
