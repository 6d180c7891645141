"""check-data on the reference registry: exact counts, every file accounted for, problems named."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from invoke import Context
from invoke.exceptions import Exit

from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.ops.checkdata import TEXT_CAP, CheckDataReport, check_data


@settings(max_examples=25, deadline=None)
@given(control=st.binary(max_size=200), queue=st.binary(max_size=200))
def test_check_data_never_raises(control: bytes, queue: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "data/queues").mkdir(parents=True)
        (root / "batch-control.json").write_bytes(control)
        (root / "data/queues/priority-queue.json").write_bytes(queue)
        report = check_data(RegistryLayout.at(root))
        assert report.files_seen == report.files_accounted == 2


@pytest.fixture(scope="session")
def reference_copy(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the reference registry (about 60 MB)."""
    target = tmp_path_factory.mktemp("reference") / "tsuku"
    shutil.copytree(reference_dir, target)
    return target


@pytest.fixture(scope="session")
def reference_report(reference_copy: Path) -> CheckDataReport:
    return check_data(RegistryLayout.at(reference_copy))


def counts(report: CheckDataReport, kind: str) -> dict[str, int]:
    summary = report.kinds[kind]
    return {"files": summary.files, **summary.counts}


def by_kind(report: CheckDataReport, kind: str, severity: str) -> list[str]:
    return [p.message for k, p in report.problems if k == kind and p.severity == severity]


@pytest.mark.slow
def test_reference_counts(reference_report: CheckDataReport) -> None:
    r = reference_report
    assert counts(r, "queue")["entries"] == 5305
    assert counts(r, "legacy_queue") == {"files": 1, "packages": 5144}
    failures = counts(r, "failures")
    assert failures["files"] == 5785
    assert failures["lines"] == 6020
    assert failures["records"] == 6631
    assert failures["envelope_records"] == 6355
    assert failures["platform_records"] == 261
    assert failures["platform_records_in_ecosystem_files"] == 15
    metrics = counts(r, "metrics")
    assert (metrics["files"], metrics["records"], metrics["legacy_records"]) == (1671, 1710, 255)
    assert metrics["empty_runs"] == 1631 and metrics["merged"] == 212
    assert counts(r, "seeding_runs")["runs"] == 1
    assert counts(r, "audits")["files"] == counts(r, "audits")["records"] == 4059
    assert counts(r, "decisions")["decisions"] == 20
    assert counts(r, "recipes")["files"] == 1337
    assert counts(r, "discovery")["entries"] == 825
    assert counts(r, "discovery_seeds")["entries"] == 176
    assert counts(r, "control")["files"] == 1
    assert counts(r, "batch_summary")["runs"] == 1


@pytest.mark.slow
def test_reference_details_match_the_functional_reference(
    reference_report: CheckDataReport,
) -> None:
    failures = reference_report.kinds["failures"]
    # the dashboard's canonical totals (reference §4.1)
    assert dict(failures.details["category"]) == {
        "install_failed": 5125,
        "generation_failed": 1356,
        "recipe_not_found": 74,
        "missing_dep": 68,
        "network_error": 8,
    }
    assert dict(failures.details["legacy_category"]) == {
        "deterministic": 143,
        "validation_failed": 99,
        "deterministic_insufficient": 80,
        "timeout": 7,
    }
    queue = reference_report.kinds["queue"]
    assert dict(queue.details["status"]) == {
        "pending": 3903,
        "success": 1374,
        "blocked": 22,
        "excluded": 6,
    }
    audits = reference_report.kinds["audits"]
    assert dict(audits.details["selection_reason"]) == {
        "priority_fallback": 2009,
        "single_match": 1800,
        "10x_popularity_gap": 250,
    }


@pytest.mark.slow
def test_reference_every_file_is_accounted_for(
    reference_report: CheckDataReport, reference_copy: Path
) -> None:
    r = reference_report
    assert r.unrecognised == []
    assert "unrecognised" not in r.kinds
    expected = sum(1 for p in (reference_copy / "data").rglob("*") if p.is_file())
    expected += sum(1 for p in (reference_copy / "recipes").rglob("*") if p.is_file())
    expected += sum(1 for p in reference_copy.glob("*.json"))
    assert r.files_seen == r.files_accounted == expected
    skipped = {path for path, _ in r.skipped}
    assert skipped == {
        "data/README.md",
        "data/examples/failure-record.json",
        "data/examples/priority-queue.json",
        "data/metrics/.gitkeep",
        "data/schemas/failure-record.schema.json",
        "data/schemas/priority-queue.schema.json",
        "recipes/README.md",
    }
    assert all(
        "not a data file of the live pipeline" in reason
        for path, reason in r.skipped
        if path.startswith(("data/examples", "data/schemas"))
    )


@pytest.mark.slow
def test_reference_semantic_findings(reference_report: CheckDataReport) -> None:
    r = reference_report
    queue_warnings = by_kind(r, "queue", "warning")
    assert sum("backoff overflow" in m for m in queue_warnings) == 2
    assert sum("tap-qualified" in m for m in queue_warnings) == 915
    assert r.kinds["queue"].counts["tap_pending"] == 915
    # The reference queue marks every entry with a recipe success: none pending.
    assert r.kinds["queue"].counts["pending_with_recipe"] == 0
    failures = r.kinds["failures"].counts
    assert failures["hyphenated_updated_at"] == 5744
    assert (
        failures["banner_only_messages"] == 983
    )  # 989 contain the banner; 6 show an error after it
    assert len(by_kind(r, "failures", "warning")) == 983
    assert len(by_kind(r, "failures", "normalised")) == 5744 + 329
    assert len(by_kind(r, "metrics", "normalised")) == 255
    # the structural errors the reference holds (the recipe checker's verdict)
    assert {p.path for k, p in r.problems if p.severity == "error"} <= {"recipes/m/mlx-c.toml"}
    assert r.exit_code == (ExitCode.DATA_ERROR if r.count("error") else ExitCode.OK)


@pytest.mark.slow
def test_reference_run_is_fast_enough(reference_report: CheckDataReport) -> None:
    assert reference_report.elapsed_seconds < 20


@pytest.mark.slow
def test_reference_renders(reference_report: CheckDataReport) -> None:
    document = reference_report.to_json()
    json.dumps(document)
    assert len(document["problems"]) == len(reference_report.problems)
    text = reference_report.to_text()
    # grouped by message shape: the 2 backoff overflows are not buried under 915 tap names
    assert "[warning ×2]" in text and "[warning ×915]" in text
    assert f"… {915 - TEXT_CAP} more" in text
    assert "[warning ×983]" in text and "[normalised ×5744]" in text
    assert text.count("\n") < 400


def test_empty_folder(tmp_path: Path) -> None:
    report = check_data(RegistryLayout.at(tmp_path))
    assert report.exit_code == ExitCode.OK
    assert report.files_seen == report.files_accounted == 0
    assert report.problems == [] and report.kinds == {}
    assert report.to_json()["totals"] == {"error": 0, "warning": 0, "normalised": 0}


def test_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        check_data(RegistryLayout.at(tmp_path / "absent"))


def test_damage_is_found_and_named(tmp_path: Path, reference_dir: Path) -> None:
    root = tmp_path / "r"
    (root / "data/metrics").mkdir(parents=True)
    (root / "data/queues").mkdir(parents=True)
    (root / "data/failures").mkdir(parents=True)
    (root / "data/surprise").mkdir(parents=True)
    (root / "recipes/b").mkdir(parents=True)
    shutil.copy(reference_dir / "data/queues/batch-results.json", root / "data/queues/")
    good = (reference_dir / "data/metrics/batch-runs-2026-02-07T02-27-34Z.jsonl").read_text()
    (root / "data/metrics/batch-runs-2026-07-01T00-00-00Z.jsonl").write_text(good + good[:-30])
    (root / "data/failures/pypi-2026-07-01T00-00-00Z.jsonl").write_text('{"schema_version":1}\n')
    (root / "data/surprise/what.txt").write_text("?")
    (root / "recipes/b/bad.toml").write_text("[metadata\n")
    (root / "data/queues/priority-queue.json").write_bytes(b"\xff")
    report = check_data(RegistryLayout.at(root))
    assert report.exit_code == ExitCode.DATA_ERROR
    assert report.unrecognised == ["data/surprise/what.txt"]
    errors = {
        (k, p.path, p.where.split(" column")[0])
        for k, p in report.problems
        if p.severity == "error"
    }
    metrics_errors = [w for k, path, w in errors if k == "metrics"]
    assert metrics_errors and all(w.startswith("line ") for w in metrics_errors)
    assert report.kinds["metrics"].counts["records"] == 1  # the intact record before the damage
    assert any(k == "failures" and w.startswith("line 1") for k, _, w in errors)
    assert any(k == "recipes" and path == "recipes/b/bad.toml" for k, path, _ in errors)
    assert any(k == "queue" for k, _, _ in errors)
    assert report.files_seen == report.files_accounted


def test_invoke_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tasks

    tasks.check_data(Context(), root=str(tmp_path), json=True)
    document = json.loads(capsys.readouterr().out)
    assert document["exit_code"] == 0 and document["files_seen"] == 0
    (tmp_path / "batch-control.json").write_text("{")
    with pytest.raises(Exit) as raised:
        tasks.check_data(Context(), root=str(tmp_path), json=False)
    assert raised.value.code == ExitCode.DATA_ERROR
    assert "batch-control.json" in capsys.readouterr().out


def test_pending_entries_whose_recipe_exists_are_counted_and_named(tmp_path: Path) -> None:
    from automation.registry.queue import QueueEntry, load_queue, save_queue

    layout = RegistryLayout.at(tmp_path)
    statuses = {"ant": "pending", "bee": "pending", "cat": "success", "dog": "pending"}
    queued = [QueueEntry(n, f"pypi:{n}", 3, s, "auto", None, 0, None) for n, s in statuses.items()]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(queued))
    for name in ("ant", "cat", "dog"):
        path = layout.recipe_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'[metadata]\nname = "{name}"\n\n[[steps]]\naction = "pipx_install"\n'
            f'package = "{name}"\n\n[verify]\ncommand = "{name} --version"\n'
        )
    report = check_data(layout)
    assert report.kinds["queue"].counts["pending_with_recipe"] == 2
    warnings = [p for k, p in report.problems if k == "queue" and p.severity == "warning"]
    assert [(p.where, p.message.split(":")[0]) for p in warnings] == [
        ("entries[0].name", "'ant'"),
        ("entries[3].name", "'dog'"),
    ]
    assert "'recipes/a/ant.toml' exists" in warnings[0].message
    assert "generate --force <name>" in warnings[0].message
    assert report.exit_code == ExitCode.OK  # a warning, not an error
    text = report.to_text()
    assert "pending_with_recipe 2" in text and "[warning ×2]" in text
    assert "'ant'" in text and "'dog'" in text


STAGED_RECIPE = (
    '[metadata]\nname = "goodtool"\ndescription = "d"\nhomepage = "https://example.org"\n\n'
    '[[steps]]\naction = "pipx_install"\npackage = "goodtool"\nexecutables = ["goodtool"]\n\n'
    '[verify]\ncommand = "goodtool --version"\npattern = "{version}"\n'
)


def _staged(tmp_path: Path) -> RegistryLayout:
    """A merged batch's staging folder, written by the stage's own writer."""
    from automation.registry.staging import GenerationOutcome, Staging

    layout = RegistryLayout.at(tmp_path)
    staging = Staging(layout, "2026-12-05-080000-pypi")
    staging.save_selection("pypi", ["goodtool"], "2026-12-05T08:00:00Z")
    staging.record(GenerationOutcome("goodtool", "pypi:goodtool", "generated"), STAGED_RECIPE)
    (tmp_path / "data" / "pypi-top-packages-30-days.min.json").write_text('{"rows": []}')
    return layout


def test_staging_folders_and_shipped_lists_are_claimed_and_read(tmp_path: Path) -> None:
    report = check_data(_staged(tmp_path))
    assert report.unrecognised == []
    assert report.count("error") == 0 and report.count("warning") == 0
    assert report.kind("staging").files == 3
    assert report.kind("staging").counts["outcomes"] == 1
    assert report.kind("shipped_lists").files == 1


def test_a_broken_staging_file_is_an_error_naming_it(tmp_path: Path) -> None:
    layout = _staged(tmp_path)
    batch = tmp_path / "data" / "staging" / "2026-12-05-080000-pypi"
    with (batch / "generation.jsonl").open("a") as log:
        log.write("{not json\n")
    (batch / "recipes" / "goodtool.toml").write_text('[metadata]\nname = "goodtool"\n')
    problems = [p for _, p in check_data(layout).problems if p.severity == "error"]
    paths = {p.path for p in problems}
    assert "data/staging/2026-12-05-080000-pypi/generation.jsonl" in paths
    assert "data/staging/2026-12-05-080000-pypi/recipes/goodtool.toml" in paths
    assert any(p.where.startswith("line 2") for p in problems), problems


def test_an_abandoned_batch_is_read_and_its_problems_block_nothing(tmp_path: Path) -> None:
    """`invoke abandon` moves the folder to data/staging/.abandoned/<batch>/: check-data still
    claims and reads it, and what is broken in it is a warning (no stage reads it again)."""
    from automation.registry.reservation import abandon_batch

    layout = _staged(tmp_path)
    abandon_batch(layout, "2026-12-05-080000-pypi")
    moved = tmp_path / "data" / "staging" / ".abandoned" / "2026-12-05-080000-pypi"
    assert (moved / "generation.jsonl").is_file()

    report = check_data(layout)
    assert report.unrecognised == []
    assert report.count("error") == 0 and report.count("warning") == 0
    assert report.kind("staging").counts["abandoned"] == 1
    assert report.kind("staging").counts["outcomes"] == 1

    (moved / "generation.jsonl").write_bytes(b"\x9e\xff")
    report = check_data(layout)
    assert report.exit_code == ExitCode.OK
    warnings = [p for _, p in report.problems if p.severity == "warning"]
    assert [p.path for p in warnings] == [
        "data/staging/.abandoned/2026-12-05-080000-pypi/generation.jsonl"
    ]
    assert warnings[0].message.startswith("abandoned batch: ")


def test_a_stray_folder_under_abandoned_is_named_not_a_crash(tmp_path: Path) -> None:
    layout = _staged(tmp_path)
    stray = tmp_path / "data" / "staging" / ".abandoned" / "Not A Batch"
    stray.mkdir(parents=True)
    (stray / "generation.jsonl").write_text("")
    problems = [p for _, p in check_data(layout).problems]
    assert any(
        p.path == "data/staging/.abandoned/Not A Batch" and "not a batch folder" in p.message
        for p in problems
    ), problems
