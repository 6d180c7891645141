"""nox sessions: each one narrates and calls importable code, nothing more."""

from __future__ import annotations

import sys

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
    """ruff (every Python tree the project checks) and strict mypy."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "automation", "tests", "tasks.py", "noxfile.py", "bench")
    session.run("mypy")


@nox.session(venv_backend="none", default=False)
def validate(session: nox.Session) -> None:
    """Validate recipes in containers: `nox -s validate -- debian-12 [--recipe PATH ...]`.

    A positional `PATH.toml` is a recipe too. With no recipe named: the recipes changed against
    the main branch, committed on this branch or not (`--base REF` for another ref), else the
    smoke recipes (`automation/ops/changed_recipes.py`, `docs/BACKFILL.md`).
    `-- --installer tsuku [--tsuku-bin PATH]` installs through a tsuku binary (else TSUKU_BIN).

    Runs in the current environment (the container engine is a system tool, not a package).
    """
    # nox's own interpreter: the kit's venv when nox runs from it (`.venv/bin/nox`).
    module = "automation.ops.changed_recipes"
    session.run(sys.executable, "-m", module, *session.posargs, external=True)


@nox.session(venv_backend="none", default=False)
def setup_containers(session: nox.Session) -> None:
    """Install podman and bootstrap base images (root): `nox -s setup_containers -- debian-12`."""
    session.run("containers/setup.sh", "--build", *session.posargs, external=True)
