"""Crash-safe writes (temp file, fsync, rename) and the per-registry writer lock."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from automation.errors import LockedError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
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


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(value: Any, *, pretty: bool = True) -> str:
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def atomic_write_json(path: Path, value: Any, *, pretty: bool = True) -> None:
    atomic_write_text(path, dumps_json(value, pretty=pretty))


def append_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Append compact JSON lines atomically (the file is rewritten with the lines added)."""
    existing = path.read_bytes() if path.exists() else b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    added = "".join(dumps_json(r, pretty=False) + "\n" for r in records).encode("utf-8")
    atomic_write_bytes(path, existing + added)


@contextlib.contextmanager
def registry_lock(lock_path: Path, *, timeout: float = 0) -> Iterator[None]:
    """Serialise writers of one registry; a second run fails fast with LockedError."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path), timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise LockedError(f"another run holds the registry lock {lock_path}") from exc
    try:
        yield
    finally:
        lock.release()
