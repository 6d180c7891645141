"""Background work on the other core: same result or exception as running it in-process."""

from __future__ import annotations

import os
import threading

import pytest

from automation.core import parallel
from automation.core.errors import DataError


def _pid_and_sum(a: int, b: int) -> tuple[int, int]:
    return os.getpid(), a + b


def _fails(path: str) -> None:
    raise DataError("bad recipe", path=path, where="metadata.name")


def test_background_runs_in_a_child_when_single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    pid, total = parallel.Background(_pid_and_sum, 2, 3).result()
    assert total == 5 and pid != os.getpid()


def test_background_reraises_the_childs_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 1)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    with pytest.raises(DataError) as caught:
        parallel.Background(_fails, "recipes/x/x.toml").result()
    assert caught.value.path == "recipes/x/x.toml" and caught.value.where == "metadata.name"


def test_with_other_threads_the_work_runs_in_process() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not parallel.can_fork()
        pid, total = parallel.Background(_pid_and_sum, 1, 1).result()
        assert (pid, total) == (os.getpid(), 2)
    finally:
        stop.set()
        thread.join()
