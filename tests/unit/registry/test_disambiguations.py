"""Disambiguation audits and decisions: byte-exact round trips, encoded names, line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from automation.core.layout import SCHEMAS_DIR, RegistryLayout
from automation.registry.disambiguations import (
    SELECTION_REASONS,
    AuditRecord,
    ProbeResult,
    audit_filename,
    read_audit_file,
    read_decision_file,
    tool_from_filename,
    write_audit,
)
from tests.support.data_samples import (
    AUDIT,
    CURATED_LINE,
)


def test_reference_audits_round_trip_byte_for_byte(reference_dir: Path, tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    sources = sorted((reference_dir / "data/disambiguations/audit").glob("*.json"))
    assert len(sources) == 4059
    for source in sources[::37]:  # a spread of files: both shapes, null and list alternatives
        scan = read_audit_file(source)
        assert scan.problems == [] and scan.record is not None
        written = write_audit(layout, scan.record)
        assert not written.encoded
        assert written.path.read_bytes() == source.read_bytes(), source.name


@pytest.mark.parametrize(
    "tool", ["homebrew/core/foo", "../../etc/passwd", ".hidden", "Foo", "a%2Fb", "a/" * 90, "ü"]
)
def test_audit_names_are_encoded_never_nested(tmp_path: Path, tool: str) -> None:
    layout = RegistryLayout.at(tmp_path)
    record = _audit(tool)
    written = write_audit(layout, record)
    assert written.encoded and written.note is not None and written.note.severity == "normalised"
    assert written.path.parent == tmp_path / "data/disambiguations/audit"
    assert len(written.path.name.encode()) <= 255
    assert os.listdir(written.path.parent) == [written.path.name]
    if len(tool) < 50:
        assert tool_from_filename(written.path.name) == tool
    again = read_audit_file(written.path)
    assert again.problems == [] and again.record == record


def _audit(tool: str) -> AuditRecord:
    return AuditRecord(
        tool=tool,
        selected="homebrew:x",
        alternatives=None,
        selection_reason="single_match",
        high_risk=False,
        probe_results=(ProbeResult("homebrew:x", 1, 0, True),),
        previous_source=None,
        disambiguated_at="2026-02-17T00:10:15.15992877Z",
        seeding_run="2026-02-17T00:10:01.867521792Z",
    )


def test_plain_audit_names_are_the_reference_names() -> None:
    assert audit_filename("python@3.12") == ("python@3.12.json", False)
    assert audit_filename("aarch64-elf-binutils") == ("aarch64-elf-binutils.json", False)


def test_audit_in_the_wrong_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(AUDIT))
    scan = read_audit_file(path, rel="audit/other.json")
    assert scan.record is not None
    assert [(p.where, p.severity) for p in scan.problems] == [("tool", "warning")]


def test_reference_curated_envelope(reference_dir: Path) -> None:
    scan = read_decision_file(reference_dir / "data/disambiguations/curated.jsonl")
    assert scan.problems == [] and scan.lines == 1 and scan.decisions == 20
    assert {d.selection_reason for d in scan.batches[0].decisions} == {"curated"}


def test_decision_file_reports_bad_line_by_number(tmp_path: Path) -> None:
    path = tmp_path / "curated.jsonl"
    path.write_text(json.dumps(CURATED_LINE) + "\n{oops\n" + json.dumps(CURATED_LINE) + "\n")
    scan = read_decision_file(path, rel="curated.jsonl")
    assert len(scan.batches) == 2
    assert [p.where.split(" column")[0] for p in scan.problems] == ["line 2"]


def schema_enum() -> set[str]:
    schema = json.loads((SCHEMAS_DIR / "disambiguation-audit.schema.json").read_text())
    return set(schema["$defs"]["selection_reason"]["enum"])


def test_selection_reasons_and_the_schema_agree() -> None:
    assert len(SELECTION_REASONS) == len(set(SELECTION_REASONS))
    assert set(SELECTION_REASONS) == schema_enum()
    # the reference's four stay (its audit files use them)
    assert {"single_match", "10x_popularity_gap", "priority_fallback", "curated"} <= set(
        SELECTION_REASONS
    )
