"""A registry path built from an untrusted name can never leave recipes/."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.core.errors import UnsafeNameError
from automation.core.layout import RegistryLayout


@pytest.mark.parametrize(
    "name", ["ripgrep", "python@3.12", "g++", "7zip", "node.js", "tree-sitter"]
)
def test_real_names_are_accepted(tmp_path: Path, name: str) -> None:
    layout = RegistryLayout.at(tmp_path)
    assert layout.recipe_path(name) == tmp_path / "recipes" / name[0] / f"{name}.toml"


@given(st.text(max_size=80))
def test_recipe_path_never_escapes(name: str) -> None:
    layout = RegistryLayout.at("/registry")
    try:
        path = layout.recipe_path(name)
    except UnsafeNameError:
        return
    assert path.parent.parent == Path("/registry/recipes")
    assert path.name == f"{name}.toml"


def test_recipe_files_ignore_discovery_tree(tmp_path: Path) -> None:
    (tmp_path / "recipes" / "a").mkdir(parents=True)
    (tmp_path / "recipes" / "a" / "act.toml").write_text("")
    (tmp_path / "recipes" / "discovery" / "a").mkdir(parents=True)
    (tmp_path / "recipes" / "discovery" / "x.toml").write_text("")
    assert RegistryLayout.at(tmp_path).recipe_files() == [tmp_path / "recipes" / "a" / "act.toml"]
