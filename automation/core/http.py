"""The one HTTP client of a run: pooled session, retries, per-endpoint rate limits, typed errors.

Every upstream request of the kit goes through ``HttpClient`` (inject it; tests point its
endpoints at a local server). Failures become ``HttpError`` subclasses whose ``category`` is
stable and can be recorded: ``not_found``, ``rate_limited``, ``upstream_error``,
``network_error`` (transient: connection, DNS, timeout) and ``bad_response``.

Bounds, so that no upstream can hold a run (``Config``; ``automation.toml`` ``[http]`` or
``AUTOMATION_HTTP_*``):

* every logical request has an overall deadline (``request_deadline``, whole-file downloads
  ``download_deadline``) covering connect, retries, headers and every body read. A watchdog
  thread shuts the request's socket down when it passes, so a server that stalls or drips one
  byte at a time (each read well inside the per-read timeout) fails as ``TimedOut``;
* a Retry-After longer than ``max_retry_after`` (or than the time the deadline leaves) is not
  slept: the 429/503 is answered at once as ``RateLimited``/``UpstreamError``;
* a body is capped per call: a declared Content-Length over the cap is refused before reading,
  an endless body as soon as it passes the cap.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import heapq
import itertools
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from automation import USER_AGENT
from automation.core.config import Config
from automation.core.ecosystem_facts import declared_endpoints
from automation.core.errors import AutomationError, ExitCode
from automation.core.jsondata import bounds_message
from automation.core.ratelimit import FileTokenBucket, default_bucket_dir

SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK = 64 * 1024


class HttpError(AutomationError):
    """An upstream request failed; ``category`` is stable and safe to record."""

    category: ClassVar[str] = "http_error"
    transient: ClassVar[bool] = False
    exit_code = ExitCode.PARTIAL

    def __init__(self, message: str, *, url: str, status: int | None = None):
        super().__init__(f"{message} ({url})")
        self.url = url
        self.status = status
        # The configured endpoint the request was for (set by HttpClient; None: an absolute
        # URL under no endpoint, or raised outside the client).
        self.endpoint: str | None = None


class NotFound(HttpError):
    category = "not_found"
    exit_code = ExitCode.DATA_ERROR


class RateLimited(HttpError):
    category = "rate_limited"
    transient = True


class UpstreamError(HttpError):
    category = "upstream_error"
    transient = True


class NetworkError(HttpError):
    category = "network_error"
    transient = True


class TimedOut(NetworkError):
    """The request's overall deadline (or a per-read timeout) ran out."""


class Aborted(NetworkError):
    """The client was told to abort (``HttpClient.abort``) before this request finished."""


class BadResponse(HttpError):
    category = "bad_response"
    exit_code = ExitCode.DATA_ERROR


class ResponseTooLarge(BadResponse):
    """The body is larger than the call's cap (declared, or found while streaming)."""


# ---------------------------------------------------------------- deadlines


class _Deadline:
    """The time one logical request may take; ``expire`` shuts down the sockets it reads from.

    Sockets are attached as responses start (``_DeadlineConnectionMixin``); shutting one down
    wakes a read blocked in another thread, which then fails and is reported as ``TimedOut``.
    """

    __slots__ = ("_done", "_lock", "_sockets", "expired", "expires", "seconds")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    @property
    def done(self) -> bool:
        return self._done

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            self._sockets.append(sock)
            late = self.expired
        if late:
            _shutdown(sock)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return  # finished in time; its sockets may already serve another request
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread expiring deadlines in time order (no thread per request).

    The thread ends as soon as no request is in flight: a lingering thread would make the
    process multi-threaded for good, and ``automation.core.parallel`` forks only from a
    single-threaded process.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: _Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.expires, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="http-deadline-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def wake(self) -> None:
        """A deadline finished: let the thread drop it (and end when none is left)."""
        with self._cond:
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._thread = None
                    return
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, deadline = heapq.heappop(self._heap)
                deadline.expire()


_WATCHDOG = _Watchdog()
_ACTIVE = threading.local()  # the deadline of the request this thread is making


def _active_deadline() -> _Deadline | None:
    deadline: _Deadline | None = getattr(_ACTIVE, "deadline", None)
    return deadline


class _DeadlineConnectionMixin:
    """Hands the socket of every response this thread reads to the request's deadline."""

    sock: socket.socket | None

    def getresponse(self) -> Any:
        deadline = _active_deadline()
        if deadline is not None and self.sock is not None:
            deadline.attach(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _DeadlineHTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _DeadlineHTTPPool,
    "https": _DeadlineHTTPSPool,
}


class TokenBucket:
    """Thread-safe token bucket: ``rate`` tokens per second, bursts up to ``burst``.

    A caller that finds the bucket empty reserves the next token (the balance goes negative)
    and sleeps outside the lock, so waiting threads queue fairly in arrival order.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping if needed; returns the time slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class _CappedRetry(Retry):
    """urllib3 Retry bounded by ``max_retry_after`` and by the request's deadline.

    A Retry-After longer than the cap, or any wait (Retry-After or backoff) that would end past
    the deadline, is not slept: the retries stop and the last response (429, 503) is answered.
    """

    max_retry_after: float = 30.0
    abort: threading.Event | None = None  # set: no further attempt, no sleep to finish

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after:
            self._wait(retry_after)
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self._wait(backoff)

    def _wait(self, seconds: float) -> None:
        if self.abort is None:
            time.sleep(seconds)
        else:
            self.abort.wait(seconds)  # an abort ends the wait at once

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after)

    def new(self, **kw: Any) -> _CappedRetry:
        new = super().new(**kw)
        new.max_retry_after = self.max_retry_after
        new.abort = self.abort
        return new

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _CappedRetry:
        deadline = _active_deadline()
        if deadline is not None and deadline.expired:
            raise MaxRetryError(_pool, url, error or ResponseError("deadline passed"))
        if self.abort is not None and self.abort.is_set():
            raise MaxRetryError(_pool, url, error or ResponseError("aborted"))
        if response is not None:
            asked = Retry.get_retry_after(self, response)
            left = deadline.remaining() if deadline is not None else float("inf")
            if asked is not None and (asked > self.max_retry_after or asked >= left):
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {asked:g} s"))
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if deadline is not None and new.get_backoff_time() >= deadline.remaining():
            raise MaxRetryError(_pool, url, error or ResponseError("no time left to retry"))
        return new


def ca_bundle(env: Mapping[str, str]) -> str | bool:
    """``REQUESTS_CA_BUNDLE`` semantics, with the system bundle as the default when present.

    TLS-intercepting proxies are trusted through the host's bundle, not certifi's.
    """
    for key in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if env.get(key):
            return env[key]
    return str(SYSTEM_CA_BUNDLE) if SYSTEM_CA_BUNDLE.is_file() else True


class _TlsContext:
    """One ``SSLContext`` holding the CA bundle ``verify`` names, parsed on first use.

    ``verify`` has requests' meaning: a bundle file or directory, or True for certifi's bundle.
    """

    def __init__(self, verify: str | bool):
        self.verify = verify
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._failed = False

    def get(self) -> ssl.SSLContext | None:
        """The loaded context; None when the bundle cannot be read (requests then reports it)."""
        if self._context is not None or self._failed or self.verify is False:
            return self._context
        with self._lock:
            if self._context is None and not self._failed:
                location = DEFAULT_CA_BUNDLE_PATH if self.verify is True else str(self.verify)
                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                try:
                    if os.path.isdir(location):
                        context.load_verify_locations(capath=location)
                    else:
                        context.load_verify_locations(cafile=location)
                except (OSError, ssl.SSLError):
                    self._failed = True
                else:
                    self._context = context
        return self._context


class _PreloadedTlsAdapter(HTTPAdapter):
    """HTTPAdapter whose HTTPS connections share one preloaded CA context.

    requests passes the bundle's path down to every new connection, and urllib3 re-reads and
    parses the whole bundle each time (about 50 ms of CPU per connection, most of it holding
    the GIL: the biggest client-side cost of a live run after JSON decoding). Requests whose
    ``verify`` is the client's own bundle use the preloaded context instead; certificate and
    hostname verification are unchanged. Any other ``verify`` (False, a different bundle)
    keeps requests' behaviour.
    """

    def __init__(self, tls: _TlsContext, **kwargs: Any):
        self._tls = tls
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # Pools whose connections report their sockets to the request deadline.
        self.poolmanager.pool_classes_by_scheme = _DEADLINE_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _DEADLINE_POOLS
        return manager

    def _preloaded(self, url: str | None, verify: object) -> ssl.SSLContext | None:
        if verify != self._tls.verify or not (url or "").lower().startswith("https:"):
            return None
        return self._tls.get()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[Any, Any]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        context = self._preloaded(request.url, verify)
        if context is not None:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = context
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The stub leaves cert_verify untyped; it still fails clearly on a missing bundle.
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if self._preloaded(url, verify) is not None:
            conn.ca_certs = None
            conn.ca_cert_dir = None


class Secret:
    """A credential that never shows up in repr/str, logs or tracebacks' locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class RangeResult:
    """A ranged GET: ``partial`` is False when the server ignored Range and sent everything."""

    status: int
    body: bytes
    partial: bool
    total_size: int | None


class HttpClient:
    """Pooled, rate-limited, retrying GETs against the configured endpoints."""

    def __init__(
        self,
        config: Config,
        *,
        session: requests.Session | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ):
        env = os.environ if env is None else env
        self.config = config
        # Set by abort(): requests not finished fail at once (waits for tokens and between
        # attempts end early), so a caller that gave up does not wait out their retries.
        self._aborted = threading.Event()
        pause: Callable[[float], object] = self._aborted.wait if sleep is None else sleep
        self.session = session or requests.Session()
        retry = _CappedRetry(
            total=config.retries,
            connect=config.retries,
            read=config.retries,
            status=config.retries,
            other=0,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            backoff_factor=config.backoff_factor,
            backoff_max=max(config.max_retry_after, 1.0),
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        retry.max_retry_after = config.max_retry_after
        retry.abort = self._aborted
        pool = max(config.threads, 1) + 2
        self.session.verify = ca_bundle(env)
        tls = _TlsContext(self.session.verify)
        adapter = _PreloadedTlsAdapter(
            tls, pool_connections=16, pool_maxsize=pool, max_retries=retry
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        # For probes that must fail fast (an optional refresh): same settings, no retries.
        self._session_once = requests.Session()
        once = _PreloadedTlsAdapter(tls, pool_connections=4, pool_maxsize=2, max_retries=0)
        self._session_once.mount("https://", once)
        self._session_once.mount("http://", once)
        self._session_once.headers["User-Agent"] = USER_AGENT
        self._session_once.verify = self.session.verify
        # Bearer tokens per endpoint, from the variables the ecosystems declare (never logged).
        self._tokens = {
            e.name: Secret(env[e.token_env])
            for e in declared_endpoints()
            if e.token_env and env.get(e.token_env)
        }
        # Shared with the other shards of a run: a share of the rate per shard, or one bucket
        # per endpoint on this machine (automation.core.ratelimit).
        self._buckets: dict[str, TokenBucket | FileTokenBucket] = {}
        for name, rate in config.effective_rate_limits().items():
            if config.rate_limit_scope == "machine":
                where = Path(config.rate_limit_dir or default_bucket_dir(env))
                self._buckets[name] = FileTokenBucket(
                    where / f"{name}.bucket", rate, clock=clock, sleep=pause
                )
            else:
                self._buckets[name] = TokenBucket(rate, clock=clock, sleep=pause)
        self._count_lock = threading.Lock()
        self._requests = 0
        self._waited = 0.0

    def __repr__(self) -> str:
        # Deliberately leaves the token out.
        tokens = sorted(self._tokens)
        return f"HttpClient(endpoints={dict(self.config.endpoints)!r}, tokens_for={tokens})"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()
        self._session_once.close()

    @property
    def requests_made(self) -> int:
        """Logical requests issued so far (retries inside one request are not counted)."""
        return self._requests

    def abort(self) -> None:
        """Fail every request of this client that has not finished, and every new one, with
        ``Aborted`` (a wait for a token or between attempts ends at once) until
        ``reset_abort``; a request already reading its response finishes normally."""
        self._aborted.set()

    def reset_abort(self) -> None:
        """Accept requests again after ``abort``."""
        self._aborted.clear()

    def rate_for(self, endpoint: str) -> float | None:
        """Requests per second this client allows ``endpoint`` (None: not limited)."""
        bucket = self._buckets.get(endpoint)
        return None if bucket is None else bucket.rate

    @property
    def rate_limit_wait(self) -> float:
        """Seconds spent waiting for rate-limit tokens."""
        return self._waited

    def url(self, endpoint: str, path: str) -> str:
        return self.config.url(endpoint, path)

    def _prepare(
        self, endpoint: str | None, url: str, headers: Mapping[str, str] | None
    ) -> tuple[str, dict[str, str]]:
        if url.startswith("/"):
            if endpoint is None:
                raise ValueError("a path needs an endpoint")
            url = self.config.url(endpoint, url)
        out = dict(headers or {})
        self._check_aborted(url)
        if endpoint is not None:
            bucket = self._buckets.get(endpoint)
            if bucket is not None:
                waited = bucket.acquire()
                with self._count_lock:
                    self._waited += waited
                self._check_aborted(url)
            token = self._tokens.get(endpoint)
            if token is not None and self.config.endpoint_for_url(url) == endpoint:
                out["Authorization"] = f"Bearer {token.reveal()}"
        with self._count_lock:
            self._requests += 1
        return url, out

    @contextlib.contextmanager
    def _for_endpoint(self, endpoint: str | None, url: str) -> Iterator[None]:
        """Name the endpoint on any HttpError of the request (mirrors may share one host)."""
        try:
            yield
        except HttpError as exc:
            if exc.endpoint is None:
                exc.endpoint = endpoint or self.config.endpoint_for_url(exc.url)
            raise

    def _check_aborted(self, url: str) -> None:
        if self._aborted.is_set():
            raise Aborted("aborted: the caller gave up", url=url)

    @contextlib.contextmanager
    def _deadline(self, seconds: float | None = None) -> Iterator[_Deadline]:
        """Run one logical request (retries and body reads included) under a deadline."""
        deadline = _Deadline(self.config.request_deadline if seconds is None else seconds)
        outer = _active_deadline()
        _ACTIVE.deadline = deadline
        _WATCHDOG.watch(deadline)
        try:
            yield deadline
        finally:
            deadline.finish()
            _WATCHDOG.wake()
            _ACTIVE.deadline = outer

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        stream: bool,
        timeout: float | None,
        retry: bool = True,
    ) -> requests.Response:
        read_timeout = timeout if timeout is not None else self.config.read_timeout
        connect_timeout = min(self.config.connect_timeout, read_timeout)
        deadline = _active_deadline()
        if deadline is not None:
            # A connect attempt is one blocking call: bound it by what the deadline leaves.
            connect_timeout = max(0.001, min(connect_timeout, deadline.remaining()))
        session = self.session if retry else self._session_once
        try:
            return session.request(
                method,
                url,
                headers=headers,
                stream=stream,
                timeout=(connect_timeout, read_timeout),
                allow_redirects=True,
            )
        except requests.exceptions.RetryError as exc:
            if deadline is not None and deadline.expired:
                raise _timed_out(url) from None
            self._check_aborted(url)
            raise UpstreamError(f"gave up after retries: {exc}", url=url) from None
        except requests.RequestException as exc:
            self._check_aborted(url)
            raise _network_error("", exc, url) from None

    def _check_status(self, response: requests.Response, url: str, ok: frozenset[int]) -> None:
        status = response.status_code
        if status in ok:
            return
        waited = self._unwaited_retry_after(response.headers.get("Retry-After"))
        response.close()
        if status == 404 or status == 410:
            raise NotFound(f"HTTP {status}", url=url, status=status)
        if status == 429:
            raise RateLimited(f"HTTP 429 after retries{waited}", url=url, status=status)
        if status >= 500:
            raise UpstreamError(f"HTTP {status}{waited}", url=url, status=status)
        raise BadResponse(f"unexpected HTTP {status}", url=url, status=status)

    def _unwaited_retry_after(self, value: str | None) -> str:
        """Why a Retry-After was not honoured ("" when there was none or it was waited for)."""
        if not value:
            return ""
        try:
            seconds = Retry().parse_retry_after(value)
        except Exception:  # urllib3 raises InvalidHeader; the status speaks for itself
            return ""
        # The header as sent (urllib3 clamps what it parses to six hours).
        shown = f"{value.strip()[:40]} s" if value.strip().isdigit() else repr(value[:40])
        if seconds > self.config.max_retry_after:
            cap = self.config.max_retry_after
            return f" (Retry-After {shown} exceeds the {cap:g} s cap: not waited for)"
        deadline = _active_deadline()
        if deadline is not None and seconds >= deadline.remaining():
            return f" (Retry-After {shown} outlasts the request deadline: not waited for)"
        return ""

    def _read_capped(self, response: requests.Response, url: str, limit: int) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            response.close()
            raise ResponseTooLarge(
                f"response of {declared[:30]} bytes exceeds the cap of {limit}", url=url
            )
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in _iter_body(response, url):
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(f"response exceeds the cap of {limit} bytes", url=url)
                parts.append(chunk)
        finally:
            response.close()
        return b"".join(parts)

    def get_bytes(
        self,
        endpoint: str | None,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
        retry: bool = True,
    ) -> bytes:
        """GET ``url`` (absolute, or a path on ``endpoint``) and return the body (capped).

        ``retry=False`` makes one attempt (for optional look-ups that must fail fast). The whole
        request, body included, must finish within ``request_deadline`` (else ``TimedOut``).
        """
        with self._for_endpoint(endpoint, url):
            return self._get_bytes(endpoint, url, headers, max_bytes, timeout, retry)

    def _get_bytes(
        self,
        endpoint: str | None,
        url: str,
        headers: Mapping[str, str] | None,
        max_bytes: int | None,
        timeout: float | None,
        retry: bool,
    ) -> bytes:
        full, hdrs = self._prepare(endpoint, url, headers)
        with self._deadline():
            response = self._send("GET", full, hdrs, stream=True, timeout=timeout, retry=retry)
            self._check_status(response, full, frozenset({200}))
            return self._read_capped(response, full, max_bytes or self.config.max_document_bytes)

    def get_json(
        self,
        endpoint: str | None,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retry: bool = True,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> Any:
        """GET and decode JSON; malformed, non-JSON or out-of-bounds bodies raise BadResponse.

        ``decode`` stands in for ``json.loads`` where a source decodes only the parts of a large
        document it reads; it must raise what ``json.loads`` raises on the same body. The value
        is held to the data bounds of ``automation.core.jsondata`` (nesting, int64).
        """
        hdrs = {"Accept": "application/json", **(headers or {})}
        body = self.get_bytes(endpoint, url, headers=hdrs, timeout=timeout, retry=retry)
        where = url if not url.startswith("/") else self.config.url(endpoint or "", url)
        try:
            with _collector_paused():
                value = decode(body)
        except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, huge integers
            raise BadResponse(f"malformed JSON: {_short(exc)}", url=where) from None
        except RecursionError:
            raise BadResponse("malformed JSON: nested too deeply", url=where) from None
        out_of_bounds = bounds_message(value)
        if out_of_bounds is not None:
            raise BadResponse(out_of_bounds, url=where)
        return value

    def head_ok(self, endpoint: str | None, url: str) -> bool:
        """True for 2xx, False for 404/410; other failures raise."""
        full, hdrs = self._prepare(endpoint, url, None)
        with self._deadline():
            response = self._send("HEAD", full, hdrs, stream=False, timeout=None)
        if response.status_code in (404, 410):
            return False
        self._check_status(response, full, frozenset(range(200, 300)))
        return True

    def get_range(
        self,
        endpoint: str | None,
        url: str,
        start: int | None,
        end: int | None,
        *,
        max_bytes: int,
    ) -> RangeResult:
        """GET a byte range: ``(start, end)`` inclusive, or ``(None, n)`` for the last n bytes.

        A server that ignores Range answers 200 with the whole body (read up to ``max_bytes``).
        """
        spec = f"bytes=-{end}" if start is None else f"bytes={start}-{end}"
        full, hdrs = self._prepare(endpoint, url, {"Range": spec, "Accept-Encoding": "identity"})
        with self._deadline():
            response = self._send("GET", full, hdrs, stream=True, timeout=None)
            if response.status_code == 416:
                response.close()
                raise BadResponse("range not satisfiable", url=full, status=416)
            self._check_status(response, full, frozenset({200, 206}))
            partial = response.status_code == 206
            total: int | None = None
            if partial:
                content_range = response.headers.get("Content-Range", "")
                tail = content_range.rsplit("/", 1)[-1]
                total = int(tail) if tail.isdigit() and len(tail) <= 18 else None
            else:
                length = response.headers.get("Content-Length", "")
                total = int(length) if length.isdigit() and len(length) <= 18 else None
            body = self._read_capped(response, full, max_bytes)
        if not partial:
            total = len(body)
        return RangeResult(response.status_code, body, partial, total)

    def download(
        self,
        endpoint: str | None,
        url: str,
        dest: Path,
        *,
        max_bytes: int,
        algorithms: tuple[str, ...] = ("sha256",),
    ) -> dict[str, bytes]:
        """Stream ``url`` into ``dest`` (via a temp file) and return the raw digests.

        Whole artifacts get ``download_deadline`` (longer than one API request's).
        """
        full, hdrs = self._prepare(endpoint, url, None)
        hashers = {name: hashlib.new(name) for name in algorithms}
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        with self._deadline(self.config.download_deadline):
            response = self._send("GET", full, hdrs, stream=True, timeout=None)
            self._check_status(response, full, frozenset({200}))
            size = 0
            try:
                with tmp.open("wb") as handle:
                    for chunk in _iter_body(response, full):
                        size += len(chunk)
                        if size > max_bytes:
                            raise ResponseTooLarge(f"download exceeds {max_bytes} bytes", url=full)
                        for hasher in hashers.values():
                            hasher.update(chunk)
                        handle.write(chunk)
                os.replace(tmp, dest)
            finally:
                response.close()
                tmp.unlink(missing_ok=True)
        return {name: hasher.digest() for name, hasher in hashers.items()}


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a body decodes: a hostile document nested a thousand
    levels deep takes the decoder to the recursion limit (then BadResponse), and a collection
    there would run unrelated objects' finalizers at that depth, where they fail with
    RecursionError (printed as ignored exceptions; seen in CI). Decoding creates no cycles, so
    nothing is lost by collecting after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _iter_body(response: requests.Response, url: str) -> Iterator[bytes]:
    """The body in chunks; the deadline is checked between them (the watchdog ends a read
    blocked inside one)."""
    deadline = _active_deadline()
    try:
        for chunk in response.iter_content(CHUNK):
            if deadline is not None and deadline.expired:
                raise _timed_out(url)
            yield chunk
    except requests.RequestException as exc:
        raise _network_error("reading body: ", exc, url) from None
    if deadline is not None and deadline.expired:
        # The watchdog's shutdown can look like a clean end of a body without a length.
        raise _timed_out(url)


def _timed_out(url: str) -> TimedOut:
    deadline = _active_deadline()
    seconds = f" of {deadline.seconds:g} s" if deadline is not None else ""
    return TimedOut(f"no complete response within the deadline{seconds}", url=url)


def _network_error(prefix: str, exc: BaseException, url: str) -> NetworkError:
    """What a requests failure becomes: TimedOut when a deadline or timeout ran out."""
    deadline = _active_deadline()
    if deadline is not None and deadline.expired:
        return _timed_out(url)
    if isinstance(exc, requests.Timeout):
        return TimedOut(f"{prefix}{type(exc).__name__}: {_short(exc)}", url=url)
    return NetworkError(f"{prefix}{type(exc).__name__}: {_short(exc)}", url=url)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
