"""Names from registries are untrusted: check them before they become paths or TOML."""

from __future__ import annotations

import re

from automation.core.errors import UnsafeNameError

# Every recipe in the reference registry matches this; it admits no path separator, no "..",
# no whitespace, no quotes, no control characters and no uppercase or non-ASCII look-alikes.
RECIPE_NAME = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,127}")


def check_recipe_name(name: object) -> str:
    """Return ``name`` if it is a safe registry name, else raise UnsafeNameError."""
    if not isinstance(name, str):
        raise UnsafeNameError(f"name must be a string, got {type(name).__name__}")
    if not RECIPE_NAME.fullmatch(name) or ".." in name:
        raise UnsafeNameError(f"unsafe name {name!r}: expected [a-z0-9][a-z0-9._@+-]*, no '..'")
    return name


def recipe_name_for(identifier: str) -> str:
    """Derive a registry name from an upstream identifier, lowercased.

    ``@scope/pkg`` -> ``scope-pkg`` (an npm scope is part of the identity: ``@angular/cli`` is not
    ``cli``); a path such as a Go module keeps its last element. GitHub repositories are named
    by ``automation.ecosystems.github.adapter.recipe_name`` first: a curated entry carries the
    tool's name
    (``cli/cli`` is ``gh``, not ``cli``), and only repositories not listed fall back to this.
    """
    text = identifier.strip().lower()
    if text.startswith("@") and text.count("/") == 1:
        base = text[1:].replace("/", "-")
    else:
        base = text.rsplit("/", 1)[-1]
    base = re.sub(r"[^a-z0-9._@+-]", "-", base).strip("-.").lstrip("@")
    return check_recipe_name(base)
