"""`invoke create --from <source>` names the recipe as seeding would (GitHub: curated names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.http import NetworkError
from automation.core.layout import RegistryLayout
from automation.stages import pipeline


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
