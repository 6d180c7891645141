"""A fake podman for the validation matrix: it answers each environment's installer run."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from automation.containers import installer
from automation.containers.environments import load_environments
from automation.containers.runtime import Completed

BY_ID = {e.id: e for e in load_environments()}


def record(status: str, category: str = "", sub: str = "", **kw: object) -> dict:
    """An installer result record (``message`` defaults to ``msg``)."""
    return installer.result(status, category, sub, kw.pop("message", "msg"), **kw)  # type: ignore[arg-type]


class Engine:
    """A fake podman: ``answer(env_id, recipe, phase)`` gives the installer's record (or None
    for a process that printed nothing), and containers are tracked by name."""

    def __init__(self, answer: Callable[[str, str, str], dict | Completed]):
        self.answer = answer
        self.names: dict[str, tuple[str, str]] = {}
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        argv = list(args)
        self.calls.append(argv)
        if argv[1] == "run":
            name = argv[argv.index("--name") + 1]
            env = next(e for e in BY_ID if e in argv[argv.index("--pull=never") :][-4])
            recipe = name.split("-")[1]
            self.names[name] = (env, recipe)
        if argv[1] == "exec":
            env, recipe = self.names[argv[2]]
            phase = "verify" if "verify" in argv else "install"
            got = self.answer(env, recipe, phase)
            if isinstance(got, Completed):
                return got
            return Completed(tuple(argv), int(got["exit_code"]), json.dumps(got) + "\n")
        return Completed(tuple(argv), 0)
