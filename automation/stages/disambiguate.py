"""Cross-ecosystem disambiguation: which ecosystem should build a tool name found in several.

Download numbers are not comparable across ecosystems (Homebrew counts 365-day installs, crates.io
90-day downloads, npm weekly or monthly, RubyGems all-time, PyPI's probe reports none), so the
reference's ``10x_popularity_gap`` rule compared unlike quantities and auto-accepted
``numpy -> crates.io:numpy`` (reference §4.5). Here popularity is only ever compared as a
percentile *within* each ecosystem (100 = the most popular project of that ecosystem), and raw
counts are kept for the audit trail only.

Rules (:func:`decide`), in order:

1. ``curated``: a curated choice for the tool wins, whatever the probes say.
2. Probes that cannot build the tool drop out: a ``disqualified`` reason (archived, disabled, no
   bottles/assets, library only, ...) or ``has_executables is False``.
3. ``single_match``: exactly one probe is left.
4. ``clear_winner``: the best-ranked probe ships executables (known, not guessed), every remaining
   probe has a known percentile, and the winner leads the runner-up by at least ``margin``
   percentile points.
5. ``close_call``: anything else (gap below the margin, or a percentile that is unknown, so no
   comparison is possible). Nothing is selected; the entry requires a human (``requires_manual``).
   Nothing is guessed.

``no_match`` (nothing left after rule 2) also requires a human.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp
from automation.registry.disambiguations import AuditRecord, AuditWrite, ProbeResult, write_audit

DEFAULT_MARGIN = 10.0  # percentile points
# Reasons this module writes; the first and last come from the reference's enum.
SINGLE_MATCH = "single_match"
CLEAR_WINNER = "clear_winner"
CURATED = "curated"
CLOSE_CALL = "close_call"
NO_MATCH = "no_match"
REASONS = (SINGLE_MATCH, CLEAR_WINNER, CURATED, CLOSE_CALL, NO_MATCH)


@dataclass(frozen=True, slots=True)
class Probe:
    """What one ecosystem says about a tool name.

    ``percentile`` is the rank-based percentile within ``ecosystem`` (None when that ecosystem's
    ranking is unknown); ``downloads`` and ``period`` are that ecosystem's own raw number, kept
    for the audit and never compared with another ecosystem's. ``has_executables`` is None when
    not checked. ``disqualified`` names why the probe cannot build the tool (``archived``,
    ``disabled``, ``no_bottles``, ``no_assets``, ``library_only``, ...).
    """

    ecosystem: str
    identifier: str
    percentile: float | None
    downloads: int = 0
    period: str = ""
    has_executables: bool | None = None
    version_count: int = 0
    has_repository: bool = False
    disqualified: str | None = None

    def __post_init__(self) -> None:
        if self.percentile is not None and not 0.0 <= self.percentile <= 100.0:
            raise DataError(f"{self.source}: percentile {self.percentile} is not within 0..100")
        if self.downloads < 0 or self.version_count < 0:
            raise DataError(f"{self.source}: negative downloads or version count")

    @property
    def source(self) -> str:
        return f"{self.ecosystem}:{self.identifier}"

    @property
    def exclusion(self) -> str | None:
        """Why this probe cannot be selected, or None."""
        if self.disqualified:
            return self.disqualified
        if self.has_executables is False:
            return "no_executables"
        return None

    def to_probe_result(self) -> ProbeResult:
        return ProbeResult(self.source, self.downloads, self.version_count, self.has_repository)


@dataclass(frozen=True, slots=True)
class Score:
    """How one probe was judged (for reports and tests)."""

    source: str
    percentile: float | None
    excluded: str | None  # the exclusion reason, None when eligible

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "percentile": self.percentile, "excluded": self.excluded}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one tool. ``selected`` is None exactly when ``requires_manual``."""

    tool: str
    selected: str | None
    alternatives: tuple[str, ...]  # the other eligible sources, best first
    selection_reason: str
    high_risk: bool
    requires_manual: bool
    scores: tuple[Score, ...]
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "selected": self.selected,
            "alternatives": list(self.alternatives),
            "selection_reason": self.selection_reason,
            "high_risk": self.high_risk,
            "requires_manual": self.requires_manual,
            "scores": [s.to_json() for s in self.scores],
            "detail": self.detail,
        }


def _rank_key(probe: Probe) -> tuple[float, int, int, str]:
    # Known percentiles first (highest first); then quality signals; then the name, for stability.
    known = probe.percentile if probe.percentile is not None else -1.0
    return (
        -known,
        0 if probe.has_executables else 1,
        -probe.version_count,
        probe.source,
    )


def decide(
    tool: str,
    probes: Sequence[Probe],
    *,
    margin: float = DEFAULT_MARGIN,
    curated: str | None = None,
) -> Decision:
    """Choose the source for ``tool`` among ``probes`` (see the module doc for the rules).

    ``curated`` is a ``<ecosystem>:<identifier>`` chosen by a maintainer; it wins outright.
    """
    if margin < 0:
        raise DataError(f"margin must be >= 0, got {margin}")
    seen: set[str] = set()
    unique: list[Probe] = []
    for probe in probes:
        if probe.source not in seen:
            seen.add(probe.source)
            unique.append(probe)
    scores = tuple(
        Score(p.source, p.percentile, p.exclusion) for p in sorted(unique, key=_rank_key)
    )
    eligible = sorted((p for p in unique if p.exclusion is None), key=_rank_key)
    if curated is not None:
        others = tuple(p.source for p in eligible if p.source != curated)
        return Decision(tool, curated, others, CURATED, False, False, scores, "curated choice")
    if not eligible:
        return Decision(
            tool, None, (), NO_MATCH, True, True, scores, "no probe can build this tool"
        )
    if len(eligible) == 1:
        only = eligible[0]
        dropped = len(unique) - 1
        detail = f"the only buildable source ({dropped} excluded)" if dropped else "only source"
        # An unchecked executable list is a risk even when nothing competes.
        return Decision(
            tool, only.source, (), SINGLE_MATCH, only.has_executables is None, False, scores, detail
        )
    winner, runner_up = eligible[0], eligible[1]
    everyone = tuple(p.source for p in eligible)
    unknown = [p.source for p in eligible if p.percentile is None]
    if unknown:
        detail = f"no within-ecosystem percentile for {', '.join(unknown)}: not comparable"
        return Decision(tool, None, everyone, CLOSE_CALL, True, True, scores, detail)
    assert winner.percentile is not None and runner_up.percentile is not None
    gap = winner.percentile - runner_up.percentile
    if winner.has_executables is not True:
        detail = f"{winner.source} leads by {gap:.1f} points but its executables are unchecked"
        return Decision(tool, None, everyone, CLOSE_CALL, True, True, scores, detail)
    if gap < margin:
        detail = (
            f"{winner.source} ({winner.percentile:.1f}) vs {runner_up.source} "
            f"({runner_up.percentile:.1f}): gap {gap:.1f} < margin {margin:g}"
        )
        return Decision(tool, None, everyone, CLOSE_CALL, True, True, scores, detail)
    detail = f"percentile gap {gap:.1f} >= margin {margin:g} over {runner_up.source}"
    return Decision(tool, winner.source, everyone[1:], CLEAR_WINNER, False, False, scores, detail)


def audit_record(
    decision: Decision,
    probes: Sequence[Probe],
    *,
    previous_source: str | None,
    when: datetime,
    seeding_run: datetime,
) -> AuditRecord:
    """The reference-shaped audit for ``decision``.

    The audit's ``selected`` must name a source: for a decision that requires a human it is the
    source the queue keeps meanwhile (``previous_source``), else the best-ranked candidate.
    ``downloads_ratio`` is left out: a ratio of unlike counts is exactly what this module avoids.
    """
    selected = decision.selected
    alternatives = decision.alternatives
    if selected is None:
        fallback = previous_source or (alternatives[0] if alternatives else None)
        if fallback is None:
            fallback = probes[0].source if probes else None
        if fallback is None:
            raise DataError(f"no source to record for {decision.tool!r}")
        selected = fallback
        alternatives = tuple(a for a in alternatives if a != selected)
    seen: set[str] = set()
    results = []
    for probe in probes:
        if probe.source not in seen:
            seen.add(probe.source)
            results.append(probe.to_probe_result())
    return AuditRecord(
        tool=decision.tool,
        selected=selected,
        alternatives=alternatives or None,
        selection_reason=decision.selection_reason,
        high_risk=decision.high_risk,
        probe_results=tuple(results),
        previous_source=previous_source,
        disambiguated_at=format_timestamp(when),
        seeding_run=format_timestamp(seeding_run),
    )


def record_decision(
    layout: RegistryLayout,
    decision: Decision,
    probes: Sequence[Probe],
    *,
    previous_source: str | None,
    when: datetime,
    seeding_run: datetime | None = None,
) -> AuditWrite:
    """Write ``data/disambiguations/audit/<tool>.json`` for ``decision`` (atomic, checked)."""
    record = audit_record(
        decision,
        probes,
        previous_source=previous_source,
        when=when,
        seeding_run=seeding_run or when,
    )
    return write_audit(layout, record)


def probe_from_popularity(entry: Mapping[str, Any], **quality: Any) -> Probe:
    """A probe from one ``data/queues/popularity.json`` entry (written by seeding)."""
    return Probe(
        ecosystem=str(entry["ecosystem"]),
        identifier=str(entry["identifier"]),
        percentile=float(entry["percentile"]) if entry.get("percentile") is not None else None,
        downloads=int(entry.get("downloads") or 0),
        period=str(entry.get("period") or ""),
        **quality,
    )
