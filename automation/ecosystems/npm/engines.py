"""``engines.node``: the Node.js versions a package declares it runs on, against tsuku's Node.

tsuku runs npm tools on the Node.js its nodejs recipe installs (``FACTS.runtime``: the latest LTS,
26.12.1 when this was written). npm reads ``engines.node`` as a semver range and compares the
running Node with ``semver.satisfies(node, range, {includePrerelease: true})``
(npm-install-checks); the ranges are parsed here by ``node-semver``, a port of npm's own
``semver`` package (same grammar: ``>=``, ``^``, ``~``, ``||``, x-ranges, hyphen ranges).

A range npm's grammar cannot parse (``"node >= 18"``, ``">= 18 && < 20"``) is read as no
constraint: npm itself does not refuse to install on it (without ``engine-strict`` it only warns),
so it is no evidence that the runtime is excluded. Ranges longer than ``MAX_RANGE`` characters
are treated the same way (npm caps version strings at 256 characters too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import nodesemver

MAX_RANGE = 256
FINAL = re.compile(r"\d+\.\d+\.\d+")


def engines_node(manifest: Mapping[str, Any]) -> str | None:
    """The ``engines.node`` string of a version manifest, or None (absent, or not a string:
    the legacy array form of ``engines`` names no Node range npm checks)."""
    engines = manifest.get("engines")
    if not isinstance(engines, Mapping):
        return None
    node = engines.get("node")
    return node if isinstance(node, str) else None


def node_admits(node_range: str, version: str) -> bool | None:
    """Whether the final release ``version`` satisfies ``node_range`` as npm reads it; None when
    the range is not one npm's grammar can parse (or is implausibly long).

    npm passes ``includePrerelease``, which changes nothing for a final release; the port's
    ``include_prerelease`` ignores pre-release tags altogether (it would let 26.0.0-rc.1 satisfy
    ``>=26.0.0``), so it is left off, and a pre-release ``version`` is refused.
    """
    if not FINAL.fullmatch(version):
        raise ValueError(f"Node.js version {version!r} is not a final release (x.y.z)")
    if len(node_range) > MAX_RANGE:
        return None
    try:
        parsed = nodesemver.make_range(node_range, loose=False)
    except ValueError:
        return None
    return bool(parsed.test(version))


def runtime_conflict(node_range: str | None, version: str) -> str:
    """Why ``node_range`` excludes Node ``version`` (one line), or "" when it admits it or
    says nothing npm can read."""
    if node_range is None or node_admits(node_range, version) is not False:
        return ""
    return f"engines.node {node_range.strip()!r} excludes Node.js {version}"
