"""``invoke sli-issue``: the scheduled SLI check, reported as ONE GitHub issue.

The ``sli`` workflow runs this every few hours. When ``invoke sli`` would alert (its exit 4), the
alert text goes into one open issue titled :data:`ISSUE_TITLE`: the first alert opens it, every
later one rewrites its body with the current numbers and adds a comment (so subscribers hear of
it); there is never a second open issue. No alert: nothing is written (a human closes the issue
once the cause is fixed; the next alert opens a new one). The issue is the alert's delivery, so
a delivered alert exits 0; exit 4 means the alert could not be delivered (``gh`` failed).

``gh`` (the GitHub CLI, authenticated by ``GH_TOKEN`` in the workflow) runs through
:func:`automation.core.process.run_process`, injected so tests replace it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core.errors import ExitCode
from automation.core.process import Completed, run_process
from automation.learn.sli import SliReport, sli_report

ISSUE_TITLE = "SLI alert: batch pipeline"
GH_TIMEOUT = 60.0

Gh = Callable[[Sequence[str]], Completed]


def _default_gh(args: Sequence[str]) -> Completed:
    return run_process(["gh", *args], timeout=GH_TIMEOUT, merge_stderr=False)


@dataclass(frozen=True, slots=True)
class SliIssueReport:
    """What the check found and what it did to the issue."""

    sli: SliReport
    action: str  # none | opened | updated | failed
    issue: int | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "alert": bool(self.sli.alerts),
            "action": self.action,
            "issue": self.issue,
            "error": self.error,
            "sli": self.sli.to_json(),
        }

    def to_text(self) -> str:
        head = {
            "none": "no SLI alert: no issue written",
            "opened": f"SLI alert: opened issue #{self.issue}",
            "updated": f"SLI alert: updated issue #{self.issue}",
            "failed": f"SLI alert NOT delivered: {self.error}",
        }[self.action]
        return head + "\n\n" + self.sli.to_text()

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.action == "failed" else ExitCode.OK


def issue_body(sli: SliReport) -> str:
    """The issue's body: the alert text, as ``invoke sli`` prints it."""
    text = sli.to_text().replace("```", "'''")
    return (
        f"`invoke sli` alerts as of {sli.now} (window {sli.window}).\n\n"
        f"```text\n{text}\n```\n\n"
        "Written by the `sli` workflow (`make sli-issue`); each new alert updates this issue. "
        "Close it once the cause is fixed.\n"
    )


def find_open_issue(listing: str, title: str = ISSUE_TITLE) -> int | None:
    """The lowest-numbered open issue titled exactly ``title`` in ``gh issue list --json
    number,title`` output (None when there is none or the output is not that JSON)."""
    try:
        issues = json.loads(listing or "[]")
    except json.JSONDecodeError:
        return None
    numbers = [
        int(item["number"])
        for item in issues
        if isinstance(item, Mapping) and item.get("title") == title and "number" in item
    ]
    return min(numbers) if numbers else None


def _failed(done: Completed, what: str) -> str | None:
    if done.exit_code == 0:
        return None
    detail = (done.stderr or done.output).strip().splitlines()
    return f"gh {what} exited {done.exit_code}" + (f": {detail[-1]}" if detail else "")


def deliver(sli: SliReport, gh: Gh = _default_gh, *, title: str = ISSUE_TITLE) -> SliIssueReport:
    """Open or update the one SLI issue for an alerting report (nothing when none alerts)."""
    if not sli.alerts:
        return SliIssueReport(sli, "none")
    listing = gh(
        ["issue", "list", "--state", "open", "--search", f'in:title "{title}"', "--json",
         "number,title", "--limit", "100"]
    )  # fmt: skip
    error = _failed(listing, "issue list")
    if error:
        return SliIssueReport(sli, "failed", error=error)
    number = find_open_issue(listing.output, title)
    with tempfile.TemporaryDirectory(prefix="sli-issue-") as folder:
        body = Path(folder) / "body.md"
        body.write_text(issue_body(sli), encoding="utf-8")
        if number is None:
            done = gh(["issue", "create", "--title", title, "--body-file", str(body)])
            error = _failed(done, "issue create")
            if error:
                return SliIssueReport(sli, "failed", error=error)
            # gh prints the new issue's URL, ending in its number.
            tail = done.output.strip().rsplit("/", 1)[-1]
            return SliIssueReport(sli, "opened", int(tail) if tail.isdigit() else None)
        for args, what in (
            (["issue", "edit", str(number), "--body-file", str(body)], "issue edit"),
            (["issue", "comment", str(number), "--body-file", str(body)], "issue comment"),
        ):
            error = _failed(gh(args), what)
            if error:
                return SliIssueReport(sli, "failed", number, error)
    return SliIssueReport(sli, "updated", number)


def sli_issue(
    root: str | Path,
    *,
    gh: Gh = _default_gh,
    title: str = ISSUE_TITLE,
    now: datetime | None = None,
) -> SliIssueReport:
    """Evaluate the SLIs of ``root`` (thresholds from its ``automation.toml``) and deliver an
    alert as the one open issue (see the module doc)."""
    return deliver(sli_report(root, now=now), gh, title=title)
