"""The README's registry numbers come from the registry's files, through a task, atomically."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.ops.registry_stats import (
    BEGIN_MARKER,
    END_MARKER,
    compute_stats,
    registry_stats,
    render_markdown,
)
from automation.registry.failures import NewFailure, write_failures
from automation.registry.results import ResultLine, write_result_lines

REPO = Path(__file__).resolve().parents[3]
DEBIAN = "linux-debian-glibc-x86_64"
BATCH = "2026-12-05-080000-pypi"


def _recipe(root: Path, name: str, action: str, package: str, verify: str) -> None:
    path = root / "recipes" / name[0] / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    executable = verify.split('"')[1].split()[0]
    path.write_text(
        f'[metadata]\nname = "{name}"\ndescription = "d"\nhomepage = "https://example.org"\n\n'
        f'[[steps]]\naction = "{action}"\npackage = "{package}"\n'
        f'executables = ["{executable}"]\n\n[verify]\n{verify}\n',
        encoding="utf-8",
    )


def _line(recipe: str, env: str, status: str, runtime: tuple[str, str] | None) -> ResultLine:
    return ResultLine(
        recipe=recipe,
        environment=env,
        platform=DEBIAN,
        status=status,
        category=None if status == "pass" else "verify_failed",
        subcategory=None if status == "pass" else "exit_code",
        exit_code=0 if status == "pass" else 1,
        attempts=1,
        message="",
        timestamp="2026-12-05T08:00:00Z",
        batch_id=BATCH,
        runtimes=({"name": runtime[0], "version": runtime[1], "build": "b"},) if runtime else (),
    )


def _registry(root: Path) -> RegistryLayout:
    layout = RegistryLayout.at(root)
    py = 'command = "ruff --version"\npattern = "{version}"'
    _recipe(root, "ruff", "pipx_install", "ruff", py)
    # Checked by its exit status only, through an executable named like neither recipe nor
    # package.
    _recipe(root, "typescript", "npm_install", "typescript", 'command = "tsc --help"')
    # A scoped package: its command is named like the package without the scope.
    _recipe(
        root,
        "cowsay",
        "npm_install",
        "@acme/cowsay",
        'command = "cowsay --version"\npattern = "{version}"',
    )
    python, node = ("python3", "3.13.5"), ("node", "26.12.1")
    for env in ("local", "debian-12"):
        results = layout.results_file(BATCH, env)
        write_result_lines(
            results,
            [
                _line("ruff", env, "pass", python),
                _line("typescript", env, "pass", node),
                _line("cowsay", env, "pass", node),
                # Validated, not merged: counts in the pass rate, not among the recipes.
                _line("idna", env, "fail" if env == "debian-12" else "pass", python),
            ],
        )
    write_failures(
        layout,
        "pypi",
        DEBIAN,
        [NewFailure("idna", "pypi:idna", "verify_failed", "exit_code", "exit 1")],
        datetime(2026, 12, 5, 8, tzinfo=UTC),
    )
    return layout


def test_the_numbers_come_from_recipes_results_and_failures(tmp_path: Path) -> None:
    stats = compute_stats(_registry(tmp_path))
    assert stats.recipes == 3
    assert stats.per_ecosystem == {"npm": 2, "pypi": 1}
    assert stats.passing_everywhere == 3
    assert stats.version_verified == 2  # typescript is checked by its exit status only
    assert stats.named_like == 2  # tsc is named like neither "typescript" recipe nor package
    envs = {e.environment: (e.validated, e.passed) for e in stats.environments}
    assert envs == {"debian-12": (4, 3), "local": (4, 4)}
    assert stats.failures_by_code == {"verify_failed/exit_code": 1}
    assert stats.runtimes == {"node 26.12.1": 4, "python3 3.13.5": 2}
    text = render_markdown(stats)
    assert "**3 recipes**" in text and "| debian-12 | 4 | 3 | 75.0% |" in text


def test_a_later_line_supersedes_an_earlier_one(tmp_path: Path) -> None:
    layout = _registry(tmp_path)
    later = "2026-12-05-090000-pypi"
    line = _line("idna", "debian-12", "pass", ("python3", "3.13.5"))
    write_result_lines(layout.results_file(later, "debian-12"), [replace(line, batch_id=later)])
    envs = {e.environment: e.passed for e in compute_stats(layout).environments}
    assert envs["debian-12"] == 4


def test_the_readme_section_is_replaced_between_its_markers_only(tmp_path: Path) -> None:
    layout = _registry(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{BEGIN_MARKER}\nold numbers\n{END_MARKER}\n\nrest\n")
    report = registry_stats(layout, readme=readme)
    assert report.changed
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n" + BEGIN_MARKER + "\n**3 recipes**")
    assert text.endswith(END_MARKER + "\n\nrest\n") and "old numbers" not in text
    # A second run with nothing new leaves the file as it is.
    assert not registry_stats(layout, readme=readme).changed
    assert readme.read_text() == text


def test_a_readme_without_the_markers_is_a_clear_error_and_untouched(tmp_path: Path) -> None:
    layout = _registry(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    with pytest.raises(DataError, match="registry-stats"):
        registry_stats(layout, readme=readme)
    assert readme.read_text() == "# Title\n"


def test_an_unreadable_recipe_is_listed_not_fatal(tmp_path: Path) -> None:
    layout = _registry(tmp_path)
    (tmp_path / "recipes" / "b").mkdir()
    (tmp_path / "recipes" / "b" / "broken.toml").write_text("[metadata\n")
    stats = compute_stats(layout)
    assert stats.recipes == 3 and stats.unreadable == ["recipes/b/broken.toml"]


def test_the_task_prints_json(tmp_path: Path) -> None:
    _registry(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "registry-stats", "--root", str(tmp_path), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["recipes"] == 3 and doc["readme"] is None


def test_this_repositorys_readme_has_the_section() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert BEGIN_MARKER in text and END_MARKER in text


def test_held_recipes_and_what_growing_cost_are_stated(tmp_path: Path) -> None:
    """Held entries come from the queue; the growing time from data/grow-state.json (finished
    runs in its history plus the current run), as `invoke grow` wrote them."""
    from automation.registry.queue import QueueEntry, empty_queue, save_queue
    from automation.stages.grow import save_state

    layout = _registry(tmp_path)

    def entry(name: str, source: str, status: str) -> QueueEntry:
        return QueueEntry(name, source, 2, status, "auto", None, 0, None)

    entries = [
        entry("ruff", "pypi:ruff", "success"),
        entry("gulp", "npm:gulp", "requires_manual"),
        entry("prisma", "npm:prisma", "requires_manual"),
    ]
    save_queue(layout.queue, empty_queue().with_entries(entries))
    finished = {
        "started_at": "2026-12-05T08:00:00Z",
        "finished_at": "2026-12-05T08:30:00Z",
        "status": "reached",
        "target": 2,
        "before_total": 0,
        "rounds": 1,
        "batches": 2,
        "merged": 2,
        "seconds": 1800.0,
    }
    batch = {
        "ecosystem": "npm",
        "batch_id": "2026-12-05-090000-npm-g1",
        "stage": "merged",
        "size": 40,
        "seeded": 0,
        "generated": 1,
        "merged": 1,
        "started_at": "2026-12-05T09:00:00Z",
        "finished_at": "2026-12-05T09:10:00Z",
    }
    save_state(
        layout,
        {
            "schema_version": 1,
            "status": "reached",
            "message": "",
            "target": 3,
            "ecosystems": ["pypi", "npm"],
            "environments": ["local", "debian-12"],
            "batch_size": 40,
            "started_at": "2026-12-05T09:00:00Z",
            "updated_at": "2026-12-05T09:10:00Z",
            "finished_at": "2026-12-05T09:10:00Z",
            "seconds": 600.0,
            "before": {"total": 2},
            "exhausted": [],
            "rounds": [{"number": 1, "batches": [batch]}],
            "history": [finished],
        },
    )
    stats = compute_stats(layout)
    assert stats.held == 2
    assert stats.grow == {"runs": 2, "merged": 3, "seconds": 2400.0}
    text = render_markdown(stats)
    assert "2 validated recipes wait for a reviewer" in text
    assert "Grown by 2 `invoke grow` runs: 3 recipes merged in 0.7 h" in text
    assert "800.0 s per merged recipe" in text
    assert stats.to_json()["grow"] == stats.grow
