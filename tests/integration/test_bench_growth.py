"""The bench's registry-growth section reads what the grow runs committed, and does the sums."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import growth


def _registry(root: Path) -> None:
    data = root / "data"
    (data / "queues").mkdir(parents=True)
    (data / "results" / "b1").mkdir(parents=True)
    state = {
        "started_at": "2026-12-05T10:00:00Z",
        "finished_at": "2026-12-05T10:30:00Z",
        "status": "reached",
        "target": 80,
        "before": {"total": 40},
        "seconds": 1800.0,
        "rounds": [{"number": 1, "batches": [{"merged": 30}, {"merged": 10}]}],
        "history": [
            {
                "started_at": "2026-12-05T09:00:00Z",
                "target": 40,
                "before_total": 0,
                "merged": 40,
                "seconds": 1800.0,
            }
        ],
    }
    (data / "grow-state.json").write_text(json.dumps(state))
    queue = {
        "entries": [
            {"name": "tool", "status": "success"},
            {"name": "lib", "status": "requires_manual"},
        ]
    }
    (data / "queues" / "priority-queue.json").write_text(json.dumps(queue))
    lines = {
        "local": [("tool", "pass", 6.0), ("lib", "pass", 4.0)],
        "debian-12": [("tool", "pass", 10.0), ("lib", "skipped", 0.0)],
    }
    for env, rows in lines.items():
        text = "".join(
            json.dumps({"recipe": r, "status": s, "duration_seconds": d}) + "\n" for r, s, d in rows
        )
        (data / "results" / "b1" / f"{env}.jsonl").write_text(text)


def test_the_section_sums_every_run_and_compares_with_the_target_and_the_floor(
    tmp_path: Path,
) -> None:
    _registry(tmp_path)
    printed: list[str] = []
    results: dict[str, Any] = {"e2e": {"floor": {"per_recipe_s": 0.5}}}
    growth.section(printed.append, results, tmp_path)
    text = "\n".join(printed)
    # Two runs (the history and the latest): 80 recipes in 3600 s, 45 s each.
    assert results["growth"]["runs"] == 2 and results["growth"]["merged"] == 80
    assert results["growth"]["per_merged_s"] == 45.0
    assert "**45.0 s per merged recipe**, **90x** the end-to-end floor" in text
    assert results["growth"]["hours_for_target"] == 12.5  # 1,000 x 45 s
    assert "not within the 2-hour target" in text
    # Skipped lines took no time; each line counts for its package's outcome now.
    assert results["growth"]["environment_seconds"] == {
        "requires_manual/local": 4.0,
        "success/debian-12": 10.0,
        "success/local": 6.0,
    }


def test_without_a_grow_state_the_section_says_how_to_get_one(tmp_path: Path) -> None:
    printed: list[str] = []
    growth.section(printed.append, {}, tmp_path)
    assert any("run `make grow`" in line for line in printed)


def test_validation_spans_split_batches_by_ecosystem_and_installer(tmp_path: Path) -> None:
    results = tmp_path / "data" / "results"
    (tmp_path / "data" / "queues").mkdir(parents=True)
    queue = {
        "entries": [
            {"name": "ruff", "status": "success"},
            {"name": "black", "status": "success"},
            {"name": "lib", "status": "failed"},
            {"name": "eslint", "status": "success"},
        ]
    }
    (tmp_path / "data" / "queues" / "priority-queue.json").write_text(json.dumps(queue))
    uv = [{"name": "python3"}, {"name": "uv"}]

    def lines(batch: str, env: str, rows: list[tuple[str, str, str, float, list]]) -> None:
        (results / batch).mkdir(parents=True, exist_ok=True)
        text = "".join(
            json.dumps({"recipe": r, "status": s, "timestamp": t, "duration_seconds": d,
                        "runtimes": rt}) + "\n"
            for r, s, t, d, rt in rows
        )  # fmt: skip
        (results / batch / f"{env}.jsonl").write_text(text)

    # pip batch: black (later validated again with uv, so merged there) and lib (failed)
    lines("2026-12-05-100000-pypi-g1", "local", [
        ("black", "fail", "2026-12-05T10:00:10Z", 10.0, [{"name": "python3"}]),
        ("lib", "fail", "2026-12-05T10:00:30Z", 20.0, [{"name": "python3"}]),
    ])  # fmt: skip
    # uv batch over two environments: spans 10:00:00 -> 10:01:00; a skipped line takes no time
    lines("2026-12-06-100000-pypi-g1", "local", [
        ("ruff", "pass", "2026-12-06T10:00:05Z", 5.0, uv),
        ("black", "pass", "2026-12-06T10:00:20Z", 10.0, uv),
    ])  # fmt: skip
    lines("2026-12-06-100000-pypi-g1", "debian-12", [
        ("ruff", "pass", "2026-12-06T10:01:00Z", 30.0, uv),
        ("lib", "skipped", "2026-12-06T11:00:00Z", 0.0, []),
    ])  # fmt: skip
    lines("2026-12-06-100100-npm-g1", "local", [
        ("eslint", "pass", "2026-12-06T10:02:00Z", 8.0, [{"name": "node"}]),
    ])  # fmt: skip
    spans = growth.validation_spans(tmp_path)
    assert spans[("pypi", "pip")] == {"batches": 1, "merged": 0, "seconds": 30.0}
    assert spans[("pypi", "uv")] == {"batches": 1, "merged": 2, "seconds": 60.0}
    assert spans[("npm", "npm")] == {"batches": 1, "merged": 1, "seconds": 8.0}
