"""One error hierarchy, mapped to the fixed exit codes every task documents."""

from __future__ import annotations

import enum
import errno


class ExitCode(enum.IntEnum):
    """Process exit codes shared by every task (documented in README.md)."""

    OK = 0
    USAGE = 2  # bad flags or arguments
    DATA_ERROR = 3  # a data file or recipe is invalid, or the registry cannot be written
    PARTIAL = 4  # the run finished but some items failed
    STOPPED = 5  # emergency stop or an open circuit breaker stopped the run
    DRIFT = 6  # checksum drift detected
    DEFERRED = 7  # a runner budget defers the job (invoke budget-check)


class AutomationError(Exception):
    """Base class: every expected failure carries its exit code and a clear message."""

    exit_code: ExitCode = ExitCode.DATA_ERROR


class UsageError(AutomationError):
    exit_code = ExitCode.USAGE


class DataError(AutomationError):
    """Invalid data: the message names the file and the field or line."""

    exit_code = ExitCode.DATA_ERROR

    def __init__(self, message: str, *, path: str | None = None, where: str | None = None):
        self.path = path
        self.where = where
        prefix = ""
        if path:
            prefix = f"{path}"
            if where:
                prefix += f":{where}"
            prefix += ": "
        super().__init__(prefix + message)
        self.detail = message


class UnsafeNameError(DataError):
    """A name from an untrusted source cannot be used as a registry path or TOML value."""


class StoppedError(AutomationError):
    """The control file (emergency stop) or a breaker says stop."""

    exit_code = ExitCode.STOPPED


class LockedError(AutomationError):
    """Another run holds the registry lock."""

    exit_code = ExitCode.STOPPED


# What the front door says about the file-system errors a registry meets in practice; any other
# OSError is still reported with its errno name and path, never as a traceback.
_STORAGE_HINTS = {
    errno.EROFS: "the file system is mounted read-only",
    errno.ENOSPC: "the disk is full: free space and rerun (reruns resume where this one stopped)",
    errno.EDQUOT: "the disk quota is exhausted: free space and rerun",
    errno.EACCES: "permission denied: check who owns that path",
    errno.EPERM: "operation not permitted: check who owns that path",
    errno.EIO: "the storage device reported an I/O error",
}
_OPERATION_NOTE = "while "


def note_operation(exc: BaseException, operation: str) -> None:
    """Record on ``exc`` what was being done (``"writing data/queues/priority-queue.json"``), so
    the front door can name it; the innermost note wins."""
    if operation_of(exc) is None:
        exc.add_note(_OPERATION_NOTE + operation)


def operation_of(exc: BaseException) -> str | None:
    """The operation :func:`note_operation` recorded on ``exc``, if any."""
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, str) and note.startswith(_OPERATION_NOTE):
            return note[len(_OPERATION_NOTE) :]
    return None


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError: the operation, the errno name and text, the path(s), a hint."""
    name = errno.errorcode.get(exc.errno or 0, "")
    reason = exc.strerror or str(exc)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    operation = operation_of(exc)
    if operation:
        text = f"{operation} failed"
    elif paths or exc.errno in _STORAGE_HINTS:
        text = "file-system error"
    else:
        text = f"system error ({type(exc).__name__})"
    text += f": {reason}" + (f" [{name}]" if name else "")
    if paths:
        text += f" at {' -> '.join(paths)}"
    hint = _STORAGE_HINTS.get(exc.errno or 0)
    if hint:
        text += f" ({hint})"
    return text
