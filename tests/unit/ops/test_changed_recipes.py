"""`nox -s validate -- ENV` with no recipe named: the recipes the branch changed against main.

A real git repository in a temporary folder; validation through the fake engine of
``tests/support/container_matrix.py`` (no container starts).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from automation.containers.runtime import PodmanRuntime
from automation.containers.validate import run_validation
from automation.core.errors import UsageError
from automation.ops.changed_recipes import SMOKE_NOTE, changed_recipes, resolve_argv
from automation.registry.results import read_results_file
from tests.support.container_matrix import Engine, record

RECIPE = """[metadata]
name = "{name}"
description = "{description}"

[[steps]]
action = "pipx_install"
package = "{name}"
executables = ["{name}"]

[verify]
command = "{name} --version"
pattern = "{{version}}"
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def write(repo: Path, name: str, description: str = "a tool") -> Path:
    path = repo / "recipes" / name[0] / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RECIPE.format(name=name, description=description))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main holds three recipes; the branch `backfill` is checked out, nothing changed yet."""
    repo = tmp_path / "registry"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for name in ("alpha", "beta", "gamma"):
        write(repo, name)
    (repo / "README.md").write_text("registry\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "three recipes")
    git(repo, "checkout", "-q", "-b", "backfill")
    return repo


def test_nothing_changed_falls_back_to_the_smoke_recipes_with_a_message(repo: Path) -> None:
    changed = changed_recipes(repo)
    assert changed.paths == () and changed.base == "main"
    argv, message = resolve_argv(["debian-12", "--root", str(repo)])
    assert "--recipe" not in argv  # the validator's own default: the smoke recipes
    assert message is not None and "no recipe under recipes/ changed against main" in message
    assert SMOKE_NOTE in message


def test_committed_and_uncommitted_changes_are_found_deleted_ones_not(repo: Path) -> None:
    write(repo, "beta", "supports more platforms now")
    git(repo, "commit", "-q", "-am", "beta: backfill")
    write(repo, "gamma", "edited, not committed")
    write(repo, "delta")  # new, untracked
    (repo / "recipes" / "a" / "alpha.toml").unlink()  # deleted: nothing to validate
    (repo / "README.md").write_text("not a recipe\n")
    changed = changed_recipes(repo)
    assert [p.name for p in changed.paths] == ["beta.toml", "delta.toml", "gamma.toml"]
    assert changed.message.startswith("validating 3 recipe(s) changed against main")
    # On main itself, with the branch's commit merged, only what is uncommitted counts.
    git(repo, "stash", "-q", "--include-untracked")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "backfill")
    assert changed_recipes(repo).paths == ()


def test_origin_main_when_there_is_no_local_main_and_an_explicit_base(repo: Path) -> None:
    write(repo, "beta", "edited")
    git(repo, "commit", "-q", "-am", "beta")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "branch", "-q", "-D", "main")
    changed = changed_recipes(repo)
    assert changed.base == "origin/main" and [p.name for p in changed.paths] == ["beta.toml"]
    assert [p.name for p in changed_recipes(repo, base="HEAD~1").paths] == ["beta.toml"]
    with pytest.raises(UsageError, match="--base nosuchref"):
        changed_recipes(repo, base="nosuchref")


def test_not_a_git_checkout(tmp_path: Path) -> None:
    changed = changed_recipes(tmp_path)
    assert changed.paths == () and "not a git checkout" in changed.message


def test_named_recipes_are_kept_and_positional_paths_become_recipes(repo: Path) -> None:
    write(repo, "beta", "edited")  # a change that must not be added to named recipes
    argv, message = resolve_argv(["debian-12", "--recipe", "x.toml", "--jobs", "1"])
    assert message is None
    assert argv == ["debian-12", "--recipe", "x.toml", "--jobs", "1", "--root", "."]
    argv, message = resolve_argv(["debian-12", "recipes/a/alpha.toml", "--root", str(repo)])
    assert message is None
    assert argv == ["debian-12", "--recipe", "recipes/a/alpha.toml", "--root", str(repo)]


def test_nox_validate_env_after_editing_one_recipe_validates_that_recipe(repo: Path) -> None:
    """The issue's "done when": `nox -s validate -- debian-12` after editing one recipe."""
    write(repo, "beta", "now also on arm64")
    argv, message = resolve_argv(["debian-12", "--root", str(repo)])
    assert message is not None and message.endswith("recipes/b/beta.toml")
    recipes = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--recipe"]
    assert [Path(r).name for r in recipes] == ["beta.toml"]
    engine = Engine(lambda env, name, phase: record("pass", version="1.0.0"))
    report = run_validation(
        root=repo,
        environment_ids=["debian-12"],
        recipe_paths=recipes,
        batch_id="2026-12-05-backfill",
        runtime=PodmanRuntime(engine),
        build=False,
        ca_bundle=False,
    )
    assert [(r.recipe, r.environment, r.status) for r in report.results] == [
        ("beta", "debian-12", "pass")
    ]
    lines = read_results_file(repo / "data/results/2026-12-05-backfill/debian-12.jsonl").lines
    assert [line.recipe for line in lines] == ["beta"]
