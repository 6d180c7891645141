"""Which system libraries to add first (``invoke backfill-report``); design #1191, never written.

Candidates are the missing dependencies of the gap analysis, ranked by the popularity-weighted
number of distinct packages they unblock (directly or transitively). Each is classified:

* ``runtime``: a language runtime or compiler (``python@3.14``, ``node``, ``openjdk``, ``ghc@9.12``
  ...), not a system library; listed apart, since it is a different kind of work;
* ``library``: the dep mapping points it at a library recipe, or Homebrew naming says so
  (``lib*``, ``*-c``/``*_c``/``*-cpp`` bindings, versioned ``name@N`` formulae other than runtimes);
* ``unclassified``: anything else; ranked with the libraries (most Homebrew dependencies are).

Existing ``type = "library"`` recipes that already satisfy a recorded blocker are listed as
"backfilled, requeue": their dependants only need a requeue.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core.ecosystem_facts import all_facts
from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.learn import blockers as bl
from automation.learn.gaps import analyse, load_inputs

# Runtimes of languages without an ecosystem package here; the ecosystems declare their own.
_OTHER_RUNTIMES = (
    "openjdk|java|ghc|deno|php|lua|luajit|erlang|elixir|dotnet|julia|ocaml|r|swift|zig"
)


@functools.cache
def _runtime_pattern(declared: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join([*(re.escape(n) for n in declared), _OTHER_RUNTIMES])
    return re.compile(rf"^({names})(@[0-9.]+)?$")


def _is_runtime(name: str) -> bool:
    return bool(_runtime_pattern(tuple(r for f in all_facts() for r in f.runtimes)).match(name))


def _dependency_label() -> str:
    """How evidence names the ecosystem missing dependency names come from."""
    return next((f.label for f in all_facts() if f.default_dependency), "upstream")


_LIB_SUFFIX = re.compile(r"(-c|_c|-cpp|\+\+)$")
_VERSIONED = re.compile(r"^[a-z0-9+._-]+@[0-9.]+$")


def classify(name: str, identities: bl.IdentityIndex) -> tuple[str, str]:
    """(kind, evidence) for a missing dependency name."""
    lowered = name.lower()
    if _is_runtime(lowered):
        return "runtime", "language runtime name"
    mapped = identities.mapped(lowered)
    if mapped:
        for recipe in identities.recipes:
            if recipe.name == mapped and recipe.kind == "library":
                return "library", f"dep-mapping -> library recipe {mapped}"
    if lowered.startswith("lib"):
        return "library", f"{_dependency_label()} name lib*"
    if _LIB_SUFFIX.search(lowered):
        return "library", "binding-style suffix"
    if _VERSIONED.match(lowered):
        return "library", f"versioned {_dependency_label()} formula"
    return "unclassified", ""


@dataclass(frozen=True, slots=True)
class Candidate:
    blocker: bl.Blocker
    kind: str
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {
            **self.blocker.to_json(),
            "kind": self.kind,
            "evidence": self.evidence,
            "action": self.action,
        }

    @property
    def action(self) -> str:
        if self.blocker.queue_entry is None:
            return "add a recipe (no queue entry yet)"
        return f"queue entry {self.blocker.queue_entry} is {self.blocker.queue_status}"


@dataclass(frozen=True)
class BackfillReport:
    top: int
    candidates: tuple[Candidate, ...]  # libraries and unclassified, ranked
    runtimes: tuple[Candidate, ...]
    backfilled: tuple[bl.SatisfiedDependency, ...]
    weights_source: str

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": self.weights_source,
            "libraries": [c.to_json() for c in self.candidates[: self.top]],
            "runtimes": [c.to_json() for c in self.runtimes],
            "backfilled_requeue": [s.to_json() for s in self.backfilled],
        }

    def to_text(self) -> str:
        lines = [
            f"# Library backfill: the first {min(self.top, len(self.candidates))} "
            f"(weights: {self.weights_source})",
            "",
            "| # | dependency | kind | unblocks (direct/transitive) | weighted | unblocks first |"
            " next step |",
            "|---|---|---|---|---|---|---|",
        ]
        for i, c in enumerate(self.candidates[: self.top], start=1):
            b = c.blocker
            lines.append(
                f"| {i} | {b.key} | {c.kind} | {len(b.direct)}/{len(b.transitive)} | "
                f"{b.weighted:.1f} | {', '.join(b.top)} | {c.action} |"
            )
        if self.runtimes:
            lines += ["", "## Runtimes (not libraries, listed apart)", ""]
            for c in self.runtimes:
                b = c.blocker
                lines.append(
                    f"- {b.key}: {len(b.transitive)} packages, weighted {b.weighted:.1f} "
                    f"({', '.join(b.top)})"
                )
        if self.backfilled:
            lines += ["", "## Already backfilled: requeue their dependants", ""]
            for s in self.backfilled:
                lines.append(f"- {s.recipe} satisfies {s.dependency}: {', '.join(s.blocked)}")
        return "\n".join(lines)


def backfill_report(
    root: str | Path, *, top: int = 20, index_path: Path | str | None = "default"
) -> BackfillReport:
    """Rank missing libraries by the weighted distinct packages they would unblock."""
    if top < 1:
        raise UsageError("--top must be at least 1")
    inputs = load_inputs(RegistryLayout.at(root), index_path=index_path)
    _, analysis = analyse(inputs)
    candidates: list[Candidate] = []
    runtimes: list[Candidate] = []
    for blocker in analysis.blockers:
        name = blocker.key.split(":", 1)[-1]
        kind, evidence = classify(name, inputs.identities)
        item = Candidate(blocker, kind, evidence)
        (runtimes if kind == "runtime" else candidates).append(item)
    libraries = {r.name for r in inputs.identities.recipes if r.kind == "library"}
    backfilled = tuple(s for s in analysis.satisfied if s.recipe in libraries)
    return BackfillReport(
        top, tuple(candidates), tuple(runtimes), backfilled, analysis.weights_source
    )
