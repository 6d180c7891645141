"""Live seeding from PyPI and npm into a scratch registry (``-m network``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.config import load_config
from automation.core.errors import ExitCode
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.core.timefmt import now
from automation.ecosystems.npm.client import fetch_npm_package
from automation.ecosystems.pypi.client import fetch_pypi_project
from automation.registry.queue import load_queue
from automation.stages.seed import seed

pytestmark = pytest.mark.network


@pytest.fixture
def http(tmp_path: Path) -> HttpClient:
    return HttpClient(load_config(tmp_path))


@pytest.mark.parametrize("source", ["pypi", "npm"])
def test_seed_five(tmp_path: Path, http: HttpClient, source: str) -> None:
    layout = RegistryLayout.at(tmp_path)
    with http:
        report = seed(layout, source, 5, http, now(), progress=False)
        again = seed(layout, source, 5, http, now(), progress=False)
    assert report.exit_code == ExitCode.OK, report.to_text()
    entries = load_queue(layout.queue).entries
    assert len(entries) == 5 and all(e.source.startswith(f"{source}:") for e in entries)
    assert all(i.executables for i in report.accepted)
    assert again.accepted == []


def test_live_adapters(http: HttpClient) -> None:
    with http:
        assert fetch_pypi_project(http, "httpie").console_scripts == ("http", "httpie", "https")
        assert fetch_pypi_project(http, "requests").executables == ()
        assert "ruff" in fetch_pypi_project(http, "ruff").executables
        assert fetch_npm_package(http, "@angular/cli").bin == ("ng",)
        assert fetch_npm_package(http, "lodash").bin == ()
