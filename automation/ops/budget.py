"""The runner budget's tasks: ``invoke budget-check`` before a hosted job, ``budget-record`` after.

``budget-check --runner macos --minutes N [--batch-id ID]`` decides from ``batch-control.json``'s
limits and this week's ledger (:mod:`automation.registry.budget`) whether the job may start:
exit 0 (start) or 7 (deferred: the week's minutes are spent). With a batch, a macOS job is
sampled: the top-N recipes by queue priority are validated, the rest are deferred to the nightly
run (their darwin platforms stay untested, so under the ``exclude`` policy the merge does not
admit them). ``--github-output FILE`` appends ``allowed``, ``top``, ``remaining``, ``affordable``
(recipes the minutes left pay for: the nightly run's limit) and ``started`` (epoch seconds, for
``budget-record --since``) for the workflow's next steps and exits 0 either
way: the workflow reads the decision from ``allowed``.

``budget-record --runner R --env E --batch-id ID --since EPOCH`` (or ``--minutes N``) writes the
job's ledger file and brings the summary fields of ``batch-control.json`` up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.core.timefmt import now as utc_now
from automation.registry import budget as bd
from automation.registry.control import Control, load_control, update_control


@dataclass(frozen=True, slots=True)
class BudgetCheckReport:
    decision: bd.BudgetDecision
    started: int
    github_output: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.decision.to_json(), "started": self.started}

    def to_text(self) -> str:
        d = self.decision
        head = "start" if d.allowed else "DEFERRED"
        lines = [
            f"{d.runner} budget, week of {d.week_start}: {d.used} of {d.limit} minutes used, "
            f"{d.remaining} left; this job asks {d.requested}: {head}"
        ]
        if d.top is not None:
            lines.append(f"macOS sample: top {d.top} by priority: {', '.join(d.sampled) or '-'}")
            if d.deferred:
                lines.append("deferred to the nightly run: " + ", ".join(d.deferred))
        return "\n".join(lines)

    @property
    def exit_code(self) -> ExitCode:
        if self.decision.allowed or self.github_output is not None:
            return ExitCode.OK
        return ExitCode.DEFERRED


def budget_check(
    layout: RegistryLayout,
    runner: str,
    minutes: int,
    *,
    batch_id: str | None = None,
    github_output: Path | None = None,
    now: datetime | None = None,
) -> BudgetCheckReport:
    """Decide whether a ``runner`` job needing ``minutes`` may start (see the module doc)."""
    when = now or utc_now()
    bd.check_runner(runner)
    config = bd.BudgetConfig.from_control(load_control(layout.control_file).budget)
    spends = bd.read_week(layout, bd.week_start(when))
    batch = bd.batch_priorities(layout, batch_id) if batch_id and runner == "macos" else None
    decision = bd.decide(runner, minutes, config, spends, when, batch)
    started = int(when.timestamp())
    if github_output is not None:
        lines = [
            f"allowed={'true' if decision.allowed else 'false'}",
            f"top={'' if decision.top is None else decision.top}",
            f"remaining={decision.remaining}",
            f"affordable={decision.affordable}",
            f"started={started}",
        ]
        with github_output.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    return BudgetCheckReport(
        decision, started, None if github_output is None else str(github_output)
    )


@dataclass(frozen=True, slots=True)
class BudgetRecordReport:
    spend: bd.Spend
    path: str
    budget: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"spend": self.spend.to_json(), "ledger": self.path, "budget": self.budget}

    def to_text(self) -> str:
        s = self.spend
        used = self.budget.get(f"{s.runner}_minutes_used", 0)
        return (
            f"recorded {s.minutes} {s.runner} minutes for {s.environment} in batch {s.batch_id} "
            f"({self.path}); week of {s.week_start}: {used} minutes used"
        )

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK


def budget_record(
    layout: RegistryLayout,
    runner: str,
    environment: str,
    batch_id: str,
    *,
    seconds: float,
    now: datetime | None = None,
) -> BudgetRecordReport:
    """Record a finished job's ``seconds`` (billed in whole minutes) and update the summary."""
    when = now or utc_now()
    if seconds < 0:
        raise UsageError("--since lies in the future (or --minutes is negative)")
    spend = bd.new_spend(runner, environment, batch_id, seconds, when)
    path = bd.write_spend(layout, spend)
    spends = bd.read_week(layout, spend.week_start)
    summary: dict[str, Any] = {}

    def change(control: Control) -> Control:
        summary.update(bd.summary(control.budget, spends, when))
        return replace(control, budget=dict(summary))

    update_control(layout, change)
    return BudgetRecordReport(spend, str(path.relative_to(layout.root)), summary)
