"""The one HTTP client of a run: pooled session, retries, per-endpoint rate limits, typed errors.

Every upstream request of the kit goes through ``HttpClient`` (inject it; tests point its
endpoints at a local server). Failures become ``HttpError`` subclasses whose ``category`` is
stable and can be recorded: ``not_found``, ``rate_limited``, ``upstream_error``,
``network_error`` (transient: connection, DNS, timeout) and ``bad_response``.
"""

from __future__ import annotations

import hashlib
import json
import os
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
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from automation import USER_AGENT
from automation.core.config import Config
from automation.core.ecosystem_facts import declared_endpoints
from automation.core.errors import AutomationError, ExitCode

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


class BadResponse(HttpError):
    category = "bad_response"
    exit_code = ExitCode.DATA_ERROR


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
        sleep: Callable[[float], None] = time.sleep,
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
    """urllib3 Retry that honours Retry-After but never sleeps longer than ``max_retry_after``."""

    max_retry_after: float = 60.0

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after)

    def new(self, **kw: Any) -> _CappedRetry:
        new = super().new(**kw)
        new.max_retry_after = self.max_retry_after
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
        sleep: Callable[[float], None] = time.sleep,
    ):
        env = os.environ if env is None else env
        self.config = config
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
        self._buckets = {
            name: TokenBucket(rate, clock=clock, sleep=sleep)
            for name, rate in config.rate_limits.items()
        }
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
        if endpoint is not None:
            bucket = self._buckets.get(endpoint)
            if bucket is not None:
                waited = bucket.acquire()
                with self._count_lock:
                    self._waited += waited
            token = self._tokens.get(endpoint)
            if token is not None and self.config.endpoint_for_url(url) == endpoint:
                out["Authorization"] = f"Bearer {token.reveal()}"
        with self._count_lock:
            self._requests += 1
        return url, out

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
            raise UpstreamError(f"gave up after retries: {exc}", url=url) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise NetworkError(f"{type(exc).__name__}: {_short(exc)}", url=url) from None
        except requests.RequestException as exc:
            raise NetworkError(f"{type(exc).__name__}: {_short(exc)}", url=url) from None

    @staticmethod
    def _check_status(response: requests.Response, url: str, ok: frozenset[int]) -> None:
        status = response.status_code
        if status in ok:
            return
        response.close()
        if status == 404 or status == 410:
            raise NotFound(f"HTTP {status}", url=url, status=status)
        if status == 429:
            raise RateLimited("HTTP 429 after retries", url=url, status=status)
        if status >= 500:
            raise UpstreamError(f"HTTP {status}", url=url, status=status)
        raise BadResponse(f"unexpected HTTP {status}", url=url, status=status)

    def _read_capped(self, response: requests.Response, url: str, limit: int) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            response.close()
            raise BadResponse(f"response of {declared} bytes exceeds the cap of {limit}", url=url)
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise BadResponse(f"response exceeds the cap of {limit} bytes", url=url)
                parts.append(chunk)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise NetworkError(f"reading body: {_short(exc)}", url=url) from None
        except requests.RequestException as exc:
            raise NetworkError(f"reading body: {_short(exc)}", url=url) from None
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

        ``retry=False`` makes one attempt (for optional look-ups that must fail fast).
        """
        full, hdrs = self._prepare(endpoint, url, headers)
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
        """GET and decode JSON; malformed or non-JSON bodies raise BadResponse.

        ``decode`` stands in for ``json.loads`` where a source decodes only the parts of a large
        document it reads; it must raise what ``json.loads`` raises on the same body.
        """
        hdrs = {"Accept": "application/json", **(headers or {})}
        body = self.get_bytes(endpoint, url, headers=hdrs, timeout=timeout, retry=retry)
        try:
            return decode(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            where = url if not url.startswith("/") else self.config.url(endpoint or "", url)
            raise BadResponse(f"malformed JSON: {exc}", url=where) from None

    def head_ok(self, endpoint: str | None, url: str) -> bool:
        """True for 2xx, False for 404/410; other failures raise."""
        full, hdrs = self._prepare(endpoint, url, None)
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
            total = int(tail) if tail.isdigit() else None
        else:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
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
        """Stream ``url`` into ``dest`` (via a temp file) and return the raw digests."""
        full, hdrs = self._prepare(endpoint, url, None)
        response = self._send("GET", full, hdrs, stream=True, timeout=None)
        self._check_status(response, full, frozenset({200}))
        hashers = {name: hashlib.new(name) for name in algorithms}
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        size = 0
        try:
            with tmp.open("wb") as handle:
                for chunk in _iter_body(response, full):
                    size += len(chunk)
                    if size > max_bytes:
                        raise BadResponse(f"download exceeds {max_bytes} bytes", url=full)
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    handle.write(chunk)
            os.replace(tmp, dest)
        finally:
            response.close()
            tmp.unlink(missing_ok=True)
        return {name: hasher.digest() for name, hasher in hashers.items()}


def _iter_body(response: requests.Response, url: str) -> Iterator[bytes]:
    try:
        yield from response.iter_content(CHUNK)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise NetworkError(f"reading body: {_short(exc)}", url=url) from None
    except requests.RequestException as exc:
        raise NetworkError(f"reading body: {_short(exc)}", url=url) from None


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."
