"""nox sessions: each one narrates and calls make/invoke targets or importable code, nothing more."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (live PyPI/npm tests included)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "automation", "tests", "tasks.py", "noxfile.py")
    session.run("mypy")
