"""Gap analysis end to end: a small registry, and values checked by hand on the reference data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.core.report import render
from automation.learn.gaps import gap_report
from tests.support.gap_registry import GMP_RECIPE, failure_line, make_registry


def test_small_registry_report(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "reg")
    report = gap_report(root, index_path=tmp_path / "idx.sqlite")
    data = report.to_json()
    zlib = data["blockers"][0]
    assert zlib["dependency"] == "zlib-ng"
    # libfoo and tool directly; task through libfoo (recorded as homebrew:go-task)
    assert (zlib["direct_count"], zlib["transitive_count"]) == (2, 3)
    assert zlib["weighted_value"] == 3 + 1 + 1  # task is priority 1
    assert zlib["top_blocked"] == ["task", "libfoo", "tool"]
    assert data["already_satisfied"] == [
        {"dependency": "homebrew:gmp", "satisfied_by": "gmp", "how": "satisfies",
         "blocked": ["coreutils"]}
    ]  # fmt: skip
    assert data["uninterpreted"]["sample_not_in_queue"] == ["pypi:ghost"]
    text = render(report, as_json=False)
    assert "zlib-ng" in text and "pypi:ghost" in text and "requeue candidates" in text
    assert not (root / ".cache").exists() or (root / ".cache").is_dir()


def test_small_registry_filters(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "reg")
    npm_only = gap_report(root, ecosystem="npm", index_path=None).to_json()
    assert [(b["dependency"], b["direct"]) for b in npm_only["blockers"]] == [("zlib-ng", ["tool"])]
    musl = gap_report(root, environment="linux-alpine-musl-x86_64", index_path=None).to_json()
    assert [b["direct"] for b in musl["blockers"]] == [["tool"]]


def test_default_index_lives_in_the_cache_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AUTOMATION_CACHE_DIR", raising=False)
    root = make_registry(tmp_path / "reg")
    report = gap_report(root)
    assert report.index.location == str(root / ".cache" / "automation" / "failures.sqlite")
    assert gap_report(root).index.files_read == 0


# --- the reference data -----------------------------------------------------------------------


def packages_recording(reference: Path, dependency: str) -> set[str]:
    """By hand: the distinct package ids whose failure lines list ``dependency``."""
    found = set()
    for path in sorted((reference / "data" / "failures").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if dependency not in line:
                continue
            doc = json.loads(line)
            for failure in doc.get("failures", []):
                if dependency in failure.get("blocked_by", []):
                    found.add(failure["package_id"])
    return found


@pytest.fixture(scope="module")
def reference_report(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    return gap_report(reference_dir, top=100, index_path=tmp_path_factory.mktemp("i") / "i.sqlite")


def test_reference_python_blocks_seven_distinct_packages(reference_dir: Path, reference_report):
    by_hand = packages_recording(reference_dir, "python@3.14")
    # 10 records, 7 packages: vim, yt-dlp, acronym, adb-enhanced, adios2, aerleon, mpi4py
    assert len(by_hand) == 7
    python = next(b for b in reference_report.blockers if b.key == "python@3.14")
    assert {f"homebrew:{n}" for n in python.direct} == by_hand
    # mpi4py blocks adios2, already counted: the diamond does not count twice
    assert len(python.transitive) == 7
    assert reference_report.blockers[0].key == "python@3.14"


def test_reference_chains_and_satisfied(reference_report) -> None:
    by_key = {b.key: b for b in reference_report.blockers}
    # openjph -> openexr -> jpeg-xl -> aom -> libheif -> imagemagick (latest records)
    assert by_key["openjph"].transitive == ("aom", "imagemagick", "jpeg-xl", "libheif", "openexr")
    # icu4c@78 -> node -> gemini-cli, and -> harfbuzz
    assert by_key["icu4c@78"].transitive == ("gemini-cli", "harfbuzz", "node")
    # gmp has a recipe satisfying homebrew gmp: never a missing blocker
    assert "gmp" not in by_key
    satisfied = {s.dependency: s for s in reference_report.satisfied}
    assert satisfied["homebrew:bdw-gc"].recipe == "bdw-gc"
    assert satisfied["homebrew:bdw-gc"].blocked == ("a2ps",)
    # bat and jq moved to GitHub sources: their old Homebrew records are stale, not current
    assert set(reference_report.current.stale) == {"homebrew:bat", "homebrew:jq"}
    assert reference_report.current.unresolved == {}


# --- the result cache -------------------------------------------------------------------------


def _without_run_details(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("index", "result_cache")}


def test_an_unchanged_registry_answers_from_the_result_cache(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "reg")
    db = tmp_path / "cache" / "idx.sqlite"
    first = gap_report(root, index_path=db)
    again = gap_report(root, index_path=db)
    assert first.to_json()["result_cache"]["hit"] is False
    assert again.to_json()["result_cache"]["hit"] is True
    assert _without_run_details(again.to_json()) == _without_run_details(first.to_json())
    assert again.index.files_read == 0 and again.index.files == 5
    text = again.to_text()
    assert "zlib-ng" in text and "Result: cached" in text
    # Other arguments are another report.
    assert gap_report(root, index_path=db, top=1).to_json()["result_cache"]["hit"] is False


@pytest.mark.parametrize("change", ["failure", "queue", "recipe", "dep-mapping", "corrupt-cache"])
def test_any_changed_input_recomputes(tmp_path: Path, change: str) -> None:
    root = make_registry(tmp_path / "reg")
    db = tmp_path / "cache" / "idx.sqlite"
    before = gap_report(root, index_path=db).to_json()
    if change == "failure":
        with (root / "data" / "failures" / "npm-1.jsonl").open("a") as handle:
            handle.write(
                failure_line("npm:tool", ["openssl@3"], "2026-04-01T00:00:00Z", "x") + "\n"
            )
    elif change == "queue":
        queue = root / "data" / "queues" / "priority-queue.json"
        doc = json.loads(queue.read_text())
        doc["entries"] = [e for e in doc["entries"] if e["name"] != "tool"]
        queue.write_text(json.dumps(doc))
    elif change == "recipe":
        (root / "recipes" / "z").mkdir()
        (root / "recipes" / "z" / "zlib-ng.toml").write_text(GMP_RECIPE.replace("gmp", "zlib-ng"))
    elif change == "dep-mapping":
        (root / "data" / "dep-mapping.json").write_text(json.dumps({"zlib-ng": "gmp"}))
    else:
        for cached in (db.parent / "gap-reports").glob("*.json"):
            cached.write_text("{not json")
    after = gap_report(root, index_path=db).to_json()
    assert after["result_cache"]["hit"] is False
    if change != "corrupt-cache":
        assert _without_run_details(after) != _without_run_details(before)
    else:
        assert _without_run_details(after) == _without_run_details(before)


def test_no_result_cache_without_a_persisted_index(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "reg")
    gap_report(root, index_path=None)
    report = gap_report(root, index_path=None)
    assert "result_cache" not in report.to_json()
    assert not (root / ".cache").exists()
