"""Using the second core for independent CPU-bound work, safely.

Work runs in forked processes only from a single-threaded process: a fork starts in
milliseconds and re-imports nothing (``spawn`` would re-run the caller's ``__main__``), and
forking a process that has other threads can deadlock the child on a lock held by one of them.
Anywhere else (threads, no ``fork``, one CPU) the callers run the work in-process instead, with
the same result.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """Forking is safe and useful here: a single thread, ``fork`` available, several CPUs."""
    return (
        (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _child(connection: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        connection.send(("ok", fn(*args)))
    except BaseException as exc:  # reported to the parent, which raises it
        try:
            connection.send(("error", exc))
        except Exception:  # an exception that does not pickle
            connection.send(("error", RuntimeError(traceback.format_exc()[-2000:])))
    finally:
        connection.close()


class Background(Generic[T]):
    """``fn(*args)`` started now in a forked process (or run at ``result()`` when forking is
    not safe); ``result()`` returns its value or raises its exception."""

    def __init__(self, fn: Callable[..., T], *args: Any, worth_it: bool = True) -> None:
        self._fn, self._args = fn, args
        self._process: Any = None
        if worth_it and can_fork():
            context = multiprocessing.get_context("fork")
            self._receiver, sender = context.Pipe(duplex=False)
            self._process = context.Process(target=_child, args=(sender, fn, args), daemon=True)
            self._process.start()
            sender.close()

    def result(self) -> T:
        if self._process is None:
            return self._fn(*self._args)
        try:
            status, value = self._receiver.recv()
        except EOFError:
            raise RuntimeError(f"background {self._fn.__name__} died without a result") from None
        finally:
            self._receiver.close()
            self._process.join()
        if status == "error":
            raise value
        return value  # type: ignore[no-any-return]
