"""Recipe rendering: the direct layout for the common shape gives the bytes of the document path
(values still escaped by tomlkit), https homepages, the verify executable choice."""

from __future__ import annotations

from pathlib import Path
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


def _metadata_keys(text: str) -> list[str]:
    """The [metadata] keys in file order."""
    import tomllib

    return list(tomllib.loads(text)["metadata"])


COMMON: dict[str, Any] = {
    "name": "cowsay",
    "description": "Say moo",
    "homepage": "https://example.org",
    "steps": [{"action": "npm_install", "package": "cowsay", "executables": ["cowsay"]}],
    "verify_command": "cowsay --version",
    "dependencies": ("nodejs",),
}


def test_both_render_paths_mark_the_recipe_generated_where_tsuku_does() -> None:
    """``llm_validation = "skipped"`` right after the header keys, before the dependencies, on
    the direct layout and on the tomlkit document path alike."""
    direct = builders._render_common(
        COMMON["name"],
        COMMON["description"],
        COMMON["homepage"],
        COMMON["steps"],
        COMMON["verify_command"],
        "",
        COMMON["dependencies"],
    )
    assert direct is not None  # the common shape really takes the direct layout
    document = document_path(**COMMON)
    expected = ["name", "description", "homepage", "llm_validation", "dependencies"]
    for text in (direct, document, render_recipe(**COMMON)):
        assert _metadata_keys(text) == expected
        assert '\nllm_validation = "skipped"\n' in text


def test_extra_metadata_keeps_the_mark_after_tier_and_type_and_before_constraints() -> None:
    kwargs = {
        **COMMON,
        "extra_metadata": {"unsupported_platforms": ["darwin/arm64"], "tier": 2, "type": "tool"},
    }
    assert _metadata_keys(render_recipe(**kwargs)) == [
        "name",
        "description",
        "homepage",
        "tier",
        "type",
        "llm_validation",
        "dependencies",
        "unsupported_platforms",
    ]


HEADER_KEYS = {"name", "description", "homepage", "version_format", "requires_sudo", "tier", "type"}


def test_the_mark_goes_where_every_reference_recipe_has_it(reference_dir: Path) -> None:
    """For each reference recipe tsuku generated, taking the mark out and putting it back with
    ``generated_metadata`` gives the mark's place in the file: right after ``type``."""
    import tomllib

    checked = 0
    for path in sorted((reference_dir / "recipes").glob("*/*.toml")):
        metadata = tomllib.loads(path.read_text(encoding="utf-8"))["metadata"]
        if "llm_validation" not in metadata:
            continue
        keys = list(metadata)
        assert keys[keys.index("llm_validation") - 1] == "type", path.name  # tsuku's place
        without = {k: v for k, v in metadata.items() if k != "llm_validation"}
        placed = list(builders.generated_metadata(without))
        assert placed[placed.index("llm_validation") - 1] == "type", path.name
        # Only header keys before the mark (as in most reference files: dependencies and
        # platform constraints after it).
        assert set(placed[: placed.index("llm_validation")]) <= HEADER_KEYS, path.name
        assert builders.generated_metadata(without)["llm_validation"] == "skipped"
        checked += 1
    assert checked > 1000  # 1,124 in the reference
