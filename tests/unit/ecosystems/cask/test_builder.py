"""Cask recipes built here against the reference registry's own cask recipe
(recipes/i/iterm2.toml): the templates and their placeholder syntax."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from automation.core.http import HttpClient
from automation.ecosystems.cask import adapter
from automation.ecosystems.cask import client as source
from automation.ecosystems.cask.builder import build_cask
from automation.ecosystems.cask.client import parse_cask
from automation.ecosystems.homebrew.client import TapNameError
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.recipes import (
    check_recipe_text,
    load_recipe_text,
    recipe_from_document,
    recipe_source,
)
from tests.support.fake_upstream import FIXTURES, FakeUpstream


def test_tap_cask_refused_before_any_request(upstream: FakeUpstream, http: HttpClient) -> None:
    result = build_cask("x", adapter.fetch(http, "homebrew/cask-versions/firefox-nightly"))
    assert isinstance(result, BuildFailure) and result.subcategory == "tap_name"
    assert upstream.log == []
    with pytest.raises(TapNameError):
        source.cask_path("user/tap/x")


PLACEHOLDER = re.compile(r"\{+[a-z_.]+\}+")


def built(token: str, name: str = "") -> BuiltRecipe:
    document = json.loads((FIXTURES / "cask" / f"{token}.json").read_text())
    result = build_cask(name or token, parse_cask(document))
    assert isinstance(result, BuiltRecipe), result
    problems = check_recipe_text(result.text, rel=f"recipes/{result.name[0]}/{result.name}.toml")
    assert [p for p in problems if p.severity == "error"] == []
    return result


@pytest.mark.parametrize(("token", "name"), [("iterm2", ""), ("firefox", "firefox-browser")])
def test_recipe_source_of_built_cask_recipes(token: str, name: str) -> None:
    result = built(token, name)
    recipe = recipe_from_document(load_recipe_text(result.text, path="t.toml"))
    assert recipe_source(recipe) == result.source == f"cask:{token}"


def _step(text: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = tomllib.loads(text)["steps"]
    assert len(steps) == 1
    return steps[0]


def test_built_templates_match_the_reference_recipe(reference_dir: Path) -> None:
    reference = _step((reference_dir / "recipes/i/iterm2.toml").read_text(encoding="utf-8"))
    ours = _step(built("iterm2").text)
    assert reference["url"] == "{version.url}" and reference["checksum"] == "{version.checksum}"
    for key in ("action", "url", "checksum", "app_name"):
        assert ours[key] == reference[key], key


def test_no_double_brace_placeholder_is_written() -> None:
    # The reference registry writes single-brace placeholders only ({version}, {version.url},
    # {install_dir}); "{{version}}" is not a placeholder there.
    for token, name in (("iterm2", ""), ("visual-studio-code", ""), ("docker", "docker-app")):
        text = built(token, name).text
        assert "{{" not in text and "}}" not in text
        for placeholder in PLACEHOLDER.findall(text):
            assert placeholder in ("{version}", "{version.url}", "{version.checksum}"), placeholder
    verify = tomllib.loads(built("iterm2").text)["verify"]
    assert verify["command"] == 'test -d "$TSUKU_HOME/apps/iterm2-{version}.app"'


def test_reference_recipes_use_single_brace_placeholders(reference_dir: Path) -> None:
    for path in sorted((reference_dir / "recipes").glob("*/*.toml")):
        assert "{{version" not in path.read_text(encoding="utf-8"), path
