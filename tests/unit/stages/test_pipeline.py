"""The pipeline's front doors: `invoke create --from <source>` names the recipe as seeding
would, and the generate budget comes from the environment."""

from __future__ import annotations

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
