"""A registry path built from an untrusted name can never leave recipes/."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.core.errors import UnsafeNameError
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name, recipe_name_for


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "..",
        "a/../../b",
        "/abs",
        "a\x00b",
        "Ripgrep",  # uppercase: recipe names are lowercase
        "rіpgrep",  # Cyrillic i
        "a b",
        'x"\n[metadata]',  # TOML injection attempt
        "",
        "-leading-dash",
        "a\\b",
        "a..b",
        "x" * 200,
    ],
)
def test_unsafe_names_are_rejected(name: str) -> None:
    with pytest.raises(UnsafeNameError):
        check_recipe_name(name)


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


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("@angular/cli", "angular-cli"),
        ("httpie", "httpie"),
        ("Black", "black"),
        ("json_tool", "json_tool"),
        ("github.com/go-task/task/v3/cmd/task", "task"),
    ],
)
def test_recipe_name_for_identifiers(identifier: str, expected: str) -> None:
    assert recipe_name_for(identifier) == expected


def test_recipe_name_for_rejects_traversal() -> None:
    with pytest.raises(UnsafeNameError):
        recipe_name_for("..")


def test_recipe_files_ignore_discovery_tree(tmp_path: Path) -> None:
    (tmp_path / "recipes" / "a").mkdir(parents=True)
    (tmp_path / "recipes" / "a" / "act.toml").write_text("")
    (tmp_path / "recipes" / "discovery" / "a").mkdir(parents=True)
    (tmp_path / "recipes" / "discovery" / "x.toml").write_text("")
    assert RegistryLayout.at(tmp_path).recipe_files() == [tmp_path / "recipes" / "a" / "act.toml"]
