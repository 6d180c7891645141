"""Live seeding from PyPI and npm into a scratch registry (``-m network``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.config import load_config
from automation.core.errors import ExitCode
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.core.timefmt import now
from automation.ecosystems.npm.adapter import ADAPTER as NPM
from automation.ecosystems.npm.client import fetch_npm_package
from automation.ecosystems.pypi.adapter import ADAPTER as PYPI
from automation.ecosystems.pypi.builder import PypiUpstream
from automation.ecosystems.pypi.client import fetch_pypi_project
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
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


@pytest.mark.parametrize(
    ("project", "command", "extra"), [("httpx", "httpx", "cli"), ("python-dotenv", "dotenv", "cli")]
)
def test_live_commands_needing_an_extra(
    http: HttpClient, project: str, command: str, extra: str
) -> None:
    """The extra is found in the live wheel; tsuku's pipx_install takes no extras, so the
    build fails naming it rather than emitting a recipe whose command cannot run."""
    with http:
        package = PYPI.fetch(http, project)
    assert isinstance(package, PypiUpstream)
    assert package.script_extras[command].extras == (extra,)
    failure = PYPI.build(project, package)
    assert isinstance(failure, BuildFailure) and failure.subcategory == "missing_extra"
    assert f"pip install '{project}[{extra}]'" in failure.message


def test_live_black_leaves_out_blackd(http: HttpClient) -> None:
    with http:
        built = PYPI.build("black", PYPI.fetch(http, "black"))
    assert isinstance(built, BuiltRecipe) and built.executables == ("black",)


def test_live_npm_engines_admit_node_26(http: HttpClient) -> None:
    with http:
        built = NPM.build("ng", NPM.fetch(http, "@angular/cli"))
    assert isinstance(built, BuiltRecipe), built
