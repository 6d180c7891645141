"""What the front doors share: render a report, map errors to exit codes, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from invoke.exceptions import Exit

from automation.errors import AutomationError, ExitCode
from automation.report import Report, render


def run(produce: Callable[[], Report], *, as_json: bool) -> None:
    """Call ``produce``, print its report (JSON on stdout with ``--json``) and exit with its code."""
    try:
        report = produce()
    except AutomationError as exc:
        if as_json:
            import json

            print(json.dumps({"error": str(exc), "exit_code": int(exc.exit_code)}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        raise Exit(code=int(exc.exit_code)) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise Exit(code=130) from None
    print(render(report, as_json=as_json))
    if report.exit_code != ExitCode.OK:
        raise Exit(code=int(report.exit_code))
