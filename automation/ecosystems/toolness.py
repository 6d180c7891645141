"""Tools people install versus libraries that happen to ship a script: seeding's rule.

A seeding candidate that ships executables is scored from what its registry document already
says (no extra request): each ecosystem turns its own fields into :class:`Signal` values
(``automation/ecosystems/<name>/toolness.py``), each with a small integer weight, and
:func:`judge` adds them up. A candidate scoring at least :data:`TOOL_THRESHOLD` is a tool and is
queued; below it, it is a library with a side script (``library_script``), skipped with the
signals that decided it, so the reason is stable and the same document always gets the same
verdict. ``docs/SEEDING.md`` states the rule and its weights.

The shared part here is the wording of a summary or keyword list, which means the same in every
ecosystem: naming the command line (``cli``, ``command-line``, ``terminal``: +2), naming a kind
of tool (``linter``, ``formatter``, ``package manager``, ``bundler``, ...: +2), or describing a
library (``library``, ``implementation``, ``bindings``, ``parser``, ...: -1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from automation.ecosystems.recipe import verify_executable_for

TOOL_THRESHOLD = 2
LIBRARY_SCRIPT = "library_script"  # the seeding skip reason for a candidate below the threshold
NAMED_SIGNAL = "executable_named_like_package"

_CLI_WORDS = re.compile(
    r"(?<![a-z0-9])(cli|command[- ]?line|commandline|terminal|console application|shell tool)"
    r"(?![a-z0-9])"
)
_TOOL_WORDS = re.compile(
    r"(?<![a-z0-9])(linter|lint|formatter|code formatter|package manager|dependency manager|"
    r"build[- ]tool|bundler|compiler|minifier|task runner|test runner|dev[- ]server|"
    r"static site generator|scaffolding|checker|tool)(?![a-z0-9])"
)
_LIBRARY_WORDS = re.compile(
    r"(?<![a-z0-9])(library|implementation|bindings|binding|parser|polyfill|sdk|wrapper|"
    r"client library|api client|utility functions)(?![a-z0-9])"
)


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason a candidate looks like a tool (weight > 0) or a library (weight < 0)."""

    name: str  # stable, e.g. "executable_named_like_package", "classifier:Environment :: Console"
    weight: int

    def label(self) -> str:
        return f"{self.name}{self.weight:+d}"


@dataclass(frozen=True, slots=True)
class ToolVerdict:
    """The sum of a candidate's signals and what it decides."""

    score: int
    signals: tuple[Signal, ...]
    main_executable: str

    @property
    def is_tool(self) -> bool:
        return self.score >= TOOL_THRESHOLD

    @property
    def named(self) -> bool:
        """Whether the main executable is named like the package or its recipe."""
        return any(s.name == NAMED_SIGNAL for s in self.signals)

    def queued(self, unnamed_min_score: int = TOOL_THRESHOLD) -> bool:
        """Whether seeding queues the candidate: a tool, and, when its main executable is not
        named like the package or its recipe, a score of at least ``unnamed_min_score`` (a
        registry's ``[seed] unnamed_min_score``: a command under another name is the mark of a
        library's side script, so it may ask for more evidence)."""
        return self.is_tool and (self.named or self.score >= unnamed_min_score)

    def explain_refusal(self, unnamed_min_score: int = TOOL_THRESHOLD) -> str:
        """:meth:`explain`, and the unnamed rule when that is what kept a tool out."""
        if self.is_tool and not self.queued(unnamed_min_score):
            return (
                f"{self.explain()}; main executable {self.main_executable!r} is not named like "
                f"the package: needs {unnamed_min_score} ([seed] unnamed_min_score)"
            )
        return self.explain()

    @property
    def outcome(self) -> str:
        return "tool" if self.is_tool else LIBRARY_SCRIPT

    def explain(self) -> str:
        """``score 3: executable_named_like_package+2, keyword:cli+2, ...`` (report detail)."""
        parts = ", ".join(s.label() for s in self.signals) or "no signal"
        return f"score {self.score} (tool at {TOOL_THRESHOLD}): {parts}"


def normalise(name: str) -> str:
    """Lowercase, scope dropped, runs of ``-``/``_``/``.`` made one ``-``."""
    return re.sub(r"[-_.]+", "-", name.rsplit("/", 1)[-1].lower())


def named_like(executable: str, names: Iterable[str]) -> bool:
    """Whether ``executable`` is named like one of ``names`` (package identifier, recipe name)."""
    wanted = {normalise(n) for n in names if n}
    return normalise(executable) in wanted


def main_executable(identifier: str, executables: Sequence[str]) -> str:
    """The executable a recipe verifies with (``recipe.verify_executable_for``); "" for none."""
    return verify_executable_for(identifier, sorted(executables)) if executables else ""


def main_named_like(identifier: str, recipe_name: str, executables: Sequence[str]) -> bool:
    """Whether the main executable is named like the package or its recipe (what the seeding
    report measures)."""
    main = main_executable(identifier, executables)
    return bool(main) and named_like(main, (identifier, recipe_name))


def wording_signals(text: str, where: str) -> list[Signal]:
    """Signals from free text (a summary, a description, keywords joined); ``where`` prefixes
    each name (``summary``, ``keywords``). At most one signal of each kind."""
    lowered = text.lower()
    out: list[Signal] = []
    cli = _CLI_WORDS.search(lowered)
    if cli:
        out.append(Signal(f"{where}:{cli[1]}", 2))
    tool = _TOOL_WORDS.search(lowered)
    if tool:
        out.append(Signal(f"{where}:{tool[1]}", 2))
    library = _LIBRARY_WORDS.search(lowered)
    if library and not cli and not tool:
        out.append(Signal(f"{where}:{library[1]}", -1))
    return out


def judge(
    identifier: str,
    recipe_name: str,
    executables: Sequence[str],
    signals: Iterable[Signal],
    *,
    named_weight: int,
) -> ToolVerdict:
    """Add ``signals`` and the name signal (``named_weight`` when the main executable is named
    like the package or recipe) into a verdict. Signals of the same name count once."""
    seen: dict[str, Signal] = {}
    if main_named_like(identifier, recipe_name, executables):
        seen[NAMED_SIGNAL] = Signal(NAMED_SIGNAL, named_weight)
    for signal in signals:
        seen.setdefault(signal.name, signal)
    ordered = tuple(seen.values())
    return ToolVerdict(
        sum(s.weight for s in ordered), ordered, main_executable(identifier, executables)
    )
