"""Recipe rendering: the direct layout for the common shape gives the bytes of the document path
(values still escaped by tomlkit), https homepages, the verify executable choice."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.ecosystems import recipe as builders
from automation.ecosystems.recipe import (
    choose_homepage,
    render_recipe,
    verify_executable_for,
)


def document_path(**kwargs: Any) -> str:
    """render_recipe with the direct layout switched off: the tomlkit document path."""
    saved = builders._render_common
    builders._render_common = lambda *a, **k: None  # type: ignore[assignment]
    try:
        return render_recipe(**kwargs)
    finally:
        builders._render_common = saved


TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=25)


KEYS = st.sampled_from(["action", "package", "executables", "crate", "x-y", "a_b", "two words"])


VALUES = st.one_of(TEXT, st.lists(TEXT, max_size=4), st.booleans(), st.integers())


@settings(max_examples=400)
@given(
    description=TEXT,
    homepage=TEXT,
    steps=st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=3),
    verify_command=st.one_of(st.none(), TEXT),
    verify_pattern=TEXT,
    dependencies=st.lists(TEXT, max_size=3),
)
def test_direct_layout_gives_the_document_bytes(**kwargs: Any) -> None:
    kwargs["dependencies"] = tuple(kwargs["dependencies"])
    assert render_recipe(name="tool", **kwargs) == document_path(name="tool", **kwargs)


def test_usual_recipes_take_the_direct_layout() -> None:
    args = ("cowsay", 'Say "moo"\t\\', "https://example.org", [
        {"action": "npm_install", "package": "cowsay", "executables": ["cowsay", "cowthink"]}
    ], "cowsay --version", "", ())  # fmt: skip
    text = builders._render_common(*args)
    assert text is not None
    assert text == document_path(
        name="cowsay",
        description=args[1],
        homepage=args[2],
        steps=args[3],
        verify_command=args[4],
    )


def test_extra_metadata_takes_the_document_path() -> None:
    kwargs: dict[str, Any] = {
        "name": "gh",
        "description": "d",
        "homepage": "https://x.example",
        "steps": [{"action": "github_archive", "repo": "cli/cli"}],
        "verify_command": "gh --version",
        "extra_metadata": {"tier": 2},
    }
    assert "tier = 2" in render_recipe(**kwargs)
    assert render_recipe(**kwargs) == document_path(**kwargs)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("http://insecure.example", "https://ok.example/x"), "https://ok.example/x"),
        (("", "javascript:alert(1)"), "https://pypi.org/project/httpie/"),
        (('https://x.example/"quoted',), "https://pypi.org/project/httpie/"),
    ],
)
def test_homepage_is_always_https(candidates: tuple[str, ...], expected: str) -> None:
    assert choose_homepage(candidates, "https://pypi.org/project/httpie/") == expected


@pytest.mark.parametrize(
    ("identifier", "executables", "expected"),
    [
        ("black", ["black", "blackd"], "black"),
        ("@angular/cli", ["ng"], "ng"),
        ("typescript", ["tsc", "tsserver"], "tsc"),
        ("pre_commit", ["pre-commit"], "pre-commit"),
    ],
)
def test_verify_executable_choice(identifier: str, executables: list[str], expected: str) -> None:
    assert verify_executable_for(identifier, executables) == expected
