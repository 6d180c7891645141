"""What the kit-versus-tsuku comparison tests share: the recipes and the real binary.

The recipes: the smoke recipes of ``containers/smoke/`` (a PyPI and an npm tool that install
everywhere) and, per ecosystem, a recipe for a package that does not exist (both installers must
fail it the same way). The binary: ``TSUKU_BIN`` (``make fetch-tsuku`` on hosted CI fetches the
pinned release); without it the tests skip and say so.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from automation.containers.tsuku import TsukuBinary, resolve_tsuku
from automation.containers.validate import SMOKE_RECIPES_DIR

# A name no registry will ever publish (checked against PyPI and npm when the test was written).
MISSING_PACKAGE = "registry-automation-no-such-package-7c41d2"
MISSING_RECIPES = {
    "missing-pypi": ("pipx_install", "missing"),
    "missing-npm": ("npm_install", "missing"),
}


def real_tsuku() -> TsukuBinary:
    """The binary ``TSUKU_BIN`` names, checked (a broken one fails the test); skip without one."""
    if not os.environ.get("TSUKU_BIN"):
        pytest.skip(
            "TSUKU_BIN is not set: the kit/tsuku comparison needs a real tsuku binary "
            "(`make fetch-tsuku` on hosted CI, or a release from "
            "github.com/tsukumogami/tsuku/releases)"
        )
    return resolve_tsuku(None)


def compared_recipes(folder: Path) -> list[Path]:
    """The smoke recipes, and one recipe per ecosystem for a package that does not exist."""
    paths = sorted(SMOKE_RECIPES_DIR.glob("*.toml"))
    folder.mkdir(parents=True, exist_ok=True)
    for name, (action, executable) in MISSING_RECIPES.items():
        path = folder / f"{name}.toml"
        path.write_text(
            f'[metadata]\nname = "{name}"\n\n[[steps]]\naction = "{action}"\n'
            f'package = "{MISSING_PACKAGE}"\nexecutables = ["{executable}"]\n\n'
            f'[verify]\ncommand = "{executable} --version"\npattern = "{{version}}"\n'
        )
        paths.append(path)
    return paths


def verdict(status: str, category: str | None) -> tuple[str, str | None]:
    """What must agree between the installers: the status, and on a failure its category (the
    subcategory may say more on one side: tsuku's messages are its own)."""
    return status, category if status == "fail" else None
