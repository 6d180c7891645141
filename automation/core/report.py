"""Results are values: every task returns a Report that renders as text or as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from automation.core.errors import ExitCode

Severity = Literal["error", "warning", "normalised"]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about one place: a file, and a field path or line within it."""

    path: str
    where: str
    message: str
    severity: Severity = "error"

    def to_json(self) -> dict[str, str]:
        return {
            "path": self.path,
            "where": self.where,
            "severity": self.severity,
            "message": self.message,
        }

    def __str__(self) -> str:
        place = f"{self.path}:{self.where}" if self.where else self.path
        return f"{self.severity}: {place}: {self.message}"


class Report(Protocol):
    def to_json(self) -> dict[str, Any]: ...

    def to_text(self) -> str: ...

    @property
    def exit_code(self) -> ExitCode: ...


@dataclass
class Problems:
    """An accumulating list of problems with helpers to count by severity."""

    items: list[Problem] = field(default_factory=list)

    def add(self, path: str, where: str, message: str, severity: Severity = "error") -> None:
        self.items.append(Problem(path, where, message, severity))

    def extend(self, problems: list[Problem]) -> None:
        self.items.extend(problems)

    def count(self, severity: Severity) -> int:
        return sum(1 for p in self.items if p.severity == severity)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]


def render(report: Report, *, as_json: bool) -> str:
    if as_json:
        return json.dumps(report.to_json(), indent=2, sort_keys=False, ensure_ascii=False)
    return report.to_text()
