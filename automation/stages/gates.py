"""Auto-merge gates: which new recipes may merge without a human (pure).

A candidate goes to human review when its recipe runs arbitrary commands (``run_command``
anywhere), its name looks like a typosquat of an existing recipe or of a higher-ranked queue
entry from another source, its package is younger than ``min_age_days`` or, when the download
count is known, less popular than ``min_downloads``, or, when the registry asks for it
(``[merge] verify = "version"``), its ``[verify]`` checks only a clean exit. Unlike the
reference (§3.9), a recipe under review is not deleted and does not hold back the rest of the
batch: the report says which recipes merge and which wait.

A look-alike name is not a typosquat when the registry data says the candidate is itself
established (``squat_cleared``): first released before the name it resembles, or more than
``established_years`` ago, or downloaded at least ``comparable_downloads`` times as often (per
day, so counts over different periods compare). Without the data to decide, it stays held and
the reason says which data was missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from automation.core.errors import ExitCode
from automation.core.timefmt import format_timestamp
from automation.registry.popularity import daily_rate

_RUN_COMMAND_TEXT = re.compile(r"""\baction\s*=\s*["']run_command["']""")
_SEPARATORS = re.compile(r"[-_.]")


@dataclass(frozen=True, slots=True)
class GateConfig:
    """Gate thresholds (configurable per registry)."""

    min_age_days: int = 90
    min_downloads: int = 1000
    short_name_distance: int = 1
    long_name_distance: int = 2
    long_name_length: int = 8  # names at least this long use long_name_distance
    # A look-alike is not a typosquat when it was first released more than this long ago ...
    established_years: float = 5.0
    # ... or is downloaded (per day) at least this share of the name it resembles.
    comparable_downloads: float = 0.1
    # Hold a recipe whose [verify] checks only a clean exit (no version in its pattern).
    require_version_verify: bool = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """A new or changed recipe proposed for merge."""

    name: str
    source: str  # "<ecosystem>:<identifier>"
    recipe: Mapping[str, Any]  # parsed recipe (a tomlkit document is a Mapping)
    recipe_text: str | None = None  # the TOML as written, scanned too
    first_release: datetime | None = None
    downloads: int | None = None
    is_new: bool = True  # False for an update of a recipe already in the registry
    downloads_period: str | None = None  # what ``downloads`` counts ("30 days", "month")


@dataclass(frozen=True, slots=True)
class NameFacts:
    """What the registry's data says of a name a candidate may resemble (each may be unknown)."""

    first_release: datetime | None = None
    downloads: int | None = None
    downloads_period: str | None = None
    source: str | None = None  # "<ecosystem>:<identifier>" the facts are of, when known


@dataclass(frozen=True, slots=True)
class RankedName:
    """A queue entry's name and source; the sequence order is the queue's rank order."""

    name: str
    source: str


@dataclass(frozen=True, slots=True)
class GateContext:
    """What the gates compare a candidate with."""

    now: datetime
    existing_recipes: frozenset[str] = frozenset()
    queue: Sequence[RankedName] = ()  # in rank order, best first
    config: GateConfig = field(default_factory=GateConfig)
    # Lower-cased name -> its first release and downloads, where the registry's data has them
    # (seeding's popularity records, this batch's generation log).
    facts: Mapping[str, NameFacts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GateDecision:
    auto_merge: bool
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"auto_merge": self.auto_merge, "reasons": list(self.reasons)}


def damerau_levenshtein(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (unrestricted Damerau-Levenshtein)."""
    if a == b:
        return 0
    infinity = len(a) + len(b)
    last_row: dict[str, int] = {}
    # (len(a)+2) x (len(b)+2) table with a sentinel border, as in Lowrance-Wagner.
    table = [[infinity] * (len(b) + 2) for _ in range(len(a) + 2)]
    for i in range(len(a) + 1):
        table[i + 1][0] = infinity
        table[i + 1][1] = i
    for j in range(len(b) + 1):
        table[0][j + 1] = infinity
        table[1][j + 1] = j
    for i in range(1, len(a) + 1):
        last_match_col = 0
        for j in range(1, len(b) + 1):
            i1 = last_row.get(b[j - 1], 0)
            j1 = last_match_col
            cost = 1
            if a[i - 1] == b[j - 1]:
                cost = 0
                last_match_col = j
            table[i + 1][j + 1] = min(
                table[i][j] + cost,
                table[i + 1][j] + 1,
                table[i][j + 1] + 1,
                table[i1][j1] + (i - i1 - 1) + 1 + (j - j1 - 1),
            )
        last_row[a[i - 1]] = i
    return table[len(a) + 1][len(b) + 1]


def confusable_form(name: str) -> str:
    """``name`` with look-alike differences folded away (separators, 0/o, 1/l, rn/m)."""
    folded = _SEPARATORS.sub("", name.lower())
    return folded.replace("0", "o").replace("1", "l").replace("rn", "m")


def _distance_limit(name: str, other: str, config: GateConfig) -> int:
    # The longer of the two decides: a short squat of a long name is as misleading.
    if max(len(name), len(other)) >= config.long_name_length:
        return config.long_name_distance
    return config.short_name_distance


def lookalike_reason(name: str, other: str, config: GateConfig) -> str | None:
    """Why ``name`` could pass for ``other`` (None if it could not)."""
    if name.lower() == other.lower():
        return None
    a, b = name.lower(), other.lower()
    limit = _distance_limit(a, b, config)
    if abs(len(a) - len(b)) <= limit:
        distance = damerau_levenshtein(a, b)
        if distance <= limit:
            return f"edit distance {distance}"
    if confusable_form(a) == confusable_form(b):
        return "confusable spelling"
    return None


def find_run_command(recipe: Mapping[str, Any], text: str | None = None) -> bool:
    """Whether the recipe has a ``run_command`` action anywhere (any table, any depth)."""
    if text is not None and _RUN_COMMAND_TEXT.search(text):
        return True

    def walk(value: Any) -> bool:
        if isinstance(value, Mapping):
            if value.get("action") == "run_command":
                return True
            return any(walk(v) for v in value.values())
        if isinstance(value, list | tuple):
            return any(walk(v) for v in value)
        return False

    return walk(recipe)


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def _rate_text(downloads: int, period: str | None) -> str:
    return f"{downloads} downloads" + (f" in {period}" if period else "")


def squat_cleared(
    candidate: Candidate, other: str, context: GateContext
) -> tuple[str | None, list[str]]:
    """(why ``candidate`` is not a typosquat of ``other``, or None; what was found or missing).

    Cleared by the first rule the data satisfies: the candidate was first released more than
    ``established_years`` ago, or before ``other``, or is downloaded per day at least
    ``comparable_downloads`` times as often as ``other``. The second value lists, for a
    candidate not cleared, each rule's evidence against it or the data it lacked.
    """
    config = context.config
    theirs = context.facts.get(other.lower(), NameFacts())
    evidence: list[str] = []
    mine = candidate.first_release
    if mine is None:
        evidence.append("its first release is unknown")
    else:
        age = context.now - mine
        if age >= timedelta(days=365.25 * config.established_years):
            return f"first released {_day(mine)}, over {config.established_years:g} years ago", []
        if theirs.first_release is None:
            evidence.append(
                f"first released {_day(mine)}; the first release of {other!r} is unknown"
            )
        elif mine < theirs.first_release:
            return (
                f"first released {_day(mine)}, before {other!r} ({_day(theirs.first_release)})",
                [],
            )
        else:
            evidence.append(
                f"first released {_day(mine)}, after {other!r} ({_day(theirs.first_release)})"
            )
    own_rate = daily_rate(candidate.downloads, candidate.downloads_period)
    their_rate = daily_rate(theirs.downloads, theirs.downloads_period)
    if candidate.downloads is None:
        evidence.append("its download count is unknown")
    elif own_rate is None:
        evidence.append(
            f"{_rate_text(candidate.downloads, candidate.downloads_period)}: not a rate to compare"
        )
    if theirs.downloads is None:
        evidence.append(f"the download count of {other!r} is unknown")
    elif their_rate is None:
        evidence.append(
            f"{other!r}: {_rate_text(theirs.downloads, theirs.downloads_period)}, not a rate"
        )
    if own_rate is not None and their_rate is not None:
        share = own_rate / their_rate if their_rate > 0 else float("inf")
        mine_text = _rate_text(candidate.downloads or 0, candidate.downloads_period)
        their_text = _rate_text(theirs.downloads or 0, theirs.downloads_period)
        if share >= config.comparable_downloads:
            return f"{mine_text}, {share:.0%} of {other!r}'s {their_text}", []
        evidence.append(
            f"{mine_text}, {share:.1%} of {other!r}'s {their_text} "
            f"(under {config.comparable_downloads:.0%})"
        )
    return None, evidence


def _squat_reason(candidate: Candidate, what: str, other: str, context: GateContext) -> str | None:
    cleared, evidence = squat_cleared(candidate, other, context)
    if cleared:
        return None
    return f"possible typosquat of {what}; not cleared: {'; '.join(evidence)}"


def _typosquat_reasons(candidate: Candidate, context: GateContext) -> list[str]:
    reasons: list[str] = []
    name = candidate.name
    for other in sorted(context.existing_recipes):
        why = lookalike_reason(name, other, context.config)
        if why:
            reason = _squat_reason(candidate, f"existing recipe {other!r} ({why})", other, context)
            reasons += [reason] if reason else []
    own_rank = next(
        (i for i, r in enumerate(context.queue) if r.name.lower() == name.lower()),
        len(context.queue),
    )
    for ranked in context.queue[:own_rank]:
        if ranked.source == candidate.source or ranked.name.lower() in context.existing_recipes:
            continue
        why = lookalike_reason(name, ranked.name, context.config)
        if why:
            what = f"higher-ranked queue entry {ranked.name!r} ({ranked.source}; {why})"
            reason = _squat_reason(candidate, what, ranked.name, context)
            reasons += [reason] if reason else []
    return reasons


def evaluate_gates(candidate: Candidate, context: GateContext) -> GateDecision:
    """Decide whether ``candidate`` may merge automatically; every reason for review is listed."""
    config = context.config
    reasons = recipe_review_reasons(candidate.recipe, candidate.recipe_text, config)
    if candidate.is_new:
        reasons += _typosquat_reasons(candidate, context)
    if candidate.first_release is not None:
        age = context.now - candidate.first_release
        if age < timedelta(days=config.min_age_days):
            reasons.append(
                f"first released {max(age.days, 0)} days ago "
                f"(younger than {config.min_age_days} days)"
            )
    if candidate.downloads is not None and candidate.downloads < config.min_downloads:
        period = f" in {candidate.downloads_period}" if candidate.downloads_period else ""
        reasons.append(
            f"{candidate.downloads} downloads{period} (fewer than {config.min_downloads})"
        )
    return GateDecision(auto_merge=not reasons, reasons=tuple(reasons))


def recipe_review_reasons(
    recipe: Mapping[str, Any], recipe_text: str | None, config: GateConfig
) -> list[str]:
    """The gates decided by the recipe alone (no registry, no package metadata): a
    ``run_command`` action, and a ``[verify]`` that checks no version when the registry asks
    for one. Known once local validation has discovered the ``[verify]``: the container
    environments need not install a recipe these hold (``invoke grow``, ``invoke pipeline``)."""
    reasons: list[str] = []
    if find_run_command(recipe, recipe_text):
        reasons.append("recipe uses a run_command action (arbitrary shell): human review")
    if config.require_version_verify and not verifies_version(recipe):
        verify = recipe.get("verify") or {}
        reasons.append(
            f"[verify] `{verify.get('command', '')}` checks only a clean exit, not the version "
            'the tool prints (merge.verify = "version"): review it or find a version command'
        )
    return reasons


def verifies_version(recipe: Mapping[str, Any]) -> bool:
    """Whether the recipe's ``[verify]`` pattern matches the version the tool printed."""
    verify = recipe.get("verify")
    return isinstance(verify, Mapping) and "{version}" in str(verify.get("pattern") or "")


# --- merge report --------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell (names and reasons come from registries)."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class MergeReport:
    """Gate outcomes of one batch: a PR body (markdown, ``to_text``) and JSON."""

    batch_id: str
    items: tuple[tuple[Candidate, GateDecision], ...]

    @property
    def auto_merge(self) -> bool:
        """The batch PR may auto-merge only when every recipe passed the gates."""
        return bool(self.items) and all(d.auto_merge for _, d in self.items)

    @property
    def held(self) -> tuple[str, ...]:
        return tuple(c.name for c, d in self.items if not d.auto_merge)

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "auto_merge": self.auto_merge,
            "recipes": [
                {
                    "name": c.name,
                    "source": c.source,
                    "new": c.is_new,
                    "downloads": c.downloads,
                    "first_release": format_timestamp(c.first_release) if c.first_release else None,
                    **d.to_json(),
                }
                for c, d in self.items
            ],
        }

    def to_text(self) -> str:
        ok = [(c, d) for c, d in self.items if d.auto_merge]
        review = [(c, d) for c, d in self.items if not d.auto_merge]
        verdict = "auto-merge" if self.auto_merge else "human review required"
        lines = [
            f"## Batch {_cell(self.batch_id)}: {verdict}",
            "",
            f"{len(ok)} recipe(s) pass every gate, {len(review)} need review.",
            "",
        ]
        if review:
            lines += ["### Needs review", "", "| recipe | source | reasons |", "|---|---|---|"]
            for c, d in review:
                reasons = "<br>".join(_cell(r) for r in d.reasons)
                lines.append(f"| `{_cell(c.name)}` | `{_cell(c.source)}` | {reasons} |")
            lines.append("")
        if ok:
            lines += ["### Passed all gates", "", "| recipe | source |", "|---|---|"]
            lines += [f"| `{_cell(c.name)}` | `{_cell(c.source)}` |" for c, _ in ok]
            lines.append("")
        return "\n".join(lines).rstrip("\n") + "\n"

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK


def merge_report(
    batch_id: str, candidates: Iterable[Candidate], context: GateContext
) -> MergeReport:
    """Evaluate every candidate and collect the report."""
    return MergeReport(batch_id, tuple((c, evaluate_gates(c, context)) for c in candidates))
