"""Cask builder: a parsed cask in, an ``app_bundle`` recipe out (pure).

The recipe downloads through the cask version provider (``[version] source = "cask"``): the step
says ``url = "{version.url}"`` and ``checksum = "{version.checksum}"``, so a cask without a real
sha256 (``no_check``) is refused: the kit never writes a recipe whose download is unchecked.
Placeholders take single braces, as in every reference recipe (``{version}``, ``{install_dir}``,
recipes/i/iterm2.toml's ``{version.url}``); tsuku's own cask builder wrote ``{{version.url}}``,
which no hand-written recipe uses.
Only ``app`` and ``binary`` artifacts are installable; ``pkg`` installers and other artifact types
fail ``unsupported_artifact``. Binaries are paths inside the bundle; verify runs the first one's
``--version``, or checks that the bundle was installed when there is none.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from automation.core.errors import UnsafeNameError
from automation.core.names import check_recipe_name
from automation.ecosystems.cask.client import Cask, app_bundle_name, relative_binaries
from automation.ecosystems.homebrew.builder import NotedRecipe, render_document
from automation.ecosystems.recipe import (
    BuildFailure,
    BuiltRecipe,
    choose_homepage,
    clean_description,
)

# Filled in by the cask version provider at install time (single braces: the recipe syntax).
VERSION = "{version}"
VERSION_URL = "{version.url}"
VERSION_CHECKSUM = "{version.checksum}"
APP_VERIFY_REASON = (
    "macOS applications do not have version flags; verification checks that the .app bundle "
    "was installed"
)


@dataclass(frozen=True, slots=True)
class CaskRefusal:
    """The adapter refused before fetching (tap-qualified token)."""

    identifier: str
    subcategory: str
    message: str


def _failure(subcategory: str, message: str, version: str = "") -> BuildFailure:
    return BuildFailure("generation_failed", subcategory, message, version=version)


def build_cask(name: str, cask: Cask | CaskRefusal) -> BuiltRecipe | BuildFailure:
    """Build the ``app_bundle`` recipe for ``cask`` under registry name ``name``."""
    if isinstance(cask, CaskRefusal):
        return _failure(cask.subcategory, cask.message)
    try:
        check_recipe_name(name)
    except UnsafeNameError as exc:
        return _failure("unsafe_name", str(exc), cask.version)
    where = f"cask:{cask.token} {cask.version}"
    if not cask.has_checksum:
        shown = cask.sha256 or "(none)"
        return _failure(
            "no_checksum",
            f"{where} has no usable sha256 ({shown}); an unverified download is never written",
            cask.version,
        )
    artifacts = cask.artifacts
    if artifacts.unsupported:
        return _failure(
            "unsupported_artifact",
            f"{where} uses artifacts app_bundle cannot install: {', '.join(artifacts.unsupported)}"
            " (only app and binary are supported)",
            cask.version,
        )
    if not artifacts.apps:
        detail = "binary artifacts only" if artifacts.binaries else "no app or binary artifact"
        return _failure(
            "unsupported_artifact",
            f"{where} has no .app bundle ({detail}); app_bundle installs a bundle",
            cask.version,
        )
    app_name = app_bundle_name(artifacts.apps[0])
    if app_name is None:
        return _failure("unsafe_name", f"{where}: unusable app name {artifacts.apps[0]!r}")
    binaries, outside = relative_binaries(artifacts.binaries, app_name)
    notes = [f"binary outside {app_name} left out: {path}" for path in outside]
    if len(artifacts.apps) > 1:
        notes.append(f"only the first app is installed; also listed: {artifacts.apps[1:]}")
    step: dict[str, object] = {
        "action": "app_bundle",
        "url": VERSION_URL,
        "checksum": VERSION_CHECKSUM,
        "app_name": app_name,
    }
    if binaries:
        step["binaries"] = binaries
    step["symlink_applications"] = True
    executables = tuple(sorted({posixpath.basename(b) for b in binaries}))
    if binaries:
        verify_exe = posixpath.basename(binaries[0])
        verify = {"command": f"{verify_exe} --version", "pattern": ""}
    else:
        verify_exe = ""
        verify = {
            "command": f'test -d "$TSUKU_HOME/apps/{name}-{VERSION}.app"',
            "pattern": "",
            "reason": APP_VERIFY_REASON,
        }
    fallback = cask.names[0] if cask.names else f"{cask.token} (Homebrew cask)"
    text = render_document(
        metadata={
            "name": name,
            "description": clean_description(cask.description, fallback),
            "homepage": choose_homepage(
                (cask.homepage,), f"https://formulae.brew.sh/cask/{cask.token}"
            ),
            "supported_os": ["darwin"],
        },
        satisfies={"cask": [cask.token]} if name != cask.token else None,
        version={"source": "cask", "cask": cask.token},
        steps=[step],
        verify=verify,
    )
    return NotedRecipe(
        name=name,
        source=f"cask:{cask.token}",
        text=text,
        executables=executables,
        verify_executable=verify_exe,
        version=cask.version,
        notes=tuple(notes),
    )
