"""The pull-request body of a merged batch (Markdown): what a reviewer must see.

A held recipe is not written to ``recipes/``, and a batch's staging folder is not part of its pull
request (the batch workflow keeps it as a short-lived artifact), so the body carries it: a summary
table of the counts and whether the pull request merges itself (auto-merge: only when no recipe
was held), then for every held recipe its reasons, what was tested where (per platform: outcome,
environments, admitted or not), its result per environment (status, failure code, version, an
excerpt of the output) and its whole constrained TOML, then the recipes that were not merged with
their failure codes, and the merged ones with their constraints and what was tested where.

GitHub refuses a body longer than 65,536 characters. The body is measured here in UTF-8 bytes
(never fewer than characters, nor than UTF-16 units) and bounded deterministically: first the
output excerpts are left out, then the body is cut after the last whole section that fits and
ends with a note naming what was left out. The complete body is always written beside the
bounded one (``<name>.full<suffix>``): the batch workflow keeps both as an artifact.

Rendering reads the merge report's JSON document (``MergeReport.to_json()``) and is pure; only
:func:`write_pr_body` writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core.atomic import atomic_write_text

PR_BODY_LIMIT = 65_536  # GitHub's limit on a pull request's body
COUNT_COLUMNS = ("merged", "held", "failed", "not_validated", "blocked", "excluded")
NOT_MERGED = ("failed", "blocked", "excluded")
WHY_LIMIT = 200  # characters of the first reason in the table of recipes not merged

_BACKTICKS = re.compile(r"`+")
# Characters that would turn text from upstream (a tool's output) into Markdown or HTML, or
# notify somebody (an @mention): shown as themselves.
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "@": "&#64;",
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "#": "\\#",
}


def _inline(text: object) -> str:
    """Untrusted text as one line of literal Markdown."""
    flat = " ".join(str(text).split())
    return "".join(_ESCAPES.get(char, char) for char in flat)


def _code(text: object) -> str:
    """A code span holding ``text`` literally (its backticks cannot close the span)."""
    # A table cell ends at an unescaped "|", even inside a code span (GFM).
    flat = " ".join(str(text).split()).replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(flat)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def _fence(text: str, info: str = "") -> str:
    """A fenced block holding ``text`` literally (longer fence than any backtick run in it)."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _code_of(item: Mapping[str, Any]) -> str:
    category, subcategory = item.get("category") or "", item.get("subcategory") or ""
    return f"{category}/{subcategory}" if category else ""


@dataclass(frozen=True, slots=True)
class _Part:
    """One section of the body; ``label`` names it in the truncation note."""

    label: str
    full: str
    compact: str
    held: bool = False


def _summary(report: Mapping[str, Any]) -> str:
    counts = report.get("counts") or {}
    header = " | ".join(c.replace("_", " ") for c in COUNT_COLUMNS)
    values = " | ".join(str(counts.get(c, 0)) for c in COUNT_COLUMNS)
    lines = [
        f"## Batch {_inline(report.get('batch_id', ''))}",
        "",
        f"| {header} |",
        "|" + "---:|" * len(COUNT_COLUMNS),
        f"| {values} |",
    ]
    other = sorted(set(counts) - set(COUNT_COLUMNS))
    if other:
        lines += ["", "Also: " + ", ".join(f"{counts[k]} {_inline(k)}" for k in other)]
    if "auto_merge" in report:
        lines += ["", auto_merge_line(report)]
    return "\n".join(lines)


def auto_merge_line(report: Mapping[str, Any]) -> str:
    """Whether the batch workflow enables auto-merge on this pull request, and why."""
    held = (report.get("counts") or {}).get("held", 0)
    if report.get("auto_merge"):
        return (
            "**Auto-merge: on.** Every recipe passed the gates; this pull request merges itself "
            "once its checks pass."
        )
    if held:
        return (
            f"**Auto-merge: off.** {held} recipe(s) held for review below: merge by hand after "
            "reviewing them."
        )
    return "**Auto-merge: off.** Nothing was merged."


def tested_text(tested: Mapping[str, Any]) -> str:
    """One line: each platform point's outcome with its environments, and admission."""
    parts = []
    for point, cell in tested.items():
        environments = cell.get("environments") or {}
        who = ", ".join(f"{env} {outcome}" for env, outcome in environments.items())
        admitted = "admitted" if cell.get("admitted") else "not admitted"
        detail = f" ({who})" if who else ""
        parts.append(f"{point}: {cell.get('outcome')}{detail}, {admitted}")
    return "; ".join(parts)


def _tested_table(tested: Mapping[str, Any]) -> list[str]:
    lines = ["| platform | tested | environments | admitted |", "|---|---|---|---|"]
    for point, cell in tested.items():
        environments = cell.get("environments") or {}
        who = ", ".join(f"{env}: {outcome}" for env, outcome in environments.items())
        admitted = "yes" if cell.get("admitted") else "no"
        cells = [_code(point), _inline(cell.get("outcome")), _inline(who) or "-", admitted]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


HELD_INTRO = (
    "### Held for review ({count})\n\n"
    "Not merged and not in `recipes/`. A recipe is merged only when every environment whose "
    "platform its constraints admit passed: a failure the constraint fields cannot express (one "
    "distribution or family of a platform) is fixed at the source (a runtime requirement, an "
    "executable removed) and the recipe revalidated; a gate's reason needs a reviewer. Its queue "
    "entry is `requires_manual`. The TOML is the recipe as it would be merged, constraints "
    "applied."
)


def _results_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| environment | platform | status | code | version |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        cells = (
            result.get("environment"),
            result.get("platform"),
            result.get("status"),
            result.get("version") or "",
        )
        code = _code(_code_of(result)) if _code_of(result) else ""
        row = [_inline(c) for c in cells]
        row.insert(3, code)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _excerpts(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The output of every environment that did not pass, folded away."""
    lines: list[str] = []
    for result in results:
        message = str(result.get("message") or "")
        if result.get("status") == "pass" or not message.strip():
            continue
        summary = " ".join(
            _inline(part) for part in (result.get("environment"), _code_of(result)) if part
        )
        lines += ["", f"<details><summary>{summary}</summary>", "", _fence(message, "text"), ""]
        lines.append("</details>")
    return lines


def _held_section(item: Mapping[str, Any], *, with_output: bool) -> str:
    results = item.get("results") or []
    lines = [f"#### {_code(item.get('name', ''))} ({_code(item.get('source', ''))})", ""]
    lines += [f"- {_inline(reason)}" for reason in item.get("reasons") or []]
    if item.get("tested"):
        lines += ["", "Tested where:", "", *_tested_table(item["tested"])]
    if results:
        lines += ["", *_results_table(results)]
        if with_output:
            lines += _excerpts(results)
    lines += [
        "",
        f"{_code(item.get('recipe_path') or item.get('name', ''))}, as it would be merged:",
        "",
        _fence(str(item.get("recipe_toml") or ""), "toml"),
    ]
    return "\n".join(lines)


def _not_merged(items: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        f"### Not merged ({len(items)})",
        "",
        "| recipe | source | result | code | why |",
        "|---|---|---|---|---|",
    ]
    for item in items:
        reasons = item.get("reasons") or []
        why = str(reasons[0]) if reasons else ""
        why = why if len(why) <= WHY_LIMIT else why[: WHY_LIMIT - 3] + "..."
        code = _code(_code_of(item)) if _code_of(item) else ""
        cells = [
            _code(item.get("name", "")),
            _code(item.get("source", "")),
            _inline(item.get("action")),
        ]
        lines.append("| " + " | ".join([*cells, code, _inline(why)]) + " |")
    return "\n".join(lines)


def _merged(items: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"### Merged ({len(items)})", ""]
    for item in items:
        line = f"- {_code(item.get('name', ''))} ({_code(item.get('source', ''))})"
        constraints = item.get("constraints") or {}
        if constraints:
            fields = ", ".join(
                _code(f"{key} = {json.dumps(value)}") for key, value in sorted(constraints.items())
            )
            line += f": {fields}"
        tested = item.get("tested") or {}
        untried = [p for p, c in tested.items() if c.get("outcome") == "untested"]
        if untried:
            claimed = [p for p in untried if tested[p].get("admitted")]
            line += "; untested: " + ", ".join(_code(p) for p in untried)
            line += (
                " (admitted without evidence: " + ", ".join(_code(p) for p in claimed) + ")"
                if claimed
                else " (not admitted)"
            )
        lines.append(line)
    return "\n".join(lines)


def _tail(report: Mapping[str, Any], not_validated: Sequence[str]) -> str:
    lines = []
    if not_validated:
        names = ", ".join(_code(n) for n in not_validated)
        lines.append(f"Not validated (no result for this batch; run validate): {names}")
    for key, text in (
        ("requeued", "Re-queued now that their blockers landed"),
        ("impossible", "Excluded from the queue: no builder can build them"),
        ("kept_as_found", "Changed since the interrupted merge, kept as found"),
    ):
        values = report.get(key) or []
        if values:
            lines.append(f"{text}: " + ", ".join(_inline(v) for v in values))
    return "\n\n".join(lines)


def _parts(report: Mapping[str, Any]) -> list[_Part]:
    decisions: list[Mapping[str, Any]] = list(report.get("decisions") or [])
    held = [d for d in decisions if d.get("action") == "held"]
    not_merged = [d for d in decisions if d.get("action") in NOT_MERGED]
    merged = [d for d in decisions if d.get("action") == "merged"]
    not_validated = [str(d.get("name")) for d in decisions if d.get("action") == "not_validated"]
    summary = _summary(report)
    parts = [_Part("the summary", summary, summary)]
    if held:
        intro = HELD_INTRO.format(count=len(held))
        parts.append(_Part("the held recipes' introduction", intro, intro))
    for item in held:
        parts.append(
            _Part(
                f"held recipe {_code(item.get('name', ''))}",
                _held_section(item, with_output=True),
                _held_section(item, with_output=False),
                held=True,
            )
        )
    for label, items, render in (
        ("the recipes not merged", not_merged, _not_merged),
        ("the merged recipes", merged, _merged),
    ):
        if items:
            text = render(items)
            parts.append(_Part(f"the list of {label}", text, text))
    tail = _tail(report, not_validated)
    if tail:
        parts.append(_Part("the closing notes", tail, tail))
    return parts


@dataclass(frozen=True, slots=True)
class PullRequestBody:
    """The bounded body (``text``) and the complete one; ``held_shown`` of ``held_total`` held
    recipes have their section (TOML included) in ``text``."""

    text: str
    complete: str
    held_shown: int
    held_total: int

    @property
    def truncated(self) -> bool:
        return self.text != self.complete


def _joined(sections: Sequence[str]) -> str:
    return "\n\n".join(sections) + "\n"


def _note(
    left_out: Sequence[_Part],
    complete: str,
    complete_name: str | None,
    *,
    limit: int,
    names: bool,
) -> str:
    if not left_out:
        what = "the output excerpts of environments that did not pass"
    elif names:
        what = "; ".join(part.label for part in left_out)
    else:
        held = sum(1 for part in left_out if part.held)
        what = f"{held} held recipe(s) and {len(left_out) - held} other section(s)"
    where = f"is {_code(complete_name)}, written with this one" if complete_name else "is kept"
    return (
        "---\n\n"
        f"**Shortened** to at most {limit:,} characters (a pull request's body holds "
        f"{PR_BODY_LIMIT:,}): "
        f"left out {what}. The complete body ({_size(complete):,} bytes) {where} (the batch "
        "workflow keeps both as an artifact of its run)."
    )


def render_pr_body(
    report: Mapping[str, Any],
    *,
    limit: int = PR_BODY_LIMIT,
    complete_name: str | None = None,
) -> PullRequestBody:
    """The body for a merge report's JSON document, at most ``limit`` UTF-8 bytes.

    ``complete_name`` is where the complete body is kept (named in the truncation note).
    """
    if report.get("already_merged"):
        text = f"Batch {_inline(report.get('batch_id', ''))} was already merged: nothing to do.\n"
        return PullRequestBody(text, text, 0, 0)
    parts = _parts(report)
    held_total = sum(1 for part in parts if part.held)
    complete = _joined([part.full for part in parts])
    if _size(complete) <= limit:
        return PullRequestBody(complete, complete, held_total, held_total)
    compact = [part.compact for part in parts]
    note = _note((), complete, complete_name, limit=limit, names=True)
    if _size(_joined([*compact, note])) <= limit:
        return PullRequestBody(_joined([*compact, note]), complete, held_total, held_total)
    # Cut after the last whole section that fits with its note (the summary first).
    for keep in range(len(parts) - 1, -1, -1):
        left_out = parts[keep:]
        for names in (True, False):
            note = _note(left_out, complete, complete_name, limit=limit, names=names)
            text = _joined([*compact[:keep], note])
            if _size(text) <= limit:
                shown = sum(1 for part in parts[:keep] if part.held)
                return PullRequestBody(text, complete, shown, held_total)
    raise ValueError(f"a pull-request body limit of {limit} bytes cannot hold even its note")


def write_merge_outputs(report: Mapping[str, Any], path: Path) -> None:
    """Append the workflow's outputs (``auto_merge=true|false``, ``merged=N``, ``held=N``) to
    ``path`` (``$GITHUB_OUTPUT``)."""
    counts = report.get("counts") or {}
    lines = [
        f"auto_merge={'true' if report.get('auto_merge') else 'false'}",
        f"merged={int(counts.get('merged', 0))}",
        f"held={int(counts.get('held', 0))}",
    ]
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def complete_body_path(path: Path) -> Path:
    """Where :func:`write_pr_body` keeps the complete body: ``pr.md`` -> ``pr.full.md``."""
    return path.with_name(f"{path.stem}.full{path.suffix}")


def write_pr_body(report: Mapping[str, Any], path: Path) -> PullRequestBody:
    """Write the bounded body to ``path`` and the complete one beside it, each atomically."""
    full = complete_body_path(path)
    body = render_pr_body(report, complete_name=full.name)
    atomic_write_text(full, body.complete)
    atomic_write_text(path, body.text)
    return body
