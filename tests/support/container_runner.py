"""A container engine runner that records the commands and answers them from a script."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from automation.containers.runtime import (
    Completed,
)


class FakeRunner:
    """Records every command; answers from a list of (predicate, Completed-factory) rules."""

    def __init__(
        self,
        rules: Sequence[tuple[Callable[[list[str]], bool], Callable[[list[str]], Completed]]] = (),
    ):
        self.calls: list[list[str]] = []
        self.rules = list(rules)

    def __call__(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        argv = list(args)
        self.calls.append(argv)
        for predicate, answer in self.rules:
            if predicate(argv):
                return answer(argv)
        return Completed(tuple(argv), 0)

    def verbs(self) -> list[str]:
        return [" ".join(c[1:3]) if c[1] == "network" else c[1] for c in self.calls]
