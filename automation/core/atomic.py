"""Crash-safe writes (temp file, fsync, rename) and the per-registry writer lock.

A write that fails (read-only file system, full disk, permission denied) raises its OSError
with the operation noted (``automation.core.errors.note_operation``: the front door names it)
and leaves nothing behind: no temp file, no partial append.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from automation.core.errors import LockedError, note_operation


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        note_operation(exc, f"writing {path}")
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(value: Any, *, pretty: bool = True) -> str:
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def atomic_write_json(path: Path, value: Any, *, pretty: bool = True) -> None:
    atomic_write_text(path, dumps_json(value, pretty=pretty))


def append_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Append compact JSON lines in place with one ``write``, then fsync.

    O(1) per call and no temp file for a kill to leave behind (the old whole-file rewrite was
    quadratic and littered). A kill cannot split one ``write`` to a local file; an unterminated
    tail that a power loss left (never acknowledged) is cut off before the next append, so the
    file stays one record per line.
    """
    if not records:
        return
    data = "".join(dumps_json(r, pretty=False) + "\n" for r in records).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        note_operation(exc, f"appending to {path}")
        raise
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            start = max(0, size - 1_048_576)
            tail = os.pread(fd, size - start, start)
            cut = tail.rfind(b"\n") + 1
            try:
                json.loads(tail[cut:])
                data = b"\n" + data  # a complete last line without its newline: keep it
            except ValueError:
                os.ftruncate(fd, start + cut)  # a torn line: never acknowledged, drop it
                size = start + cut
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            # A full disk can accept part of the records: take them back, so a failed append
            # leaves the file as it was (best effort: the readers skip a torn tail anyway).
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    except OSError as exc:
        note_operation(exc, f"appending to {path}")
        raise
    finally:
        os.close(fd)


LOCK_WAIT_ENV = "AUTOMATION_LOCK_WAIT"


def default_lock_wait() -> float:
    """Seconds a writer waits for the registry lock when the caller does not say.

    ``AUTOMATION_LOCK_WAIT`` (a CI matrix sets it once for every job); 0 (fail fast) otherwise.
    """
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        return max(float(raw), 0.0) if raw else 0.0
    except ValueError:
        return 0.0


@contextlib.contextmanager
def registry_lock(lock_path: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Serialise writers of one registry.

    ``timeout`` seconds to wait for another run to finish (None: :func:`default_lock_wait`);
    when it expires the run fails with LockedError (exit 5), changing nothing.
    """
    wait = default_lock_wait() if timeout is None else max(timeout, 0.0)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(lock_path), timeout=wait)
        lock.acquire()
    except filelock.Timeout as exc:  # an OSError too (TimeoutError): caught first
        waited = f" after waiting {wait:g}s" if wait else ""
        raise LockedError(
            f"another run holds the registry lock {lock_path}{waited}; "
            "retry, or wait for it with --wait SECONDS"
        ) from exc
    except OSError as exc:
        note_operation(exc, f"taking the registry lock {lock_path}")
        raise
    try:
        yield
    finally:
        lock.release()
