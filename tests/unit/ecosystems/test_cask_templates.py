"""Cask recipes against the reference registry's own cask recipe (recipes/i/iterm2.toml): the
queue source of ``app_bundle`` recipes, and the placeholder syntax of the templates."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from automation.ecosystems.cask.builder import build_cask
from automation.ecosystems.cask.client import parse_cask
from automation.ecosystems.recipe import BuiltRecipe
from automation.registry.recipes import (
    check_recipe_text,
    load_recipe_model,
    load_recipe_text,
    recipe_from_document,
    recipe_identities,
    recipe_source,
)
from tests.support.fake_upstream import FIXTURES

PLACEHOLDER = re.compile(r"\{+[a-z_.]+\}+")


def built(token: str, name: str = "") -> BuiltRecipe:
    document = json.loads((FIXTURES / "cask" / f"{token}.json").read_text())
    result = build_cask(name or token, parse_cask(document))
    assert isinstance(result, BuiltRecipe), result
    problems = check_recipe_text(result.text, rel=f"recipes/{result.name[0]}/{result.name}.toml")
    assert [p for p in problems if p.severity == "error"] == []
    return result


def reference_app_bundle_recipes(reference_dir: Path) -> list[Path]:
    found = [
        path
        for path in sorted((reference_dir / "recipes").glob("*/*.toml"))
        if any(
            step.get("action") == "app_bundle"
            for step in tomllib.loads(path.read_text(encoding="utf-8")).get("steps", [])
        )
    ]
    assert found, "the reference registry has app_bundle recipes (recipes/i/iterm2.toml)"
    return found


# ------------------------------------------------------------------ recipe_source


def test_recipe_source_of_reference_cask_recipes(reference_dir: Path) -> None:
    iterm2 = load_recipe_model(reference_dir / "recipes/i/iterm2.toml")
    assert recipe_source(iterm2) == "cask:iterm2"
    assert "iterm2" in recipe_identities(iterm2)
    for path in reference_app_bundle_recipes(reference_dir):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        # the step names no package: the cask is the cask version provider's [version] cask
        assert recipe_source(load_recipe_model(path)) == f"cask:{document['version']['cask']}"


@pytest.mark.parametrize(("token", "name"), [("iterm2", ""), ("firefox", "firefox-browser")])
def test_recipe_source_of_built_cask_recipes(token: str, name: str) -> None:
    result = built(token, name)
    recipe = recipe_from_document(load_recipe_text(result.text, path="t.toml"))
    assert recipe_source(recipe) == result.source == f"cask:{token}"


def test_app_bundle_without_a_cask_has_no_source() -> None:
    text = (
        '[metadata]\nname = "t"\ndescription = "d"\nhomepage = "https://t"\n'
        '[[steps]]\naction = "app_bundle"\nurl = "https://x/T.zip"\nchecksum = "sha256:00"\n'
        'app_name = "T.app"\n'
    )
    recipe = recipe_from_document(load_recipe_text(text, path="t.toml"))
    assert recipe_source(recipe) is None


# ------------------------------------------------------------------ template syntax


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
