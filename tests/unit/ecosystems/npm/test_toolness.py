"""npm's tool signals on saved ``/<name>/latest`` documents (``tests/fixtures/npm/latest``)."""

from __future__ import annotations

import json

import pytest

from automation.core.names import recipe_name_for
from automation.ecosystems.npm.client import parse_latest_manifest
from automation.ecosystems.npm.toolness import manifest_signals, npm_verdict
from tests.support.fake_upstream import FIXTURES

TOOLS = ("eslint", "pnpm", "typescript", "prettier", "yarn", "@angular/cli")
LIBRARIES = ("semver", "uuid", "mkdirp")


def verdict_for(name: str):  # type: ignore[no-untyped-def]
    path = FIXTURES / "npm" / "latest" / f"{name.replace('/', '__')}.json"
    latest = parse_latest_manifest(json.loads(path.read_text()), name)
    return npm_verdict(name, recipe_name_for(name), latest.bin, latest.manifest)


@pytest.mark.parametrize("name", TOOLS)
def test_tools_people_install_are_tools(name: str) -> None:
    assert verdict_for(name).is_tool, verdict_for(name).explain()


@pytest.mark.parametrize("name", LIBRARIES)
def test_libraries_with_a_same_named_command_are_not(name: str) -> None:
    verdict = verdict_for(name)
    assert verdict.outcome == "library_script", verdict.explain()
    assert verdict.main_executable == name  # named like it, and still a library


def test_prefer_global_and_bin_only_packages() -> None:
    assert [s.label() for s in manifest_signals({"bin": "x.js", "preferGlobal": True})] == [
        "preferGlobal+2",
        "bin_only_package+1",
    ]
    assert manifest_signals({"bin": "x.js", "main": "index.js"}) == []


def test_typescript_is_a_tool_by_its_keywords_though_tsc_is_not_named_like_it() -> None:
    verdict = verdict_for("typescript")
    assert verdict.main_executable == "tsc"
    assert "keywords:compiler+2" in [s.label() for s in verdict.signals]
