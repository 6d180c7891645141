"""What the front doors share: parse flags, render a report, map errors to exit codes, never a
traceback.

Invoke hands every flag over as the string the user typed (``tasks.py`` gives no typed defaults, so
Invoke's own conversion, which ends in a ``ValueError`` traceback, never runs). Each task parses
its flags first with the functions below, inside :func:`run`; a bad or missing value is a
:class:`UsageError` (exit 2) naming the flag and the form it expects. A file-system error on the
way (read-only registry, full disk, permission denied) is exit 3 naming the path and what was
being written; the writes themselves (``automation.core.atomic``) leave nothing half-written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from invoke.exceptions import Exit

from automation.core.errors import (
    AutomationError,
    ExitCode,
    UnsafeNameError,
    UsageError,
    describe_os_error,
)
from automation.core.names import check_recipe_name
from automation.core.report import Report, render

# ``--wait``: a day is longer than any CI job; a bigger number is a typo.
MAX_WAIT_SECONDS = 86_400.0
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SHARD = re.compile(r"(\d+)/(\d+)")


def _emit(text: str, *, stream: TextIO | None = None) -> None:
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except BrokenPipeError:  # `invoke gaps | head`: the reader left; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _fail(message: str, code: ExitCode, *, as_json: bool) -> Exit:
    if as_json:
        _emit(json.dumps({"error": message, "exit_code": int(code)}))
    else:
        _emit(f"error: {message}", stream=sys.stderr)
    return Exit(code=int(code))


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a supervisor, a cancelled CI job, ``kill``) stops the task as Ctrl-C does, so
    the same cleanup runs: containers are removed, work under way is recorded or left for a
    rerun. Without it the process dies at once and leaves its containers running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(produce: Callable[[], Report], *, as_json: bool) -> None:
    """Call ``produce`` (which parses the task's flags, then does the work), print its report
    (JSON with ``--json``) and exit with its code.

    Expected failures never print a traceback: an :class:`AutomationError` exits with its own
    code, an ``OSError`` (read-only file system, full disk, permission denied...) with 3 and a
    message naming the path and the operation (a failing SQLite cache too), Ctrl-C or SIGTERM
    with 130.
    """
    try:
        with _sigterm_as_interrupt():
            report = produce()
    except AutomationError as exc:
        raise _fail(str(exc), exc.exit_code, as_json=as_json) from None
    except OSError as exc:
        raise _fail(describe_os_error(exc), ExitCode.DATA_ERROR, as_json=as_json) from None
    except sqlite3.OperationalError as exc:  # the failure index (a cache): full, read-only, I/O
        name = getattr(exc, "sqlite_errorname", "")
        message = f"the failure index cache could not be used: {exc}" + (
            f" [{name}]" if name else ""
        )
        raise _fail(message, ExitCode.DATA_ERROR, as_json=as_json) from None
    except KeyboardInterrupt:
        _emit("interrupted", stream=sys.stderr)
        raise Exit(code=130) from None
    _emit(render(report, as_json=as_json))
    if report.exit_code != ExitCode.OK:
        raise Exit(code=int(report.exit_code))


# Flag parsing. ``flag`` is the name as typed (``"--batch-size"``); ``value`` what Invoke passed:
# None when the flag was not given, else a string.


def _given(value: str | None) -> str | None:
    """None for an absent or blank flag, else the value without surrounding blanks."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def required(flag: str, value: str | None, *, expected: str) -> str:
    """The value of a flag the task cannot run without; ``expected`` says what it looks like."""
    text = _given(value)
    if text is None:
        raise UsageError(f"{flag} is required: {expected}")
    return text


def required_list(flag: str, values: Sequence[str] | None, *, expected: str) -> list[str]:
    """A repeatable flag that must be given at least once (blank values are ignored)."""
    given = [text for text in (_given(v) for v in values or ()) if text is not None]
    if not given:
        raise UsageError(f"{flag} is required (repeatable): {expected}")
    return given


def names(flag: str, values: Sequence[str] | None, *, expected: str) -> list[str]:
    """A repeatable, optional flag of recipe names, lowercased, each once, in the order given
    (blank values are ignored); one that is no recipe name is a usage error."""
    out: list[str] = []
    for value in values or ():
        text = _given(value)
        if text is None:
            continue
        try:
            name = check_recipe_name(text.lower())
        except UnsafeNameError:
            raise UsageError(f"{flag} {text!r} is not a recipe name: {expected}") from None
        if name not in out:
            out.append(name)
    return out


def integer(
    flag: str, value: str | None, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    """A whole number in ``[minimum, maximum]`` (``default`` when absent); ``1e9``, ``10.0`` and
    ``1_000`` are refused, they are not what the user meant to type."""
    text = _given(value)
    if text is None:
        return default
    if maximum is None:
        form = f"a whole number, at least {minimum}"
    else:
        form = f"a whole number from {minimum} to {maximum}"
    if not _INTEGER.fullmatch(text):
        raise UsageError(f"{flag}: expected {form}, got {text!r}")
    number = int(text)
    if number < minimum or (maximum is not None and number > maximum):
        raise UsageError(f"{flag}: expected {form}, got {number}")
    return number


def decimal(
    flag: str,
    value: str | None,
    *,
    minimum: float,
    maximum: float,
    above_minimum: bool = False,
) -> float | None:
    """A finite number in ``[minimum, maximum]`` (``(minimum, maximum]`` with
    ``above_minimum``); None when absent, so the task's own default applies."""
    text = _given(value)
    if text is None:
        return None
    low = f"above {minimum:g}" if above_minimum else f"from {minimum:g}"
    form = f"a number {low} to {maximum:g}"
    if not _DECIMAL.fullmatch(text):
        raise UsageError(f"{flag}: expected {form}, got {text!r}")
    number = float(text)
    too_low = number <= minimum if above_minimum else number < minimum
    if not math.isfinite(number) or too_low or number > maximum:
        raise UsageError(f"{flag}: expected {form}, got {text}")
    return number


def wait_seconds(flag: str, value: str | None) -> float | None:
    """``--wait``: seconds to wait for the registry lock (0 fails fast); None when absent."""
    return decimal(flag, value, minimum=0.0, maximum=MAX_WAIT_SECONDS)


def choice(flag: str, value: str | None, choices: Collection[str]) -> str | None:
    """One of ``choices`` (as typed, lowercased); None when absent."""
    text = _given(value)
    if text is None:
        return None
    if text.lower() not in choices:
        raise UsageError(f"{flag}: expected one of {', '.join(sorted(choices))}, got {text!r}")
    return text.lower()


def batch_id(flag: str, value: str | None, *, expected: str | None = None) -> str | None:
    """A batch id in the form merge can record (``YYYY-MM-DD[-suffix]``): checked where it enters,
    so a batch is never generated under a name its merge would refuse. Required when
    ``expected`` (what the batch is for) is given, else None when absent."""
    from automation.registry.staging import BATCH_ID_FORM, is_batch_id

    if expected is not None:
        text: str | None = required(flag, value, expected=f"{expected}, {BATCH_ID_FORM}")
    else:
        text = _given(value)
    if text is None:
        return None
    if not is_batch_id(text):
        raise UsageError(f"{flag}: expected {BATCH_ID_FORM}, got {text!r}")
    return text


def existing_batch(flag: str, value: str | None, *, expected: str) -> str:
    """The id of a batch that exists already (rollback, abandon): any safe folder name, so a
    batch made before ids were checked can still be released."""
    from automation.core.names import RECIPE_NAME

    text = required(flag, value, expected=expected)
    if not RECIPE_NAME.fullmatch(text) or ".." in text:
        raise UsageError(
            f"{flag}: expected a batch id such as 2026-11-27-173501-<ecosystem>, got {text!r}"
        )
    return text


def shard(flag: str, value: str | None) -> str | None:
    """``K/N`` with ``1 <= K <= N``: a CI matrix job's share of a batch; None when absent."""
    text = _given(value)
    if text is None:
        return None
    match = _SHARD.fullmatch(text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise UsageError(f"{flag}: expected K/N with 1 <= K <= N (e.g. 2/4), got {text!r}")
    return text


def timestamp(flag: str, value: str | None) -> str | None:
    """An RFC 3339 time (``2026-11-27T12:00:00Z``); None when absent."""
    from automation.core.timefmt import parse_timestamp

    text = _given(value)
    if text is None:
        return None
    try:
        parse_timestamp(text)
    except ValueError:
        raise UsageError(
            f"{flag}: expected an RFC 3339 time such as 2026-11-27T12:00:00Z, got {text!r}"
        ) from None
    return text


def window(flag: str, value: str | None) -> str | None:
    """A duration such as ``7d``, ``48h``, ``90m``, ``2w``; None when absent."""
    from automation.learn.sli import parse_window

    text = _given(value)
    if text is None:
        return None
    try:
        parse_window(text)
    except UsageError:
        raise UsageError(
            f"{flag}: expected a positive duration such as 7d, 48h, 90m or 2w, got {text!r}"
        ) from None
    return text


def _checked_path(flag: str, text: str) -> Path:
    if "\0" in text:
        raise UsageError(f"{flag}: a path cannot contain a NUL character")
    return Path(text)


def existing_file(flag: str, value: str | None, *, base: Path, expected: str) -> Path:
    """A file that must exist (relative paths are taken from ``base``)."""
    path = base / _checked_path(flag, required(flag, value, expected=expected))
    if not path.is_file():
        raise UsageError(f"{flag}: no such file {path}")
    return path


def optional_file(flag: str, value: str | None) -> Path | None:
    """A file that must exist when given (``--config``); None when absent."""
    text = _given(value)
    if text is None:
        return None
    path = _checked_path(flag, text)
    if not path.is_file():
        raise UsageError(f"{flag}: no such file {path}")
    return path


def registry_root(flag: str, value: str | None) -> Path:
    """``--root``: a directory, or a path not created yet (an empty registry is made on first
    write); an existing file is refused."""
    path = _checked_path(flag, _given(value) or ".")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag}: {path} is not a directory")
    return path


def output_dir(flag: str, value: str | None, *, expected: str) -> Path:
    """A directory to write into, created here if missing, so an impossible path
    (``--out /etc/passwd/site``, ``--out /proc/site``) is a usage error naming the flag."""
    path = _checked_path(flag, required(flag, value, expected=expected))
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag}: {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{flag}: cannot create the directory: {describe_os_error(exc)}") from None
    return path


def output_file(flag: str, value: str | None) -> Path | None:
    """A file to write (``--output``); None when absent. Refused when it is a directory or its
    nearest existing folder is not a directory."""
    text = _given(value)
    if text is None:
        return None
    path = _checked_path(flag, text)
    if path.is_dir():
        raise UsageError(f"{flag}: {path} is a directory, expected a file path")
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag}: cannot create {path}: {ancestor} is not a directory")
    return path
