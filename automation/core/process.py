"""The one process runner: local validation, the container engine calls and git go through it.

``run_process`` never raises for what a process does: a non-zero exit, a timeout and a missing
executable all come back as a :class:`Completed` value. Output is read while the process runs and
capped (the tail is kept: a failing tool says why at the end), so a runaway process cannot fill
the memory. On a timeout, or when the caller is interrupted (Ctrl-C), the whole process group is
killed: package managers start children that would otherwise outlive the run.

The in-container installer cannot import this module (only its kit folder is in the container);
it keeps a minimal runner of the same shape, and local validation hands it this one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TIMEOUT_EXIT = 124  # what coreutils' timeout reports; recorded when the runner gives up
NOT_FOUND_EXIT = 127  # what a shell reports for a missing command
NOT_RUNNABLE_EXIT = 126  # found but not executable (permissions, bad interpreter)
DEFAULT_OUTPUT_LIMIT = 4 << 20  # bytes kept per stream
_READ_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Completed:
    """What one process did.

    ``output`` is stdout with stderr interleaved, or stdout alone when the caller asked for the
    streams apart (then ``stderr`` holds the other one). ``missing`` means the executable was not
    found (``exit_code`` 127); ``truncated`` that the head of the output was dropped at the cap.
    """

    exit_code: int
    output: str
    timed_out: bool = False
    missing: bool = False
    stderr: str = ""
    truncated: bool = False
    duration: float = 0.0
    argv: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Exited 0 within its time."""
        return self.exit_code == 0 and not self.timed_out


# argv, environment (None: inherit), working directory (None: inherit), timeout in seconds.
Runner = Callable[
    [Sequence[str], Mapping[str, str] | None, str | Path | None, float | None], Completed
]


class _TailBuffer:
    """Keeps the last ``limit`` bytes written to it (all of them when ``limit`` is None)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if self.limit is not None and len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]
            self.dropped = True

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def _drain(stream: IO[bytes], sink: _TailBuffer) -> None:
    with contextlib.suppress(OSError, ValueError):
        while True:
            chunk = stream.read1(_READ_CHUNK)  # type: ignore[attr-defined]
            if not chunk:
                break
            sink.add(chunk)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The child leads its own session (start_new_session): its group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def run_process(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    *,
    merge_stderr: bool = True,
    output_limit: int | None = DEFAULT_OUTPUT_LIMIT,
) -> Completed:
    """Run ``argv`` with no stdin and captured output; every outcome is a value, never raised.

    ``env`` replaces the environment when given; ``timeout`` (seconds) kills the process group
    and reports ``timed_out`` with exit code 124; a missing executable is exit code 127 with
    ``missing`` set. ``merge_stderr=False`` keeps stderr apart (``Completed.stderr``).
    ``output_limit`` caps each stream to its last bytes (None: no cap).
    """
    command = tuple(str(a) for a in argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        return Completed(NOT_FOUND_EXIT, str(exc), missing=True, argv=command)
    except OSError as exc:  # permission denied, exec format error, a cwd that is gone
        return Completed(NOT_RUNNABLE_EXIT, str(exc), argv=command)
    out, err = _TailBuffer(output_limit), _TailBuffer(output_limit)
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True)]
    if not merge_stderr:
        readers.append(threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True))
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            proc.wait()
    except BaseException:  # Ctrl-C while waiting: the children must not outlive the caller
        _kill_group(proc)
        raise
    for reader in readers:
        # A grandchild outside the group may still hold the pipe: do not wait for it forever
        # (a reader still blocked keeps its stream; closing it under the reader would block).
        reader.join(timeout=5)
    if not any(reader.is_alive() for reader in readers):
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return Completed(
        TIMEOUT_EXIT if timed_out else proc.returncode,
        out.text(),
        timed_out=timed_out,
        stderr=err.text(),
        truncated=out.dropped or err.dropped,
        duration=time.monotonic() - start,
        argv=command,
    )
