"""What seeding's tool rule does to the first candidates of an ecosystem (``invoke seed-report``).

The first ``top`` candidates of the popularity ranking are looked up (the same look-up seeding
makes, nothing written). *Before* the rule, every candidate that ships an executable is
accepted; *after* it, only those the ecosystem judges tools (``automation.ecosystems.toolness``)
or that ``data/tier1.json`` names (seeding exempts them).
For both the report gives how many are accepted and the share whose main executable (the one a
recipe verifies with) is named like the package or its recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.errors import ExitCode, UsageError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import Lookup, adapter_for, seed_sources
from automation.ecosystems.toolness import TOOL_THRESHOLD, main_executable, main_named_like
from automation.stages.seed import load_tier1, recipe_namer

MAX_TOP = 2000


@dataclass(frozen=True, slots=True)
class Candidate:
    """One looked-up candidate: what the rule saw and decided."""

    rank: int
    identifier: str
    name: str
    executables: tuple[str, ...]
    tool_score: int | None  # None: the ecosystem does not judge (or the look-up failed)
    is_tool: bool
    signals: tuple[str, ...] = ()
    error: str = ""

    @property
    def main(self) -> str:
        return main_executable(self.identifier, self.executables)

    @property
    def named_like(self) -> bool:
        return main_named_like(self.identifier, self.name, self.executables)

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "identifier": self.identifier,
            "name": self.name,
            "executables": list(self.executables),
            "main_executable": self.main,
            "named_like": self.named_like,
            "tool_score": self.tool_score,
            "is_tool": self.is_tool,
            "signals": list(self.signals),
            **({"error": self.error} if self.error else {}),
        }


@dataclass(frozen=True, slots=True)
class Share:
    accepted: int
    named_like: int

    @property
    def ratio(self) -> float:
        return self.named_like / self.accepted if self.accepted else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "named_like": self.named_like,
            "share": round(self.ratio, 4),
        }


def share_of(candidates: Sequence[Candidate]) -> Share:
    return Share(len(candidates), sum(1 for c in candidates if c.named_like))


@dataclass
class SeedRankReport:
    ecosystem: str
    top: int
    candidates: list[Candidate] = field(default_factory=list)
    popularity_source: str = ""
    tier1: frozenset[str] = frozenset()

    @property
    def before(self) -> list[Candidate]:
        """Accepted without the rule: every candidate with an executable."""
        return [c for c in self.candidates if c.executables]

    @property
    def after(self) -> list[Candidate]:
        """Accepted with the rule: candidates with an executable judged tools."""
        return [c for c in self.before if c.is_tool or c.name in self.tier1]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if any(c.error for c in self.candidates) else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        after = {c.identifier for c in self.after}
        return {
            "ecosystem": self.ecosystem,
            "top": self.top,
            "popularity_source": self.popularity_source,
            "looked_up": len(self.candidates),
            "errors": sum(1 for c in self.candidates if c.error),
            "before": share_of(self.before).to_json(),
            "after": share_of(self.after).to_json(),
            "excluded_by_rule": [c.identifier for c in self.before if c.identifier not in after],
            "candidates": [c.to_json() for c in self.candidates],
            "exit_code": int(self.exit_code),
        }

    def to_text(self) -> str:
        before, after = share_of(self.before), share_of(self.after)
        kept = {c.identifier for c in self.after}
        excluded = [c for c in self.before if c.identifier not in kept]
        lines = [
            f"seed report {self.ecosystem}: first {len(self.candidates)} candidates "
            f"({self.popularity_source})",
            f"  before the rule: {before.accepted} accepted, {before.named_like} with a main "
            f"executable named like the package or recipe ({before.ratio:.1%})",
            f"  after the rule:  {after.accepted} accepted, {after.named_like} named like "
            f"({after.ratio:.1%})",
            f"  first accepted after: {', '.join(c.identifier for c in self.after[:15])}",
            f"  excluded as library_script ({len(excluded)}): "
            + ", ".join(f"{c.identifier} ({c.main})" for c in excluded[:25]),
        ]
        errors = [c for c in self.candidates if c.error]
        if errors:
            lines.append(f"  look-up errors: {len(errors)} (e.g. {errors[0].error})")
        return "\n".join(lines)


def candidate_from(
    rank: int, identifier: str, name: str, found: Lookup, unnamed_min_score: int = TOOL_THRESHOLD
) -> Candidate:
    """Pure: a look-up's answer as a report row; ``is_tool`` is what seeding decides
    (``ToolVerdict.queued``: the registry's ``[seed] unnamed_min_score`` included)."""
    verdict = found.tool
    return Candidate(
        rank=rank,
        identifier=identifier,
        name=name,
        executables=tuple(found.executables),
        tool_score=None if verdict is None else verdict.score,
        is_tool=True if verdict is None else verdict.queued(unnamed_min_score),
        signals=() if verdict is None else tuple(s.label() for s in verdict.signals),
    )


def seed_rank_report(
    http: HttpClient,
    layout: RegistryLayout,
    ecosystem: str,
    top: int,
    *,
    lookup: Callable[[HttpClient, str], Lookup] | None = None,
    identifiers: Sequence[str] | None = None,
    tier1: frozenset[str] | None = None,
) -> SeedRankReport:
    """Look up the first ``top`` candidates of ``ecosystem``'s ranking (or ``identifiers``)."""
    if ecosystem not in seed_sources():
        raise UsageError(f"--ecosystem must be one of {', '.join(seed_sources())}")
    if not 1 <= top <= MAX_TOP:
        raise UsageError(f"--top must be between 1 and {MAX_TOP}")
    adapter = adapter_for(ecosystem)
    find = lookup or adapter.lookup
    assert find is not None
    report = SeedRankReport(ecosystem, top, tier1=load_tier1() if tier1 is None else tier1)
    if identifiers is None:
        assert adapter.popularity is not None
        ranking = adapter.popularity(http, layout, max(top, 1000))
        report.popularity_source = ranking.source
        identifiers = [r.identifier for r in ranking.entries[:top]]
    else:
        report.popularity_source = "given identifiers"
        identifiers = list(identifiers)[:top]
    namer = recipe_namer(ecosystem)

    def one(item: tuple[int, str]) -> Candidate:
        rank, identifier = item
        try:
            name = namer(identifier)
            return candidate_from(
                rank, identifier, name, find(http, identifier), http.config.seed_unnamed_min_score
            )
        except Exception as exc:  # one bad candidate never ends the report
            detail = f"{type(exc).__name__}: {exc}"[:300]
            return Candidate(rank, identifier, "", (), None, False, (), detail)

    with ThreadPoolExecutor(max_workers=max(1, http.config.threads)) as pool:
        report.candidates = list(pool.map(one, enumerate(identifiers, start=1)))
    return report


def run_seed_report(root: str | Path, ecosystem: str, top: int) -> SeedRankReport:
    """Front-door entry: configuration from ``root``, one client."""
    from automation.core.config import load_config

    layout = RegistryLayout.at(root)
    with HttpClient(load_config(layout.root)) as http:
        return seed_rank_report(http, layout, ecosystem, top)
