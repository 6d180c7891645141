"""Helpers the tests share: a fake upstream server, pipeline fakes, a dashboard registry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def python_env() -> dict[str, str]:
    """The environment for a child Python that imports ``automation`` and ``tests.support``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPOSITORY_ROOT), env.get("PYTHONPATH")) if p
    )
    return env


def driver_command(*argv: str) -> list[str]:
    """``python -m tests.support.pipeline_fakes ARGV...``: the pipeline driver tests run as a
    separate process (to kill it, or to run several side by side)."""
    return [sys.executable, "-m", "tests.support.pipeline_fakes", *argv]
