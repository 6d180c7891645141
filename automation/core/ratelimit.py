"""Rate limits shared beyond one process: a budget per shard, or one bucket per machine.

``automation.core.http.TokenBucket`` limits one process. A batch sharded over a CI matrix
(``invoke generate --shard K/N``) runs N processes against the same registry, so the configured
rate has to be shared between them. Two ways, chosen by ``rate_limit_scope`` (``[http]
rate_limit_scope`` in ``automation.toml`` or ``AUTOMATION_RATE_LIMIT_SCOPE``):

* ``process`` (default): every process has its own buckets, and a process given a shard count N
  (``Config.for_shard``) gets ``rate / N`` per endpoint. The N shards together never exceed the
  configured rate wherever they run: separate hosted runners (the batch workflow's matrix: no
  shared disk) or one machine. A shard that finishes early leaves its share unused.
* ``machine``: every process on this machine shares one bucket per endpoint, a small state file
  under ``rate_limit_dir`` (default ``~/.cache/registry-automation/rate-limits``, or
  ``AUTOMATION_RATE_LIMIT_DIR``) updated under an exclusive ``flock``. The shards are not
  divided: together they take the full rate, and a shard alone takes all of it. Only correct
  when every shard runs on this machine (the same kernel: ``time.monotonic`` is system-wide).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

SCOPES = ("process", "machine")
SCOPE_ENV = "AUTOMATION_RATE_LIMIT_SCOPE"
DIR_ENV = "AUTOMATION_RATE_LIMIT_DIR"


def default_bucket_dir(env: Mapping[str, str]) -> Path:
    """``$AUTOMATION_RATE_LIMIT_DIR``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``)
    ``/registry-automation/rate-limits``: per user and machine, not per checkout, so shards
    working in separate checkouts still share it."""
    chosen = env.get(DIR_ENV, "").strip()
    if chosen:
        return Path(chosen)
    cache = env.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "registry-automation" / "rate-limits"


def per_shard(rates: Mapping[str, float], shards: int) -> dict[str, float]:
    """Each of ``shards`` processes' share of ``rates`` (requests per second per endpoint)."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    return {name: rate / shards for name, rate in rates.items()}


class FileTokenBucket:
    """A token bucket whose balance lives in a file, shared by every process that opens it.

    Same arithmetic as ``TokenBucket`` (``rate`` tokens per second, bursts up to ``burst``; an
    empty bucket is overdrawn and the caller sleeps outside the lock, so callers queue in
    arrival order), but the balance and its time stamp are read and written under an
    exclusive ``flock`` of the file on every ``acquire``. A missing, unreadable or future-dated
    state (a reboot restarts the monotonic clock) starts a full bucket: the worst case is one
    extra burst, never a stall.
    """

    def __init__(
        self,
        path: Path,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.path = path
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._sleep = sleep
        # flock excludes other open files, threads of this process included; this lock only
        # keeps this process's threads from opening the file all at once.
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping if needed; returns the time slept."""
        with self._lock:
            wait = self._take()
        if wait > 0:
            self._sleep(wait)
        return wait

    def _take(self) -> float:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self._clock()
            tokens, stamp = self._read(fd, now)
            tokens = min(self.burst, tokens + (now - stamp) * self.rate) - 1.0
            state = json.dumps({"tokens": tokens, "stamp": now}).encode()
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, state)
        finally:
            os.close(fd)  # releases the flock
        return -tokens / self.rate if tokens < 0 else 0.0

    def _read(self, fd: int, now: float) -> tuple[float, float]:
        raw = os.read(fd, 4096)
        try:
            state = json.loads(raw)
            tokens, stamp = float(state["tokens"]), float(state["stamp"])
        except (ValueError, TypeError, KeyError):
            return self.burst, now
        if stamp > now or tokens != tokens:  # a clock from before a reboot, or NaN
            return self.burst, now
        return tokens, stamp
