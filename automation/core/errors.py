"""One error hierarchy, mapped to the fixed exit codes every task documents."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes shared by every task (documented in README.md)."""

    OK = 0
    USAGE = 2  # bad flags or arguments
    DATA_ERROR = 3  # a data file or recipe is invalid
    PARTIAL = 4  # the run finished but some items failed
    STOPPED = 5  # emergency stop or an open circuit breaker stopped the run
    DRIFT = 6  # checksum drift detected


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
