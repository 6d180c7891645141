"""npm's tool signals: the latest version's ``bin``, ``preferGlobal``, entry points, ``keywords``
and ``description``.

Weights (``docs/SEEDING.md``): a main ``bin`` named like the package or its recipe +1 only
(npm libraries often ship a same-named command: ``semver``, ``uuid``, ``mkdirp``);
``preferGlobal: true`` +2 (the author asks for a global install, which is what a tool is); a
package that is nothing but its commands (no ``main``, ``exports``, ``types``) +1; the
description's and the keywords' wording as ``automation.ecosystems.toolness.wording_signals``
reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from automation.ecosystems.toolness import Signal, ToolVerdict, judge, wording_signals

NAMED_WEIGHT = 1
LIBRARY_ENTRY_KEYS = ("main", "exports", "types", "typings", "module")


def manifest_signals(manifest: Mapping[str, Any]) -> list[Signal]:
    """Signals from one version's manifest (``/<name>/latest`` or ``versions[latest]``)."""
    out: list[Signal] = []
    if manifest.get("preferGlobal") is True:
        out.append(Signal("preferGlobal", 2))
    if manifest.get("bin") and not any(manifest.get(key) for key in LIBRARY_ENTRY_KEYS):
        out.append(Signal("bin_only_package", 1))
    description = manifest.get("description")
    if isinstance(description, str):
        out.extend(wording_signals(description, "description"))
    keywords = manifest.get("keywords")
    if isinstance(keywords, list):
        words = " ".join(k for k in keywords if isinstance(k, str))
        out.extend(wording_signals(words, "keywords"))
    return out


def npm_verdict(
    identifier: str, recipe_name: str, executables: Sequence[str], manifest: Mapping[str, Any]
) -> ToolVerdict:
    """Whether an npm package is a tool people install (see the module doc)."""
    return judge(
        identifier,
        recipe_name,
        executables,
        manifest_signals(manifest),
        named_weight=NAMED_WEIGHT,
    )
