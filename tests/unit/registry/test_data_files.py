"""Schemas, readers and writers of the data files: real snippets pass, broken ones are named."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from automation.core import schemas
from automation.core.errors import DataError, UnsafeNameError
from automation.core.layout import REPOSITORY_ROOT, RegistryLayout
from automation.registry.depmapping import read_dep_mapping_file
from automation.registry.disambiguations import (
    AuditRecord,
    ProbeResult,
    audit_filename,
    read_audit_file,
    read_decision_file,
    tool_from_filename,
    write_audit,
)
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
from automation.registry.metrics import (
    GenerationCounts,
    MetricsRecord,
    PlatformCounts,
    parse_metrics_text,
    read_metrics_file,
    read_seeding_runs,
    write_metrics_record,
)
from automation.registry.queue import QueueEntry
from automation.registry.results import (
    ResultLine,
    append_results,
    latest_results,
    parse_batch_summary,
    read_batch_summary,
    read_results_file,
)

# --- real snippets (copied from the reference registry) -------------------------------------
from tests.support.data_samples import (
    AUDIT,
    BATCH_RESULTS,
    CURATED_LINE,
    LEGACY_METRICS_RECORD,
    METRICS_RECORD,
    RESULT_FAIL,
    RESULT_PASS,
    SEEDING_RUN,
    SINGLE_MATCH_AUDIT,
)


def changed(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(document))
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# --- schemas: valid and invalid examples ----------------------------------------------------

VALID = [
    ("metrics", METRICS_RECORD),
    ("metrics", LEGACY_METRICS_RECORD),
    ("seeding-run", SEEDING_RUN),
    ("disambiguation-audit", AUDIT),
    ("disambiguation-audit", SINGLE_MATCH_AUDIT),
    ("disambiguation-batch", CURATED_LINE),
    ("batch-results", BATCH_RESULTS),
    ("results-line", RESULT_FAIL),
    ("results-line", RESULT_PASS),
    ("results-line", changed(RESULT_PASS, status="skipped", exit_code=None, attempts=0)),
    ("dep-mapping", {"sqlite3": "sqlite", "$comment": "x"}),
]

INVALID = [
    ("metrics", changed(METRICS_RECORD, total=-1), "total"),
    ("metrics", changed(METRICS_RECORD, total="0"), "total"),
    ("metrics", changed(METRICS_RECORD, ecosystem="homebrew"), "(top level)"),
    ("metrics", changed(METRICS_RECORD, ecosystems=...), "(top level)"),
    ("metrics", changed(METRICS_RECORD, timestamp="2026-06-26T20-51-08Z"), "timestamp"),
    ("metrics", changed(METRICS_RECORD, extra=1), "(top level)"),
    ("metrics", changed(METRICS_RECORD, batch_id="../x"), "batch_id"),
    ("seeding-run", changed(SEEDING_RUN, source_changes=[{"package": "x"}]), "source_changes[0]"),
    ("seeding-run", changed(SEEDING_RUN, errors=None), "errors"),
    ("disambiguation-audit", changed(AUDIT, selection_reason="coin_flip"), "selection_reason"),
    ("disambiguation-audit", changed(AUDIT, alternatives="crates.io:ab-av1"), "alternatives"),
    ("disambiguation-audit", changed(AUDIT, downloads_ratio=0), "downloads_ratio"),
    ("disambiguation-audit", changed(AUDIT, tool=""), "tool"),
    ("disambiguation-audit", changed(AUDIT, selected="ab-av1"), "selected"),
    ("disambiguation-batch", changed(CURATED_LINE, schema_version=2), "schema_version"),
    (
        "disambiguation-batch",
        changed(CURATED_LINE, disambiguations=[{"tool": "x"}]),
        "disambiguations[0]",
    ),
    ("batch-results", changed(BATCH_RESULTS, blocked=None), "blocked"),
    (
        "batch-results",
        changed(BATCH_RESULTS, per_ecosystem={"homebrew": {"total": 1}}),
        "per_ecosystem.homebrew",
    ),
    ("results-line", changed(RESULT_PASS, category="install_failed"), "category"),
    ("results-line", changed(RESULT_FAIL, category=None), "category"),
    ("results-line", changed(RESULT_FAIL, platform="linux-glibc-x86_64"), "platform"),
    ("results-line", changed(RESULT_FAIL, status="passed"), "status"),
    ("results-line", changed(RESULT_FAIL, recipe="../../etc/passwd"), "recipe"),
    ("results-line", changed(RESULT_FAIL, attempts=...), "(top level)"),
    ("dep-mapping", {"openssl@3": 3}, "openssl@3"),
    ("dep-mapping", {"Foo Bar": "x"}, "(top level)"),
    ("dep-mapping", {"x": "../evil"}, "x"),
]


@pytest.mark.parametrize(("schema", "document"), VALID)
def test_real_snippets_are_valid(schema: str, document: dict[str, Any]) -> None:
    assert schemas.check(document, schema, path="t") == []


@pytest.mark.parametrize(("schema", "document", "where"), INVALID)
def test_invalid_snippets_name_the_field(schema: str, document: dict[str, Any], where: str) -> None:
    problems = schemas.check(document, schema, path="t")
    assert problems, f"{schema} accepted {document}"
    assert any(p.where == where for p in problems), [p.where for p in problems]


# --- metrics --------------------------------------------------------------------------------


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


# --- disambiguations ------------------------------------------------------------------------


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


# --- results --------------------------------------------------------------------------------


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


# --- manifests ------------------------------------------------------------------------------

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


# --- dep mapping ----------------------------------------------------------------------------


def test_dep_mapping_is_backed_by_reference_satisfies(reference_dir: Path) -> None:
    scan = read_dep_mapping_file(REPOSITORY_ROOT / "data/dep-mapping.json")
    assert scan.problems == [] and scan.mapping
    for formula, recipe in scan.mapping.items():
        path = reference_dir / "recipes" / recipe[0] / f"{recipe}.toml"
        metadata = tomllib.loads(path.read_text())["metadata"]
        assert formula in metadata["satisfies"]["homebrew"], (formula, recipe)


def test_dep_mapping_problems_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "dep-mapping.json"
    path.write_text(json.dumps({"a": "a", "b": "c", "c": "d"}))
    scan = read_dep_mapping_file(path, rel="dep-mapping.json")
    assert sorted((p.where, p.severity) for p in scan.problems) == [
        ("a", "warning"),
        ("b", "warning"),
    ]
    assert read_dep_mapping_file(tmp_path / "absent.json").mapping == {}
