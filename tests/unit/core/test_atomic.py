"""Writes are atomic (a failed write keeps the old file); the registry lock excludes a second
writer."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from automation.core.atomic import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    registry_lock,
)
from automation.core.errors import LockedError, describe_os_error


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert os.listdir(target.parent) == ["file.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    atomic_write_text(target, "old")

    class Boom:
        def encode(self, _: str) -> bytes:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write_text(target, Boom())  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_append_jsonl_adds_compact_lines(tmp_path: Path) -> None:
    target = tmp_path / "r.jsonl"
    target.write_text('{"x":1}')  # no trailing newline: a truncated earlier writer
    append_jsonl(target, [{"y": 2}, {"z": 3}])
    assert target.read_text().splitlines() == ['{"x":1}', '{"y":2}', '{"z":3}']


def test_second_writer_is_locked_out(tmp_path: Path) -> None:
    lock = tmp_path / ".automation.lock"
    with registry_lock(lock), pytest.raises(LockedError), registry_lock(lock):
        pass
    with registry_lock(lock):  # released after the first context
        pass


def _no_space(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "queue.json"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(OSError) as caught:
        atomic_write_bytes(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.json"]
    message = describe_os_error(caught.value)
    assert message.startswith(f"writing {target} failed: No space left on device [ENOSPC]")
    assert "disk is full" in message


def test_a_failed_append_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a":1}\n')
    real_write = os.write
    calls = []

    def half_then_full(fd: int, data: Any) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError) as caught:
        append_jsonl(path, [{"b": 2}, {"c": 3}])
    assert len(calls) == 2  # part of the data did land before the disk filled
    assert path.read_bytes() == b'{"a":1}\n'
    assert describe_os_error(caught.value).startswith(f"appending to {path} failed")
