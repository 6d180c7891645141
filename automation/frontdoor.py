"""What the front doors share: render a report, map errors to exit codes, never a traceback."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TextIO

from invoke.exceptions import Exit

from automation.core.errors import AutomationError, ExitCode
from automation.core.report import Report, render


def _emit(text: str, *, stream: TextIO | None = None) -> None:
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except BrokenPipeError:  # `invoke gaps | head`: the reader left; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run(produce: Callable[[], Report], *, as_json: bool) -> None:
    """Call ``produce``, print its report (JSON with ``--json``), exit with its code."""
    try:
        report = produce()
    except AutomationError as exc:
        if as_json:
            _emit(json.dumps({"error": str(exc), "exit_code": int(exc.exit_code)}))
        else:
            _emit(f"error: {exc}", stream=sys.stderr)
        raise Exit(code=int(exc.exit_code)) from None
    except KeyboardInterrupt:
        _emit("interrupted", stream=sys.stderr)
        raise Exit(code=130) from None
    _emit(render(report, as_json=as_json))
    if report.exit_code != ExitCode.OK:
        raise Exit(code=int(report.exit_code))
