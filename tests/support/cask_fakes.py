"""Cask documents from the saved fixtures and the fetch-and-build path the cask tests share."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from automation.core.http import HttpClient
from automation.ecosystems import adapters
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.recipes import check_recipe_text
from tests.support.fake_upstream import FIXTURES, FakeUpstream

CASK = FIXTURES / "cask"


def cask_doc(token: str) -> dict[str, Any]:
    """A saved cask document from the fixtures."""
    result: dict[str, Any] = json.loads((CASK / f"{token}.json").read_text())
    return result


def build(
    upstream: FakeUpstream, http: HttpClient, document: dict[str, Any], name: str = ""
) -> BuiltRecipe | BuildFailure:
    """Serve ``document`` and build its recipe through the cask adapter."""
    token = document["token"]
    upstream.json(f"/api/cask/{token}.json", document)
    return adapters()["cask"].build(name or token, adapters()["cask"].fetch(http, token))


def toml(result: BuiltRecipe | BuildFailure) -> dict[str, Any]:
    """The built recipe's TOML, after checking it has no error."""
    assert isinstance(result, BuiltRecipe), result
    problems = check_recipe_text(result.text, rel=f"recipes/{result.name[0]}/{result.name}.toml")
    assert [p for p in problems if p.severity == "error"] == []
    return tomllib.loads(result.text)
