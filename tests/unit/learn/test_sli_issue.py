"""The scheduled SLI check opens ONE issue on an alert and updates that one afterwards."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from automation.core.errors import ExitCode
from automation.core.process import Completed
from automation.learn.sli import SliReport, Thresholds, evaluate, sli_report
from automation.learn.sli_issue import ISSUE_TITLE, deliver, find_open_issue, sli_issue
from tests.support.dashboard_registry import NOW, build_registry


class FakeGh:
    """Records every gh call; issues live in a list, as GitHub would keep them."""

    def __init__(self, issues: list[dict[str, object]] | None = None, fail: str = "") -> None:
        self.issues = issues if issues is not None else []
        self.calls: list[list[str]] = []
        self.bodies: list[str] = []
        self.fail = fail

    def __call__(self, args: Sequence[str]) -> Completed:
        args = list(args)
        self.calls.append(args)
        if "--body-file" in args:
            self.bodies.append(Path(args[args.index("--body-file") + 1]).read_text())
        if self.fail and args[:2] == ["issue", self.fail]:
            return Completed(1, "", stderr="HTTP 403: Resource not accessible by integration")
        if args[:2] == ["issue", "list"]:
            return Completed(0, json.dumps(self.issues))
        if args[:2] == ["issue", "create"]:
            number = 41 + len(self.issues)
            self.issues.append({"number": number, "title": args[args.index("--title") + 1]})
            return Completed(0, f"https://github.com/o/r/issues/{number}\n")
        return Completed(0, "")


@pytest.fixture
def alerting(tmp_path: Path) -> SliReport:
    build_registry(tmp_path)  # its debian pass rate (75 %) is below the 80 % threshold
    report = sli_report(tmp_path, now=NOW)
    assert report.alerts
    return report


def _quiet() -> SliReport:
    report = evaluate([], [], NOW, Thresholds())  # a registry without any run: no alert
    assert not report.alerts, [a.alert_text() for a in report.alerts]
    return report


def test_first_alert_opens_the_issue_and_later_ones_update_it(alerting: SliReport) -> None:
    gh = FakeGh()
    first = deliver(alerting, gh)
    assert (first.action, first.issue, first.exit_code) == ("opened", 41, ExitCode.OK)
    second = deliver(alerting, gh)
    assert (second.action, second.issue) == ("updated", 41)
    assert len(gh.issues) == 1  # never a second open issue
    assert [c[:2] for c in gh.calls] == [
        ["issue", "list"],
        ["issue", "create"],
        ["issue", "list"],
        ["issue", "edit"],
        ["issue", "comment"],
    ]
    assert gh.calls[3][2] == gh.calls[4][2] == "41"
    assert all("invoke sli` alerts" in body and "ALERT" in body.upper() for body in gh.bodies)


def test_no_alert_writes_nothing() -> None:
    gh = FakeGh()
    report = deliver(_quiet(), gh)
    assert (report.action, report.exit_code, gh.calls) == ("none", ExitCode.OK, [])


def test_an_undelivered_alert_exits_4(alerting: SliReport) -> None:
    report = deliver(alerting, FakeGh(fail="create"))
    assert report.action == "failed" and report.exit_code == ExitCode.PARTIAL
    assert "403" in report.error and "NOT delivered" in report.to_text()


def test_only_an_exact_title_is_the_issue() -> None:
    listing = json.dumps(
        [
            {"number": 7, "title": f"Re: {ISSUE_TITLE}"},
            {"number": 9, "title": ISSUE_TITLE},
            {"number": 8, "title": ISSUE_TITLE},
        ]
    )
    assert find_open_issue(listing) == 8
    assert find_open_issue("[]") is None and find_open_issue("not json") is None


def test_the_registry_check_uses_its_metrics(tmp_path: Path) -> None:
    build_registry(tmp_path)
    gh = FakeGh()
    report = sli_issue(tmp_path, gh=gh, now=NOW)
    assert report.action == "opened" and report.to_json()["alert"] is True
    assert "validation pass rate" in gh.bodies[0]
