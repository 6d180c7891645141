"""PyPI's tool signals: trove classifiers, ``keywords`` and ``summary`` of the project document.

Weights (``docs/SEEDING.md``): a main console script named like the project or its recipe +2
(a Python library rarely ships a command under its own name); ``Environment :: Console`` +2;
one of the command-line topics (:data:`TOOL_TOPICS`) +1; a
``Topic :: Software Development :: Libraries`` classifier -1; the summary's and the keywords'
wording as ``automation.ecosystems.toolness.wording_signals`` reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

from automation.ecosystems.toolness import Signal, ToolVerdict, judge, wording_signals

NAMED_WEIGHT = 2
CONSOLE = "Environment :: Console"
TOOL_TOPICS = (
    "Topic :: Utilities",
    "Topic :: Software Development :: Build Tools",
    "Topic :: Software Development :: Quality Assurance",
    "Topic :: Terminals",
    "Topic :: System :: Shells",
)
LIBRARIES = "Topic :: Software Development :: Libraries"


def classifier_signals(classifiers: Sequence[str]) -> list[Signal]:
    """Signals from trove classifiers (each kind once)."""
    out: list[Signal] = []
    present = {c.strip() for c in classifiers}
    if any(c == CONSOLE or c.startswith(CONSOLE + " ::") for c in present):
        out.append(Signal(f"classifier:{CONSOLE}", 2))
    topic = next((t for t in TOOL_TOPICS if t in present), None)
    if topic is not None:
        out.append(Signal(f"classifier:{topic}", 1))
    if any(c == LIBRARIES or c.startswith(LIBRARIES + " ::") for c in present):
        out.append(Signal(f"classifier:{LIBRARIES}", -1))
    return out


def pypi_verdict(
    identifier: str,
    recipe_name: str,
    executables: Sequence[str],
    *,
    classifiers: Sequence[str],
    keywords: str,
    summary: str,
) -> ToolVerdict:
    """Whether a PyPI project is a tool people install (see the module doc)."""
    signals = [
        *classifier_signals(classifiers),
        *wording_signals(summary, "summary"),
        *wording_signals(keywords.replace(",", " "), "keywords"),
    ]
    return judge(identifier, recipe_name, executables, signals, named_weight=NAMED_WEIGHT)
