"""Fault injection: every writing task against every kind of corrupt data file.

For each data file kind of a registry (queue, failure records, metrics, control file, batch
manifest, result lines, generation log, staged recipe, merged recipe, dependency mapping) and each
way it can be broken (truncated, wrong-typed, a huge integer, deep nesting, binary garbage), every
task that writes runs through its front door (the Invoke task function, as `invoke` calls it).
What a maintainer relies on:

- the task ends with a documented exit code (0, 2, 3, 4 or 5), never a traceback;
- a task that refuses (exit 2, 3 or 5) changed nothing: the registry's bytes are as before;
- the task added no new problem: `check-data` finds nothing beyond the injected file;
- once the operator puts the good file back, `check-data` is clean and the same task run again
  ends as it ends on a registry that was never corrupted (it converges).

Upstream and processes are faked (tests/support/pipeline_fakes.py), so this runs offline.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke import Context
from invoke.exceptions import Exit

import tasks
from automation.core.layout import RegistryLayout
from automation.ops.checkdata import check_data
from tests.support import pipeline_fakes as fakes

MERGED = "2026-11-27-100000-pypi"  # merged before the fault: rollback has something to undo
STAGED = "2026-11-27-110000-pypi"  # generated and validated, not merged yet


def _build_template(root: Path) -> None:
    fakes.make_registry(root, ("alpaca", "bravura", "quokka", "libonly", "phantom"))
    fakes.run_stage(root, MERGED)
    layout = RegistryLayout.at(root)
    from automation.registry.queue import load_queue, save_queue

    queue = load_queue(layout.queue)
    more = [fakes.entry(n) for n in ("cumulus", "dynamo", "rhubarb")]
    save_queue(layout.queue, queue.with_entries([*queue.entries, *more]), previous=queue)
    fakes.run_stage(root, STAGED, "generate")
    fakes.run_stage(root, STAGED, "validate")
    (root / "data" / "dep-mapping.json").write_text(
        json.dumps({"$comment": "homebrew name -> recipe", "sqlite3": "sqlite"}, indent=2) + "\n"
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fault-template") / "registry"
    _build_template(root)
    return root


def _first(root: Path, pattern: str) -> str:
    found = sorted(root.glob(pattern))
    assert found, f"the template registry has no {pattern}"
    return str(found[0].relative_to(root))


# kind -> how to find the file in the template registry
FILE_KINDS: dict[str, Callable[[Path], str]] = {
    "queue": lambda r: "data/queues/priority-queue.json",
    "failures": lambda r: _first(r, "data/failures/*.jsonl"),
    "metrics": lambda r: _first(r, "data/metrics/batch-runs-*.jsonl"),
    "control": lambda r: "batch-control.json",
    "manifest": lambda r: f"data/batches/{MERGED}.json",
    "results": lambda r: f"data/results/{STAGED}/local.jsonl",
    "generation-log": lambda r: f"data/staging/{STAGED}/generation.jsonl",
    "staged-recipe": lambda r: f"data/staging/{STAGED}/recipes/cumulus.toml",
    "recipe": lambda r: "recipes/a/alpaca.toml",
    "dep-mapping": lambda r: "data/dep-mapping.json",
}

_FIRST_INT = re.compile(r"(?<=[:=] )-?\d+|(?<=[:=])-?\d+")


def _truncated(data: bytes) -> bytes:
    return data[: max(1, len(data) // 2)]


def _wrong_typed(data: bytes) -> bytes:
    text = data.decode("utf-8")
    if text.lstrip().startswith(("{", "[")):  # JSON or JSON lines: every line an array
        return b"\n".join(b"[1, 2, 3]" for _ in (text.splitlines() or [""])) + b"\n"
    return b'[metadata]\nname = 42\ndescription = ["not", "a", "string"]\n'  # TOML


def _huge_int(data: bytes) -> bytes:
    text = data.decode("utf-8")
    huge = "1" + "0" * 30
    replaced, count = _FIRST_INT.subn(huge, text, count=1)
    if count:
        return replaced.encode()
    if text.lstrip().startswith("{"):
        return (text.rstrip().rstrip("}") + f', "extra": {huge}}}\n').encode()
    return (text + f"\nextra = {huge}\n").encode()


def _deep_nested(data: bytes) -> bytes:
    depth = 5000
    text = data.decode("utf-8")
    if text.lstrip().startswith(("{", "[")):
        return ("[" * depth + "]" * depth + "\n").encode()
    return ("deep = " + "[" * depth + "]" * depth + "\n").encode()


def _garbage(data: bytes) -> bytes:
    return bytes((i * 151 + 7) % 256 for i in range(512)) + b"\x00\xff\xfe"


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": _truncated,
    "wrong-typed": _wrong_typed,
    "huge-int": _huge_int,
    "deep-nested": _deep_nested,
    "binary-garbage": _garbage,
}


def _generate_with_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """`invoke generate` and `invoke validate` reach fake upstreams and fake processes."""
    from automation.stages import pipeline, validate
    from automation.stages.validate_local import LocalValidator

    monkeypatch.setattr(
        pipeline, "run_generate", functools.partial(pipeline.run_generate, fetch=fakes.fetch)
    )
    faked = functools.partial(
        validate.validate_batch_locally, validator=LocalValidator(runner=fakes.FakeProcesses())
    )
    monkeypatch.setattr(validate, "validate_batch_locally", faked)
    monkeypatch.setattr(pipeline, "validate_batch_locally", faked)  # imported by name there


# task -> keyword arguments as `invoke` passes them (values are strings, switches booleans)
TASKS: dict[str, tuple[Any, dict[str, Any]]] = {
    "generate": (tasks.generate, {"ecosystem": "pypi", "batch_size": "5"}),
    "validate": (tasks.validate, {"batch_id": STAGED, "env": ["local"]}),
    "merge": (tasks.merge, {"batch_id": STAGED}),
    "rollback": (tasks.rollback, {"batch_id": MERGED}),
    "abandon": (tasks.abandon, {"batch_id": STAGED, "reason": "fault test"}),
    "requeue": (tasks.requeue, {}),
    "reorder": (tasks.reorder, {}),
    "exclude-impossible": (tasks.exclude_impossible, {}),
    "stop": (tasks.stop, {"reason": "fault test"}),
    "resume": (tasks.resume, {}),
}


def _run_task(name: str, root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run one task as `invoke` would; the exit code, its stderr and its stdout."""
    function, kwargs = TASKS[name]
    try:
        function(Context(), root=str(root), json=True, **kwargs)
        code = 0
    except Exit as done:
        code = done.code
    out = capsys.readouterr()
    # An exception the front door did not turn into an exit code propagates out of the call
    # above and fails the test; a printed traceback would be on stderr (stdout holds the JSON
    # report, whose failure messages may quote a tool's own traceback).
    return code, out.err, out.out


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cache" not in p.parts and p.name != ".automation.lock"
    }


def _problems(root: Path) -> set[tuple[str, str]]:
    report = check_data(RegistryLayout.at(root))
    return {(str(p.path), p.message) for _, p in report.problems if p.severity == "error"}


_CLEAN_OUTCOME: dict[str, int] = {}


def _clean_outcome(
    task: str, template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> int:
    if task not in _CLEAN_OUTCOME:
        root = tmp_path / "clean"
        shutil.copytree(template, root)
        _CLEAN_OUTCOME[task] = _run_task(task, root, capsys)[0]
    return _CLEAN_OUTCOME[task]


@pytest.mark.slow
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
@pytest.mark.parametrize("kind", sorted(FILE_KINDS))
@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_survives_corrupt_data_file(
    task: str,
    kind: str,
    corruption: str,
    template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _generate_with_fakes(monkeypatch)
    monkeypatch.setenv("AUTOMATION_CACHE_DIR", str(tmp_path / "cache"))
    expected_after_fix = _clean_outcome(task, template, tmp_path, capsys)
    root = tmp_path / "registry"
    shutil.copytree(template, root)
    target = root / FILE_KINDS[kind](root)
    good = target.read_bytes()
    target.write_bytes(CORRUPTIONS[corruption](good))
    problems_before = _problems(root)
    before = _files(root)

    code, errors, output = _run_task(task, root, capsys)

    assert code in (0, 2, 3, 4, 5), errors + output
    assert "Traceback" not in errors, errors
    if code in (2, 3, 5):
        assert _files(root) == before, f"{task} refused (exit {code}) but changed files"
    assert _problems(root) <= problems_before, f"{task} added problems"

    if not target.parent.exists():  # the task moved the batch away (abandon): nothing to fix
        assert code in (0, 4), output
        return
    target.write_bytes(good)  # the operator puts the good file back
    assert not _problems(root), "check-data is not clean once the good file is back"
    again, errors, output = _run_task(task, root, capsys)
    assert "Traceback" not in errors, errors
    if code in (2, 3, 5):  # it refused the first time: now it must do what a clean run does
        assert again == expected_after_fix, output
    else:
        assert again in (0, 4, expected_after_fix), output
