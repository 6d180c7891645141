"""Merge as plan-then-apply: planning writes nothing, every bad input stops the merge before its
first write, and a batch in any state has a way out (merge again, rollback, abandon)."""

from __future__ import annotations

import json
import shutil
import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.errors import DataError, UsageError
from automation.core.layout import RegistryLayout
from automation.registry import manifest as mf
from automation.registry.failures import FailureRecord, scan_failure_text
from automation.registry.queue import load_queue
from automation.registry.reservation import abandon_batch
from automation.registry.results import ResultLine, append_results, current_results
from automation.registry.staging import Staging
from automation.stages.merge import FileWrite, MergeReport, apply_merge, merge_batch, plan_merge
from automation.stages.pipeline import run_generate
from automation.stages.rollback import rollback_batch
from tests.support import pipeline_fakes as fakes
from tests.support.interrupted_merge import (
    BATCH,
    checkdata_errors,
    merge_killed_mid_apply,
    registry_tree,
)

NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)


def test_planning_writes_nothing_and_apply_writes_exactly_the_plan(
    validated: RegistryLayout,
) -> None:
    before = registry_tree(validated.root)
    plan = plan_merge(validated, BATCH)
    assert registry_tree(validated.root) == before  # bytes and mtimes
    assert plan.manifest is not None and plan.manifest.status == "in_progress"
    written = {w.path for w in plan.writes}
    assert {c.path for c in plan.manifest.files} == written | {"data/queues/priority-queue.json"}
    assert any(p.startswith("recipes/") for p in written)
    assert any(p.startswith("data/failures/") for p in written)
    assert f"data/metrics/batch-runs-{BATCH}.jsonl" in written
    # Each before-image is the file as it is now; each planned digest is what apply writes.
    for change in plan.manifest.files:
        path = validated.root / change.path
        assert change.before_bytes() == (path.read_bytes() if path.exists() else None)
    apply_merge(validated, plan)
    for write in plan.writes:
        assert (validated.root / write.path).read_bytes() == write.data, write.path
    assert mf.load_manifest(validated, BATCH).status == "merged"
    assert checkdata_errors(validated) == []


def test_a_truncated_queue_stops_merge_before_any_write_and_the_repaired_queue_is_kept(
    validated: RegistryLayout,
) -> None:
    good = validated.queue.read_bytes()
    validated.queue.write_bytes(good[: len(good) // 2])
    before = registry_tree(validated.root)
    with pytest.raises(DataError) as stopped:
        merge_batch(validated, BATCH)
    assert int(stopped.value.exit_code) == 3
    assert registry_tree(validated.root) == before  # no manifest, no before-image of the bad bytes
    assert not validated.batch_manifest(BATCH).exists()
    validated.queue.write_bytes(good)  # the operator repairs it
    report = merge_batch(validated, BATCH)
    assert not report.resumed_partial and report.counts["merged"] > 0
    queue = load_queue(validated.queue)  # the good queue, with this batch's transitions
    assert queue.by_name()["alpaca"].status == "success"
    assert len(queue.entries) == len(fakes.NAMES) + len(fakes.IMPOSSIBLE)
    manifest = mf.load_manifest(validated, BATCH)
    assert manifest.file("data/queues/priority-queue.json").before_bytes() == good  # type: ignore[union-attr]
    assert checkdata_errors(validated) == []


def test_a_stale_before_image_of_an_interrupted_merge_is_never_written_back(
    validated: RegistryLayout,
) -> None:
    """What the old merge left: an in_progress manifest holding the truncated queue as its
    before-image. The queue was repaired since: the next merge keeps the repaired queue."""
    good = validated.queue.read_bytes()
    truncated = good[: len(good) // 2]
    queue_image = mf.FileChange(
        "data/queues/priority-queue.json",
        "queue",
        mf.FileState.of_bytes(truncated, keep_content=True),
    )
    stale = replace(mf.new_manifest(BATCH, ["pypi"]), files=(queue_image,))
    mf.save_manifest(validated, stale)
    report = merge_batch(validated, BATCH)
    assert report.resumed_partial
    assert report.kept_as_found == ["data/queues/priority-queue.json"]
    assert load_queue(validated.queue).by_name()["alpaca"].status == "success"
    assert mf.load_manifest(validated, BATCH).status == "merged"


def test_a_free_form_batch_id_is_refused_before_anything_is_written(
    validated: RegistryLayout,
) -> None:
    free_form = Staging(validated, "b1").dir
    Staging(validated, BATCH).dir.rename(free_form)  # staged under an id of the old front door
    before = registry_tree(validated.root)
    with pytest.raises(UsageError, match=r"batch id 'b1' does not match") as refused:
        merge_batch(validated, "b1")
    assert int(refused.value.exit_code) == 2
    assert registry_tree(validated.root) == before
    assert abandon_batch(validated, "b1").released  # its way out


def test_an_out_of_range_exit_code_stops_merge_before_any_write(validated: RegistryLayout) -> None:
    (results,) = (validated.root / "data" / "results" / BATCH).glob("*.jsonl")
    lines = results.read_text().splitlines()
    broken = next(i for i, line in enumerate(lines) if '"recipe":"quokka"' in line)
    doc = json.loads(lines[broken])
    lines[broken] = lines[broken].replace(
        f'"exit_code":{doc["exit_code"]}', '"exit_code":1000000000000000000000000000000'
    )
    results.write_text("\n".join(lines) + "\n")
    before = registry_tree(validated.root)
    with pytest.raises(DataError, match="exit_code"):
        merge_batch(validated, BATCH)
    assert registry_tree(validated.root) == before
    assert not validated.batch_manifest(BATCH).exists()


def test_a_rerun_after_a_kill_mid_apply_converges(
    validated: RegistryLayout, tmp_path_factory: pytest.TempPathFactory
) -> None:
    twin = tmp_path_factory.mktemp("twin") / "registry"
    shutil.copytree(validated.root, twin, ignore=shutil.ignore_patterns(".automation.lock"))
    merge_batch(RegistryLayout.at(twin), BATCH)
    merge_killed_mid_apply(validated, at_write=4)
    report = merge_batch(validated, BATCH)
    assert report.resumed_partial and report.kept_as_found == []
    assert fakes.normalised_state(validated.root) == fakes.normalised_state(twin)
    assert checkdata_errors(validated) == []


def test_requeue_decided_in_the_plan_equals_requeue_after_the_writes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """An entry blocked on a recipe this batch lands goes back to pending in the same write,
    exactly as ``requeue_for_merged`` run after the merge decides."""
    from automation.learn.requeue import requeue_for_merged
    from automation.registry.failures import NewFailure, write_failures
    from automation.registry.queue import save_queue

    roots = []
    for name in ("planned", "after"):
        root = tmp_path_factory.mktemp(name) / "registry"
        fakes.make_registry(root)
        layout = RegistryLayout.at(root)
        queue = load_queue(layout.queue)
        needy = fakes.entry("needy").with_changes(status="blocked")
        save_queue(layout.queue, queue.with_entries([*queue.entries, needy]), previous=queue)
        blocked = NewFailure("needy", "pypi:needy", "missing_dep", "missing_dep", "needs alpaca")
        write_failures(layout, "pypi", "linux", [replace(blocked, blocked_by=("alpaca",))], NOW)
        fakes.run_stage(root, BATCH, "generate")
        fakes.run_stage(root, BATCH, "validate")
        roots.append(layout)
    planned, after = roots
    report = merge_batch(planned, BATCH, now=NOW)
    assert report.requeued == ["needy"]
    merged = merge_batch(after, BATCH, now=NOW, requeue=False)
    names = [d.name for d in merged.decisions if d.action == "merged"]
    assert requeue_for_merged(after, names, now=NOW).plan.changes
    assert load_queue(planned.queue).entries == load_queue(after.queue).entries
    assert load_queue(planned.queue).by_name()["needy"].status == "pending"
    # One write covers transitions and requeue: rollback puts the entry back as it was.
    rollback_batch(planned, BATCH)
    assert load_queue(planned.queue).by_name()["needy"].status == "blocked"


# --- recipes the registry already has -----------------------------------------------------------

HAND_WRITTEN = (
    '[metadata]\nname = "{name}"\ndescription = "by hand"\n{extra}\n'
    '[[steps]]\naction = "pipx_install"\npackage = "{name}"\n'
)


def _write_recipe(layout: RegistryLayout, name: str, *, curated: bool = False) -> bytes:
    path = layout.recipe_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HAND_WRITTEN.format(name=name, extra="curated = true\n" if curated else ""))
    return path.read_bytes()


def _decisions(report: MergeReport) -> dict[str, tuple[str, list[str]]]:
    return {d.name: (d.action, d.reasons) for d in report.decisions}


def test_a_recipe_that_appeared_after_generation_is_not_overwritten(
    validated: RegistryLayout,
) -> None:
    """The second line of defence: generated without --force, so never written over a file."""
    before = _write_recipe(validated, "alpaca")
    report = merge_batch(validated, BATCH, now=NOW)
    action, reasons = _decisions(report)["alpaca"]
    assert action == "skipped"
    assert reasons == ["recipe exists: recipes/a/alpaca.toml; pass --force alpaca to replace it"]
    assert validated.recipe_path("alpaca").read_bytes() == before
    assert _decisions(report)["bravura"][0] == "merged"  # the rest of the batch lands
    entry = load_queue(validated.queue).by_name()["alpaca"]
    assert (entry.status, entry.failure_count, entry.next_retry_at) == ("success", 0, None)
    assert checkdata_errors(validated) == []
    # Rollback puts the queue entry back; the recipe was never the batch's to touch.
    rollback_batch(validated, BATCH)
    assert load_queue(validated.queue).by_name()["alpaca"].status == "pending"
    assert validated.recipe_path("alpaca").read_bytes() == before


def test_a_forced_batch_replaces_a_plain_recipe_but_never_a_curated_one(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    _write_recipe(layout, "alpaca")
    run_generate(layout, "pypi", batch_id=BATCH, fetch=fakes.fetch, force=["alpaca", "bravura"])
    fakes.run_stage(tmp_path, BATCH, "validate")
    curated = _write_recipe(layout, "bravura", curated=True)  # made curated meanwhile
    report = merge_batch(layout, BATCH, now=NOW)
    decisions = _decisions(report)
    assert decisions["alpaca"][0] == "merged"
    replaced = layout.recipe_path("alpaca").read_text(encoding="utf-8")
    assert 'llm_validation = "skipped"' in replaced and "by hand" not in replaced
    action, reasons = decisions["bravura"]
    assert action == "skipped" and "recipes/b/bravura.toml is curated" in reasons[0]
    assert layout.recipe_path("bravura").read_bytes() == curated
    assert load_queue(layout.queue).by_name()["bravura"].status == "success"


def test_a_skipped_entry_whose_recipe_went_away_stays_pending(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    _write_recipe(layout, "alpaca")
    fakes.run_stage(tmp_path, BATCH, "generate")
    fakes.run_stage(tmp_path, BATCH, "validate")
    layout.recipe_path("alpaca").unlink()
    report = merge_batch(layout, BATCH, now=NOW)
    action, reasons = _decisions(report)["alpaca"]
    assert action == "skipped" and "no longer holds it back" in reasons[-1]
    assert load_queue(layout.queue).by_name()["alpaca"].status == "pending"
    assert not layout.recipe_path("alpaca").exists()


def test_skipped_entries_are_no_generation_attempts_in_the_metrics(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path)
    layout = RegistryLayout.at(tmp_path)
    for name in ("alpaca", "bravura"):
        _write_recipe(layout, name)
    report = fakes.run_stage(tmp_path, BATCH, "all")
    assert report.counts["skipped"] == 2
    record = json.loads((layout.metrics_dir / f"batch-runs-{BATCH}.jsonl").read_text())
    assert record["generation"]["skipped"] == 2
    # Every pypi entry of the queue was in the batch; the two skipped were not attempted.
    assert record["total"] == record["generation"]["attempted"] == len(fakes.NAMES) - 2
    assert record["ecosystems"] == {"pypi": len(fakes.NAMES) - 2}


# --- the merge rule: merged only when every environment on an admitted platform passed ----------

DEBIAN = "linux-debian-glibc-x86_64"


def _result(name: str, env: str, platform: str, status: str) -> ResultLine:
    failed = status == "fail"
    return ResultLine(
        recipe=name,
        environment=env,
        platform=platform,
        status=status,
        category="verify_failed" if failed else None,
        subcategory="exit_code" if failed else None,
        exit_code=1 if failed else 0,
        attempts=1,
        message=(
            f"'{name} --version' exited 1, expected 0\nModuleNotFoundError: distutils"
            if failed
            else f"{name} 1.0.0"
        ),
        timestamp="2026-11-27T12:10:00Z",
        version="1.0.0",
        batch_id=BATCH,
    )


def _matrix(layout: RegistryLayout, rows: dict[str, list[tuple[str, str, str]]]) -> None:
    """Each recipe's results beside ``local`` (pinned to the debian platform, whatever this
    machine is): ``name -> [(environment, platform, status)]``."""
    current = current_results(layout, BATCH)
    pinned = [replace(current[(name, "local")], platform=DEBIAN) for name in rows]
    append_results(layout, BATCH, "local", pinned)
    by_env: dict[str, list[ResultLine]] = {}
    for name, results in rows.items():
        for env, platform, status in results:
            by_env.setdefault(env, []).append(_result(name, env, platform, status))
    for env, lines in by_env.items():
        append_results(layout, BATCH, env, lines)


RULE = {
    # One distribution of the local platform failed: inexpressible, held.
    "alpaca": [("debian-12", DEBIAN, "fail")],
    "bravura": [("debian-12", DEBIAN, "pass"), ("alpine-3.21", "linux-alpine-musl-x86_64", "pass")],
    # A point that failed everywhere it ran while another passed: excluded by a constraint.
    "cumulus": [("macos-14", "darwin-arm64", "fail")],
    "dynamo": [("alpine-3.21", "linux-alpine-musl-x86_64", "fail")],
    # A family failure: rhel failed, debian passed on the same point.
    "everest": [("fedora-41", "linux-rhel-glibc-x86_64", "fail")],
}


def _failure_records(write: FileWrite) -> list[FailureRecord]:
    scan = scan_failure_text(write.data.decode("utf-8"), rel=write.path)
    assert scan.problems == []
    return [FailureRecord(write.path, line, *fields) for line, fields in scan.rows]


def test_a_recipe_is_merged_only_when_every_admitted_environment_passed(
    validated: RegistryLayout,
) -> None:
    _matrix(validated, RULE)
    # The rule under the admit policy (untested points admitted, as tsuku's loader defaults);
    # the exclude policy's constraints: test_untested_platforms_policy_decides_what_is_claimed.
    plan = plan_merge(validated, BATCH, now=NOW, untested="admit")
    decisions = {d.name: d for d in plan.report.decisions if d.name in RULE}
    assert {n: (d.action, d.constraints) for n, d in decisions.items()} == {
        "alpaca": ("held", {}),
        "bravura": ("merged", {}),
        "cumulus": ("merged", {"unsupported_platforms": ["darwin/arm64"]}),
        "dynamo": ("merged", {"unsupported_platforms": ["linux/amd64/musl"]}),
        "everest": ("held", {}),
    }
    assert decisions["alpaca"].reasons[0] == (
        "debian-12 failed on linux-debian-glibc-x86_64, admitted by its constraints: local "
        "passed there (verify_failed/exit_code): 'alpaca --version' exited 1, expected 0"
    )
    everest = decisions["everest"].reasons[0]
    assert everest.startswith("fedora-41 failed on linux-rhel-glibc-x86_64, admitted by its ")
    assert "local passed there (verify_failed/exit_code): 'everest --version' exited 1" in everest
    landing = {item.name for item in plan.items if item.recipe is not None}
    assert {"bravura", "cumulus", "dynamo"} <= landing
    assert not {"alpaca", "everest"} & landing
    # The expressible failures are still recorded, as are the held ones.
    failed = {
        (record.name, record.environment, record.subcategory)
        for write in plan.records
        if write.path.startswith("data/failures/")
        for record in _failure_records(write)
    }
    assert {
        ("alpaca", DEBIAN, "exit_code"),
        ("cumulus", "darwin-arm64", "exit_code"),
        ("dynamo", "linux-alpine-musl-x86_64", "exit_code"),
        ("everest", "linux-rhel-glibc-x86_64", "exit_code"),
    } <= failed


def test_a_held_recipe_is_not_written_and_waits_for_review(
    validated: RegistryLayout, tmp_path: Path
) -> None:
    _matrix(validated, {"alpaca": RULE["alpaca"], "bravura": RULE["bravura"]})
    plan = plan_merge(validated, BATCH, now=NOW)
    report = apply_merge(validated, plan)
    assert not validated.recipe_path("alpaca").exists()
    assert validated.recipe_path("bravura").exists()
    queue = load_queue(validated.queue).by_name()
    assert queue["alpaca"].status == "requires_manual"
    assert queue["bravura"].status == "success"
    failures = "".join(p.read_text() for p in validated.failures_dir.glob("*.jsonl"))
    assert '"name":"alpaca"' in failures.replace(" ", "") and "distutils" in failures
    assert checkdata_errors(validated) == []
    # The report carries what a reviewer needs: reasons, results per environment, the text.
    [held] = [d for d in report.to_json()["decisions"] if d["name"] == "alpaca"]
    assert held["action"] == "held" and held["reasons"][0].startswith("debian-12 failed")
    assert {r["environment"]: (r["status"], r["subcategory"]) for r in held["results"]} == {
        "local": ("pass", None),
        "debian-12": ("fail", "exit_code"),
    }
    assert "distutils" in held["results"][0]["message"] + held["results"][1]["message"]
    assert held["recipe_path"] == "recipes/a/alpaca.toml"
    staged = tomllib.loads(Staging(validated, BATCH).recipe_path("alpaca").read_text())
    assert tomllib.loads(held["recipe_toml"])["metadata"]["name"] == staged["metadata"]["name"]
    [merged] = [d for d in report.to_json()["decisions"] if d["name"] == "bravura"]
    assert "recipe_toml" not in merged  # it is in recipes/
    # A rollback puts the queue entry back.
    rollback_batch(validated, BATCH)
    assert load_queue(validated.queue).by_name()["alpaca"].status != "requires_manual"


def test_merge_writes_the_pull_request_body_with_the_held_recipe(
    validated: RegistryLayout, tmp_path: Path
) -> None:
    _matrix(validated, {"alpaca": RULE["alpaca"]})
    body = tmp_path / "out" / "pr-body.md"
    report = merge_batch(validated, BATCH, now=NOW, pr_body=body)
    text = body.read_text(encoding="utf-8")
    [held] = [d for d in report.decisions if d.action == "held"]
    assert held.recipe_text and held.recipe_text in text
    assert "debian-12 failed on linux-debian-glibc-x86\\_64" in text
    assert "| merged | held | failed |" in text.replace("not validated | ", "")
    assert (tmp_path / "out" / "pr-body.full.md").read_text(encoding="utf-8") == text
    assert report.to_json()["pr_body"] == {
        "path": str(body),
        "complete": str(tmp_path / "out" / "pr-body.full.md"),
        "shortened": False,
    }
    assert "`quokka`" in text  # a failed recipe, listed with its code


# --- environment gaps: no verdict, never the package's fault ------------------------------------


def _gap(name: str, env: str, platform: str, tool: str = "cargo") -> ResultLine:
    """The line validation writes when ``env`` lacks ``tool`` (a skipped environment gap)."""
    return ResultLine(
        recipe=name,
        environment=env,
        platform=platform,
        status="skipped",
        category=None,
        subcategory="missing_toolchain",
        exit_code=8,
        attempts=1,
        message=f"environment lacks {tool}: cargo_install needs {tool}, which is not installed",
        timestamp="2026-11-27T12:10:00Z",
        batch_id=BATCH,
    )


def _gap_records(plan_records: tuple[FileWrite, ...]) -> set[tuple[str, str, str, str]]:
    return {
        (record.name or "", record.environment, record.category, record.subcategory or "")
        for write in plan_records
        if write.path.startswith("data/failures/")
        for record in _failure_records(write)
        if record.category == "environment_gap"
    }


def test_a_recipe_with_only_environment_gaps_stays_pending_and_the_breaker_is_untouched(
    tmp_path: Path,
) -> None:
    """Every environment lacked the toolchain: not validated, the entry stays pending (held for
    an environment that has it), no breaker vote, and the failures file records the gap."""
    from automation.registry.control import load_control

    names = ("alpaca", "bravura")
    fakes.make_registry(tmp_path, names, impossible=False)
    layout = RegistryLayout.at(tmp_path)
    run_generate(layout, "pypi", batch_id=BATCH, fetch=fakes.make_fetch(fakes.UPSTREAM))
    append_results(layout, BATCH, "local", [_gap(n, "local", DEBIAN) for n in names])
    append_results(layout, BATCH, "debian-12", [_gap(n, "debian-12", DEBIAN) for n in names])
    breaker_before = load_control(layout.control_file).breaker("pypi")

    plan = plan_merge(layout, BATCH, now=NOW)
    assert plan.votes == ()  # the breaker hears nothing of an environment's gap
    report = apply_merge(layout, plan)

    assert load_control(layout.control_file).breaker("pypi") == breaker_before
    decisions = {d.name: d for d in report.decisions}
    for name in names:
        decision = decisions[name]
        assert decision.action == "not_validated"
        assert (decision.category, decision.subcategory) == ("environment_gap", "missing_toolchain")
        assert decision.reasons == [
            "not validated: debian-12 lacks cargo",
            "not validated: local lacks cargo",
        ]
        assert not layout.recipe_path(name).exists()
    queue = load_queue(layout.queue).by_name()
    assert {name: queue[name].status for name in names} == {n: "pending" for n in names}
    assert {name: queue[name].failure_count for name in names} == {n: 0 for n in names}
    assert _gap_records(plan.records) == {
        (name, DEBIAN, "environment_gap", "missing_toolchain") for name in names
    }
    assert report.exit_code == 0
    assert "| alpaca | pypi:alpaca | not_validated | not validated: debian-12 lacks cargo" in (
        report.to_text()
    )
    assert checkdata_errors(layout) == []


def test_a_pass_beside_gaps_is_judged_on_the_environments_that_ran_it(
    validated: RegistryLayout,
) -> None:
    """local passed; debian-12 (same platform) and alpine (musl) lacked the toolchain. A gap is
    no failure: not held (a debian-12 failure would hold it), no constraint from the gaps (musl
    stays admitted, untested), merged with the gaps named."""
    _matrix(validated, {"alpaca": [], "bravura": [("debian-12", DEBIAN, "fail")]})
    musl = "linux-alpine-musl-x86_64"
    append_results(validated, BATCH, "debian-12", [_gap("alpaca", "debian-12", DEBIAN)])
    append_results(validated, BATCH, "alpine-3.21", [_gap("alpaca", "alpine-3.21", musl, "go")])

    plan = plan_merge(validated, BATCH, now=NOW, untested="admit")  # musl stays admitted
    decisions = {d.name: d for d in plan.report.decisions}
    alpaca = decisions["alpaca"]
    assert (alpaca.action, alpaca.constraints) == ("merged", {})
    assert alpaca.reasons == [
        "not validated: alpine-3.21 lacks go",
        "not validated: debian-12 lacks cargo",
    ]
    # The same environment failing for real holds the recipe: the rule is unchanged.
    assert decisions["bravura"].action == "held"
    assert _gap_records(plan.records) == {
        ("alpaca", DEBIAN, "environment_gap", "missing_toolchain"),
        ("alpaca", musl, "environment_gap", "missing_toolchain"),
    }
    report = apply_merge(validated, plan)
    assert load_queue(validated.queue).by_name()["alpaca"].status == "success"
    [merged] = [d for d in report.to_json()["decisions"] if d["name"] == "alpaca"]
    assert "not validated: debian-12 lacks cargo" in merged["reasons"]


def test_a_real_failure_beside_a_gap_is_still_a_failure(validated: RegistryLayout) -> None:
    """local failed for real; debian-12 lacked the toolchain: failed on local's verdict alone."""
    current = current_results(validated, BATCH)
    failing = replace(
        _result("alpaca", "local", DEBIAN, "fail"), runtimes=current[("alpaca", "local")].runtimes
    )
    append_results(validated, BATCH, "local", [failing])
    append_results(validated, BATCH, "debian-12", [_gap("alpaca", "debian-12", DEBIAN)])
    plan = plan_merge(validated, BATCH, now=NOW)
    [alpaca] = [d for d in plan.report.decisions if d.name == "alpaca"]
    assert (alpaca.action, alpaca.category) == ("failed", "verify_failed")
    assert "not validated: debian-12 lacks cargo" in alpaca.reasons


def test_gate_facts_join_seedings_counts_and_the_batch_log() -> None:
    from automation.registry.popularity import PopularityRecord
    from automation.registry.staging import GenerationOutcome
    from automation.stages.merge import gate_facts

    records = {"pnpm": PopularityRecord("pnpm", "npm", "pnpm", 211284480, "month", 99.98)}
    logged = GenerationOutcome(
        "npm", "npm:npm", "generated", first_release="2010-01-12T00:00:00Z", downloads=None
    )
    failed = GenerationOutcome("nypm", "npm:nypm", "failed", first_release="2023-01-01T00:00:00Z")
    facts = gate_facts(records, [logged, failed])
    assert facts["pnpm"].downloads == 211284480 and facts["pnpm"].source == "npm:pnpm"
    assert facts["npm"].first_release is not None and facts["npm"].first_release.year == 2010
    assert "nypm" not in facts  # only what was generated speaks for a name


def _not_tried(name: str, env: str) -> ResultLine:
    """The line container validation writes for a recipe that failed locally (not tried)."""
    return ResultLine(
        recipe=name,
        environment=env,
        platform=DEBIAN,
        status="skipped",
        category=None,
        subcategory="failed_locally",
        exit_code=0,
        attempts=0,
        message=f"not tried in {env}: failed in local validation (verify_failed/exit_code)",
        timestamp="2026-11-27T12:10:00Z",
        version="1.0.0",
        batch_id=BATCH,
    )


def test_a_recipe_not_tried_after_a_local_failure_fails_on_the_local_verdict_alone(
    validated: RegistryLayout,
) -> None:
    """local failed; debian-12 and ubuntu-24.04 did not try it. The not-tried lines are no
    pass (nothing merged, no constraint from them) and no platform failure (no failure record
    of theirs): the decision and its records are exactly those of local failing alone."""
    current = current_results(validated, BATCH)
    failing = replace(
        _result("alpaca", "local", DEBIAN, "fail"), runtimes=current[("alpaca", "local")].runtimes
    )
    append_results(validated, BATCH, "local", [failing])
    alone = plan_merge(validated, BATCH, now=NOW)
    for env in ("debian-12", "ubuntu-24.04"):
        append_results(validated, BATCH, env, [_not_tried("alpaca", env)])

    plan = plan_merge(validated, BATCH, now=NOW)
    [alpaca] = [d for d in plan.report.decisions if d.name == "alpaca"]
    [before] = [d for d in alone.report.decisions if d.name == "alpaca"]
    assert (alpaca.action, alpaca.category, alpaca.subcategory) == (
        "failed",
        "verify_failed",
        "exit_code",
    )
    assert (alpaca.action, alpaca.reasons, alpaca.constraints) == (
        before.action,
        before.reasons,
        before.constraints,
    )
    assert alpaca.platforms == {"local": "fail", "debian-12": "skipped", "ubuntu-24.04": "skipped"}
    records = [
        (record.name, record.environment, record.category, record.subcategory)
        for write in plan.records
        if write.path.startswith("data/failures/")
        for record in _failure_records(write)
        if record.name == "alpaca"
    ]
    assert records == [("alpaca", DEBIAN, "verify_failed", "exit_code")]  # local's, once
    assert plan.votes == alone.votes  # one failure vote, as without the lines
    assert not any(item.name == "alpaca" and item.recipe is not None for item in plan.items)


def test_untested_platforms_policy_decides_what_is_claimed(validated: RegistryLayout) -> None:
    """The default (exclude) leaves every point no environment tested out of a new recipe's
    constraints; the decision lists what was tested where."""
    _matrix(validated, RULE)
    plan = plan_merge(validated, BATCH, now=NOW)
    decisions = {d.name: d for d in plan.report.decisions if d.name in RULE}
    # bravura passed on debian (local, debian-12) and musl (alpine): linux/amd64 only.
    assert decisions["bravura"].action == "merged"
    assert decisions["bravura"].constraints == {
        "supported_os": ["linux"],
        "supported_arch": ["amd64"],
    }
    tested = decisions["bravura"].tested
    assert tested["linux/amd64/glibc"] == {
        "outcome": "pass",
        "environments": {"debian-12": "pass", "local": "pass"},
        "admitted": True,
    }
    assert tested["darwin/arm64"] == {"outcome": "untested", "environments": {}, "admitted": False}
    assert any("untested platforms policy: exclude" in r for r in decisions["bravura"].reasons)
    # cumulus failed on darwin/arm64: excluded for the failure; the rest untested, excluded too.
    assert decisions["cumulus"].tested["darwin/arm64"]["outcome"] == "fail"
    assert decisions["cumulus"].constraints == {
        "supported_os": ["linux"],
        "unsupported_platforms": ["linux/arm64", "linux/amd64/musl"],
    }
    # Held recipes block auto-merge.
    assert plan.report.counts["held"] and plan.report.auto_merge is False
    assert plan.report.to_json()["auto_merge"] is False


def test_auto_merge_needs_something_merged_and_nothing_held(validated: RegistryLayout) -> None:
    report = MergeReport(BATCH)
    assert report.auto_merge is False  # nothing merged
    from automation.stages.merge import RecipeDecision

    report.decisions = [
        RecipeDecision("a", "pypi:a", "merged"),
        RecipeDecision("b", "pypi:b", "failed"),
    ]
    assert report.auto_merge is True  # a failure is recorded, not for review
    report.decisions.append(RecipeDecision("c", "pypi:c", "held"))
    assert report.auto_merge is False


def test_the_version_verify_policy_holds_exit_status_only_recipes(
    validated: RegistryLayout,
) -> None:
    """`[merge] verify = "version"` in the registry's automation.toml: a recipe whose [verify]
    pattern has no {version} is held for review with the reason; the rest decide as before."""
    staged = Staging(validated, BATCH).recipe_path("bravura")
    staged.write_text(staged.read_text().replace('pattern = "{version}"', 'pattern = ""'))
    default = {d.name: d for d in plan_merge(validated, BATCH, now=NOW).report.decisions}
    exit_only = {
        name
        for name, d in default.items()
        if d.action == "merged"
        and "{version}" not in Staging(validated, BATCH).recipe_path(name).read_text()
    }
    version_checked = {n for n, d in default.items() if d.action == "merged"} - exit_only
    assert exit_only and version_checked  # the fixture has both kinds

    (validated.root / "automation.toml").write_text('[merge]\nverify = "version"\n')
    strict = {d.name: d for d in plan_merge(validated, BATCH, now=NOW).report.decisions}
    for name in exit_only:
        assert strict[name].action == "held", name
        assert any('merge.verify = "version"' in r for r in strict[name].reasons), strict[name]
    for name in version_checked:
        assert strict[name].action == "merged", name
    assert {n: d.action for n, d in strict.items() if n not in exit_only} == {
        n: d.action for n, d in default.items() if n not in exit_only
    }


def test_a_bad_merge_verify_policy_names_the_field(validated: RegistryLayout) -> None:
    (validated.root / "automation.toml").write_text('[merge]\nverify = "sometimes"\n')
    with pytest.raises(DataError) as caught:
        plan_merge(validated, BATCH, now=NOW)
    assert "automation.toml" in str(caught.value) and "verify" in str(caught.value)


def test_a_merge_votes_its_batch_as_a_whole_and_once() -> None:
    """The breaker hears a batch's outcomes together: 9 failures then 31 passes (the live pypi
    batch that opened it for an hour one outcome at a time) leave it closed; a rerun of the
    merge does not vote again."""
    from automation.registry.breaker import BreakerConfig
    from automation.registry.control import Control
    from automation.stages.merge import _voter

    votes = (("pypi", (False,) * 9 + (True,) * 31),)
    vote = _voter(votes, BATCH, NOW, BreakerConfig())
    once = vote(Control())
    assert once.breaker("pypi").state == "closed"
    assert once.breaker("pypi").window == (True,) * 10
    assert vote(once).breaker("pypi") == once.breaker("pypi")
    failing = _voter((("pypi", (True,) * 15 + (False,) * 25),), "other-batch", NOW, BreakerConfig())
    assert failing(Control()).breaker("pypi").state == "open"


def test_a_recipe_left_untried_for_review_is_held_whatever_the_gates_say_now(
    validated: RegistryLayout,
) -> None:
    """Container validation left alpaca untried (``held_for_review``: a gate held it after
    local passed). Merged without those lines, it is held with them, even where this merge's
    gates would admit it: it was never installed in those environments."""
    alone = plan_merge(validated, BATCH, now=NOW)
    [before] = [d for d in alone.report.decisions if d.name == "alpaca"]
    assert before.action == "merged"
    for env in ("debian-12", "ubuntu-24.04"):
        held_line = replace(
            _not_tried("alpaca", env),
            subcategory="held_for_review",
            message=f"not tried in {env}: passed local validation, held for review: x",
        )
        append_results(validated, BATCH, env, [held_line])

    plan = plan_merge(validated, BATCH, now=NOW)
    [alpaca] = [d for d in plan.report.decisions if d.name == "alpaca"]
    assert alpaca.action == "held"
    assert alpaca.reasons[0] == (
        "not validated in debian-12, ubuntu-24.04 (held for review after local validation): "
        "validate it there before merging it"
    )
    assert alpaca.platforms["debian-12"] == "skipped"
    assert not any(item.name == "alpaca" and item.recipe is not None for item in plan.items)
    assert plan.votes == alone.votes  # local passed: no failure vote either way
