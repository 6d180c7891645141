"""Every command in docs/BACKFILL.md exists: Invoke tasks and their flags, nox sessions, make
targets, and the validate session's arguments are accepted by its argument handling."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from automation.ops.changed_recipes import resolve_argv

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "BACKFILL.md"


def commands() -> list[list[str]]:
    """Each line of the doc's ``sh`` blocks, split like a shell would."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.strip()]


def invoke(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def nox_sessions() -> set[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", text, flags=re.M))


def test_the_doc_uses_the_commands_the_issue_names() -> None:
    programs = {tuple(c[:2]) for c in commands()}
    assert ("invoke", "backfill-report") in programs
    assert ("invoke", "constrain") in programs
    assert ("nox", "-s") in programs


def test_every_invoke_task_and_flag_in_the_doc_exists() -> None:
    listed = invoke("--list")
    tasks = set(re.findall(r"^\s+([a-z][a-z0-9-]*)", listed, flags=re.M))
    used = [c for c in commands() if c[0] == "invoke"]
    assert used
    for command in used:
        task = command[1]
        assert task in tasks, f"invoke {task}: no such task"
        help_text = invoke(task, "--help")
        for flag in (a.split("=")[0] for a in command[2:] if a.startswith("--")):
            assert flag in help_text, f"invoke {task} has no {flag}"


def test_every_nox_session_and_make_target_in_the_doc_exists() -> None:
    sessions, targets = nox_sessions(), make_targets()
    for command in commands():
        if command[0] == "nox":
            assert command[1] == "-s" and command[2] in sessions
        if command[0] == "make":
            assert command[1] in targets
    # make targets named in the prose (`make setup-containers ENVS=...`) too
    for target in re.findall(r"`make ([a-z-]+)", DOC.read_text()):
        assert target in targets


def test_the_validate_commands_in_the_doc_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The arguments after ``--`` go through the session's resolution and the validator's own
    parser; its validation is replaced by a recorder (no engine, no container)."""
    from automation.containers import validate
    from automation.core.errors import UsageError

    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise UsageError("recorded")  # main reports it and returns 2

    monkeypatch.setattr(validate, "run_validation", record)
    shown = [c for c in commands() if c[:3] == ["nox", "-s", "validate"]]
    assert len(shown) == 3
    for command in shown:
        args = command[command.index("--") + 1 :]
        forwarded, _ = resolve_argv([*args, "--root", str(tmp_path)])
        assert validate.main(forwarded) == 2  # parsed: an unknown flag would exit argparse
        assert calls[-1]["environment_ids"] == ["debian-12"]
    assert calls[1]["recipe_paths"] == calls[2]["recipe_paths"] == ["recipes/r/ripgrep.toml"]
    assert calls[2]["batch_id"] == "2026-12-05-backfill"
