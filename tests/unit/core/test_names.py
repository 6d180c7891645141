"""Recipe names: unsafe names are refused, identifiers map to safe recipe names."""

from __future__ import annotations

import pytest

from automation.core.errors import UnsafeNameError
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
