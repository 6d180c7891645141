"""The pipeline's front doors: `invoke create --from <source>` names the recipe as seeding
would, and the generate budget comes from the environment."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from automation.core.http import NetworkError
from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.stages import pipeline
from automation.stages.pipeline import run_generate
from tests.support.pipeline_fakes import make_fetch


@pytest.mark.parametrize(
    ("source", "expected"),
    [("github:cli/cli", "gh"), ("github:BurntSushi/ripgrep", "ripgrep"), ("pypi:black", "black"),
     ("npm:@angular/cli", "angular-cli")],
)  # fmt: skip
def test_create_names_like_seeding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    def unreachable(_http):  # type: ignore[no-untyped-def]
        def fetch(_ecosystem: str, _identifier: str) -> None:
            raise NetworkError("offline", url="https://example.invalid/")

        return fetch

    monkeypatch.setattr(pipeline, "fetcher_for", unreachable)
    report = pipeline.run_create(RegistryLayout.at(tmp_path), source)
    assert report.name == expected
    assert report.failure is not None and report.failure.category == "network_error"


UPSTREAM = {name: ("1.0.0", (name,)) for name in ("ant", "bee", "cat", "dog", "eel")}


BATCH = "2026-11-27-120000-pypi"


def entries() -> list[QueueEntry]:
    return [QueueEntry(n, f"pypi:{n}", 3, "pending", "auto", None, 0, None) for n in UPSTREAM]


def test_run_generate_takes_the_budget_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = RegistryLayout.at(tmp_path)
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries()))
    fetch = make_fetch(UPSTREAM)

    def slow_fetch(ecosystem: str, identifier: str) -> Any:
        time.sleep(0.3)
        return fetch(ecosystem, identifier)

    monkeypatch.setenv("AUTOMATION_BATCH_BUDGET", "0.5")
    report = run_generate(layout, "pypi", batch_id=BATCH, workers=1, fetch=slow_fetch)
    assert report.budget_seconds == 0.5
    assert len(report.outcomes) == 2 and report.left_pending == 3  # started at ~0 and ~0.3 s
    # The flag wins over the environment.
    rest = run_generate(layout, "pypi", batch_id=BATCH, workers=1, fetch=fetch, budget_seconds=60)
    assert rest.budget_seconds == 60 and len(rest.outcomes) == 3 and rest.left_pending == 0


def _tasks_program() -> Any:
    """This repository's tasks behind Invoke's own ``Program``: what ``invoke`` runs."""
    import importlib.util

    from invoke import Collection, Program

    tasks_py = Path(__file__).resolve().parents[3] / "tasks.py"
    spec = importlib.util.spec_from_file_location("first_use_tasks", tasks_py)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Program(namespace=Collection.from_module(module))


def _invoke(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code: int | str | None = 0
    try:
        _tasks_program().run(["invoke", *argv], exit=True)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return int(code or 0), out, err


def test_generate_on_an_empty_queue_says_to_seed_and_writes_no_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """First use: `invoke generate --ecosystem cargo` (an alias of crates.io) on a registry with
    nothing queued exits 0, says so with the seed command under the canonical name, and leaves
    no empty staging folder behind."""
    code, out, err = _invoke(capsys, "generate", "--ecosystem", "cargo", "--root", str(tmp_path))
    assert code == 0, err
    assert "the queue has no pending crates.io entries" in out
    assert "invoke seed --source crates.io" in out
    assert "0 attempted" not in out
    assert not (tmp_path / "data" / "staging").exists() or not any(
        (tmp_path / "data" / "staging").iterdir()
    )


def test_generate_json_on_an_empty_queue_names_what_happened_and_the_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code, out, err = _invoke(
        capsys, "generate", "--ecosystem", "cargo", "--json", "--root", str(tmp_path)
    )
    assert code == 0, err
    document = json.loads(out)
    assert (document["ecosystem"], document["attempted"]) == ("crates.io", 0)
    assert "no pending crates.io entries" in document["nothing_selected"]
    assert document["hint"] == "to queue some, seed first: invoke seed --source crates.io"
    assert not (tmp_path / "data" / "staging" / document["batch_id"]).exists()


def test_pipeline_no_seed_on_a_queue_with_nothing_for_the_ecosystem_says_to_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`invoke pipeline --ecosystem cargo --no-seed` with only other ecosystems queued: exit 0,
    the reason and the seed command in text and in --json, no staging folder, nothing run."""
    import json

    layout = RegistryLayout.at(tmp_path)
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries()))  # pypi only
    argv = ("pipeline", "--ecosystem", "cargo", "--no-seed", "--root", str(tmp_path))
    code, out, err = _invoke(capsys, *argv)
    assert code == 0, err
    assert "the queue has no pending crates.io entries" in out
    assert "invoke seed --source crates.io" in out
    code, out, err = _invoke(capsys, *argv, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert (document["validate"], document["merge"]) == (None, None)
    assert "no pending crates.io entries" in document["generate"]["nothing_selected"]
    assert (
        document["generate"]["hint"] == "to queue some, seed first: invoke seed --source crates.io"
    )
    assert not (tmp_path / "data" / "staging").exists()


def test_generate_after_an_empty_run_still_selects_what_was_seeded(tmp_path: Path) -> None:
    """The empty run reserved nothing: entries queued afterwards are generated by the next run."""
    layout = RegistryLayout.at(tmp_path)
    empty = run_generate(layout, "pypi", batch_id=BATCH, fetch=make_fetch(UPSTREAM))
    assert empty.nothing_selected is not None and empty.outcomes == []
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries()))
    report = run_generate(layout, "pypi", batch_id=BATCH, fetch=make_fetch(UPSTREAM))
    assert report.nothing_selected is None
    assert report.counts["generated"] == len(UPSTREAM)


# --- --force NAME ----------------------------------------------------------------------------

OTHER_BATCH = "2026-11-27-110000-pypi"


def _registry_with_bee_merged(tmp_path: Path) -> RegistryLayout:
    """A registry whose ``bee`` recipe exists and whose queue entry says so (``success``)."""
    layout = RegistryLayout.at(tmp_path)
    queued = [e if e.name != "bee" else e.with_changes(status="success") for e in entries()]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(queued))
    path = layout.recipe_path("bee")
    path.parent.mkdir(parents=True)
    path.write_text('[metadata]\nname = "bee"\n\n[[steps]]\naction = "pipx_install"\n')
    return layout


def test_force_puts_a_settled_entry_first_in_a_new_batch(tmp_path: Path) -> None:
    """After a skip the entry is ``success``: selection leaves it alone, --force takes it."""
    layout = _registry_with_bee_merged(tmp_path)
    plain = run_generate(
        layout, "pypi", batch_id=OTHER_BATCH, batch_size=2, fetch=make_fetch(UPSTREAM)
    )
    assert [o.name for o in plain.outcomes] == ["ant", "cat"]
    report = run_generate(
        layout, "pypi", batch_id=BATCH, batch_size=2, fetch=make_fetch(UPSTREAM), force=["bee"]
    )
    # Forced first, within the batch size; ant and cat are held by the other open batch.
    assert [(o.name, o.status, o.forced) for o in report.outcomes] == [
        ("bee", "generated", True),
        ("dog", "generated", False),
    ]


@pytest.mark.parametrize(
    ("force", "message"),
    [
        (["owl"], "--force owl: the queue has no pypi entry named owl"),
        (["../bee"], "--force '../bee': not a recipe name"),
        (["ant"], f"--force ant: reserved by open batch {OTHER_BATCH}"),
        (["eel"], "--force eel: its queue entry is excluded"),
    ],
)
def test_a_force_that_cannot_be_honoured_is_a_usage_error_before_any_batch(
    tmp_path: Path, force: list[str], message: str
) -> None:
    from automation.core.errors import UsageError

    layout = _registry_with_bee_merged(tmp_path)
    queue = load_queue(layout.queue)
    excluded = [e.with_changes(status="excluded") if e.name == "eel" else e for e in queue.entries]
    save_queue(layout.queue, queue.with_entries(excluded))
    run_generate(layout, "pypi", batch_id=OTHER_BATCH, batch_size=1, fetch=make_fetch(UPSTREAM))
    with pytest.raises(UsageError, match=re.escape(message)):
        run_generate(layout, "pypi", batch_id=BATCH, fetch=make_fetch(UPSTREAM), force=force)
    assert not (tmp_path / "data" / "staging" / BATCH / "selection.json").exists()


def test_a_resumed_batch_takes_a_force_only_for_its_own_entries(tmp_path: Path) -> None:
    from automation.core.errors import UsageError

    layout = _registry_with_bee_merged(tmp_path)
    first = run_generate(layout, "pypi", batch_id=BATCH, batch_size=1, fetch=make_fetch(UPSTREAM))
    assert [o.name for o in first.outcomes] == ["ant"]
    with pytest.raises(UsageError, match=f"--force bee: not an entry of batch {BATCH}"):
        run_generate(layout, "pypi", batch_id=BATCH, fetch=make_fetch(UPSTREAM), force=["bee"])


def test_invoke_generate_refuses_a_bad_force_value_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(tmp_path)
    code, _out, err = _invoke(
        capsys, "generate", "--ecosystem", "pypi", "--force", "Bad/Name", "--root", root
    )
    assert code == 2 and "--force 'Bad/Name' is not a recipe name" in err
    code, _out, err = _invoke(
        capsys, "pipeline", "--ecosystem", "pypi", "--no-seed", "--force", "a b", "--root", root
    )
    assert code == 2 and "--force 'a b' is not a recipe name" in err


def test_invoke_generate_hands_every_force_to_the_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_run_generate(layout: RegistryLayout, ecosystem: str, **options: Any) -> Any:
        seen.update(options)
        raise pipeline.UsageError("stop here")

    monkeypatch.setattr(pipeline, "run_generate", fake_run_generate)
    code, _out, _err = _invoke(
        capsys, "generate", "--ecosystem", "pypi", "--force", "Bee", "--force", "ant",
        "--force", "bee", "--root", str(tmp_path),
    )  # fmt: skip
    assert code == 2 and seen["force"] == ["bee", "ant"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), True),  # on by default in the pipeline
        (("--no-skip-failed-locally",), False),
    ],
)
def test_invoke_pipeline_skips_local_failures_in_the_containers_unless_told(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    expected: bool,
) -> None:
    seen: dict[str, Any] = {}

    def fake_run_pipeline(layout: RegistryLayout, ecosystem: str, **options: Any) -> Any:
        seen.update(options)
        raise pipeline.UsageError("stop here")

    monkeypatch.setattr(pipeline, "run_pipeline", fake_run_pipeline)
    code, _out, _err = _invoke(
        capsys, "pipeline", "--ecosystem", "pypi", "--env", "debian-12", "--root", str(tmp_path),
        *argv,
    )  # fmt: skip
    assert code == 2 and seen["skip_failed_locally"] is expected


def test_validate_forwards_the_choice_to_the_matrix_off_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import automation.stages.validate_matrix as matrix

    seen: list[bool] = []
    monkeypatch.setattr(
        matrix, "validate_matrix", lambda *a, **kw: seen.append(kw["skip_failed_locally"])
    )
    layout = RegistryLayout.at(tmp_path)
    pipeline.run_validate(layout, "2026-01-01", ["local", "debian-12"])
    pipeline.run_validate(layout, "2026-01-01", ["local", "debian-12"], skip_failed_locally=True)
    assert seen == [False, True]
