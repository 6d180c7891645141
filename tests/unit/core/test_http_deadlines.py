"""Overall request deadlines, Retry-After caps and size caps against a hostile local server.

Every client here has a per-read timeout (5 s) far longer than its deadline (1 s): a test passes
only if the overall deadline, not the per-read timeout, ends the request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.http import (
    BadResponse,
    HttpClient,
    RateLimited,
    ResponseTooLarge,
    TimedOut,
    UpstreamError,
)
from automation.stages.generate import classify_fetch_error
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.support.hostile_upstream import (
    HostileUpstream,
    drip,
    elapsed,
    endless,
    huge_length,
    plain,
    stall,
)

DEADLINE = 1.0


# Under the 5 s per-read timeout: a request ending by then ended by its deadline (with slack
# for a loaded machine).
SOON = DEADLINE + 2.0


@pytest.fixture
def hostile() -> Iterator[HostileUpstream]:
    with HostileUpstream() as server:
        yield server
        assert server.unexpected == []


def config_for(base: str, **overrides: object) -> Config:
    settings: dict[str, object] = {
        "endpoints": MappingProxyType({name: base for name in public_endpoints()}),
        "rate_limits": MappingProxyType({name: 1000.0 for name in public_endpoints()}),
        "backoff_factor": 0.01,
        "retries": 2,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "request_deadline": DEADLINE,
        "download_deadline": DEADLINE,
    }
    settings.update(overrides)
    return Config(**settings)  # type: ignore[arg-type]


@pytest.fixture
def http(hostile: HostileUpstream) -> Iterator[HttpClient]:
    with HttpClient(config_for(hostile.base), env={}) as client:
        yield client


def test_slow_drip_body_ends_at_the_deadline(hostile: HostileUpstream, http: HttpClient) -> None:
    hostile.routes["/drip"] = drip(0.2)  # every read succeeds well within the 5 s read timeout
    seconds, error = elapsed(lambda: http.get_json("npm", "/drip"))
    assert isinstance(error, TimedOut), error
    assert DEADLINE * 0.9 <= seconds < SOON
    assert "deadline of 1 s" in str(error)
    assert classify_fetch_error(error) == ("network_error", "timeout")


@pytest.mark.parametrize("after_headers", [False, True], ids=["before-headers", "mid-body"])
def test_stalled_server_ends_at_the_deadline(
    hostile: HostileUpstream, http: HttpClient, after_headers: bool
) -> None:
    hostile.routes["/stall"] = stall(30, after_headers=after_headers)
    seconds, error = elapsed(lambda: http.get_bytes("npm", "/stall"))
    assert isinstance(error, TimedOut), error
    assert seconds < SOON  # not 5 s per read times 3 attempts
    assert hostile.hits["/stall"] == 1  # no retry after the deadline passed


def test_ranged_read_and_download_have_deadlines(
    hostile: HostileUpstream, http: HttpClient, tmp_path: Path
) -> None:
    hostile.routes["/wheel.whl"] = drip(0.2)
    seconds, error = elapsed(
        lambda: http.get_range("npm", "/wheel.whl", None, 100, max_bytes=10**6)
    )
    assert isinstance(error, TimedOut) and seconds < SOON
    dest = tmp_path / "artifact.tar.gz"
    seconds, error = elapsed(lambda: http.download("npm", "/wheel.whl", dest, max_bytes=10**6))
    assert isinstance(error, TimedOut) and seconds < SOON
    assert not dest.exists() and not list(tmp_path.iterdir())  # no partial file left behind


def test_huge_retry_after_is_a_rate_limited_failure_at_once(
    hostile: HostileUpstream, http: HttpClient
) -> None:
    hostile.routes["/busy"] = plain(429, b"slow down", {"Retry-After": "99999"})
    seconds, error = elapsed(lambda: http.get_json("npm", "/busy"))
    assert isinstance(error, RateLimited), error
    assert "Retry-After 99999 s exceeds the 30 s cap" in str(error)
    assert seconds < SOON and hostile.hits["/busy"] == 1
    assert classify_fetch_error(error) == ("network_error", "rate_limited")


def test_retry_after_longer_than_the_deadline_leaves_is_not_slept(hostile: HostileUpstream) -> None:
    hostile.routes["/busy"] = plain(503, b"", {"Retry-After": "20"})  # under the 30 s cap
    with HttpClient(config_for(hostile.base, request_deadline=3.0), env={}) as client:
        seconds, error = elapsed(lambda: client.get_bytes("npm", "/busy"))
    assert isinstance(error, UpstreamError) and "outlasts the request deadline" in str(error)
    assert seconds < SOON and hostile.hits["/busy"] == 1


def test_5xx_is_retried_then_an_upstream_failure(
    hostile: HostileUpstream, http: HttpClient
) -> None:
    hostile.routes["/down"] = plain(502, b"<html>bad gateway</html>")
    assert isinstance(elapsed(lambda: http.get_json("npm", "/down"))[1], UpstreamError)
    assert hostile.hits["/down"] == 3  # retries=2


@pytest.mark.parametrize(
    "body",
    [b"<html>not json", b"[" * 5000 + b"]" * 5000, b'{"n": 1' + b"0" * 30 + b"}", b"\xff\xfe"],
    ids=["html", "deep", "huge-int", "bytes"],
)
def test_garbage_json_is_a_bad_response(
    hostile: HostileUpstream, http: HttpClient, body: bytes
) -> None:
    hostile.routes["/garbage"] = plain(200, body)
    error = elapsed(lambda: http.get_json("npm", "/garbage"))[1]
    assert isinstance(error, BadResponse), error
    assert classify_fetch_error(error) == ("generation_failed", "bad_response")


def test_huge_content_length_is_refused_before_reading(
    hostile: HostileUpstream, http: HttpClient
) -> None:
    hostile.routes["/huge"] = huge_length()
    seconds, error = elapsed(lambda: http.get_json("npm", "/huge"))
    assert isinstance(error, ResponseTooLarge) and "10737418240 bytes exceeds the cap" in str(error)
    assert seconds < SOON
    assert classify_fetch_error(error) == ("generation_failed", "response_too_large")


def test_endless_body_is_cut_at_the_cap(hostile: HostileUpstream) -> None:
    hostile.routes["/endless"] = endless()
    with HttpClient(config_for(hostile.base, request_deadline=10.0), env={}) as client:
        seconds, error = elapsed(lambda: client.get_bytes("npm", "/endless", max_bytes=1 << 20))
    assert isinstance(error, ResponseTooLarge) and seconds < 5.0


def test_a_finished_request_keeps_its_pooled_connection_after_its_deadline() -> None:
    """The watchdog must never shut a socket down once its request finished in time."""
    upstream = FakeUpstream().start()
    try:
        upstream.sequence("/a", [Reply(200, b"{}"), Reply(200, b"{}"), Reply(200, b"{}")])
        with HttpClient(config_for(upstream.base, request_deadline=0.3), env={}) as client:
            for _ in range(3):
                assert client.get_json("npm", "/a") == {}
                time.sleep(0.4)  # past the deadline of the request just made
        assert upstream.unexpected == []
    finally:
        upstream.stop()


def test_the_watchdog_thread_ends_when_no_request_is_in_flight(hostile: HostileUpstream) -> None:
    """Forked parallel work (automation.core.parallel) needs a single-threaded process."""
    hostile.routes["/ok"] = plain(200, b"{}")
    with HttpClient(config_for(hostile.base, request_deadline=30.0), env={}) as client:
        assert client.get_json("npm", "/ok") == {}
    for _ in range(100):
        if not any(t.name == "http-deadline-watchdog" for t in threading.enumerate()):
            break
        time.sleep(0.01)
    assert not any(t.name == "http-deadline-watchdog" for t in threading.enumerate())


def test_no_garbage_collection_runs_while_a_body_decodes(
    hostile: HostileUpstream, http: HttpClient
) -> None:
    """A deep document takes the decoder to the recursion limit; a collection there would run
    other objects' finalizers where they fail (RecursionError, ignored exceptions in CI)."""
    import gc

    hostile.routes["/doc"] = plain(200, b'{"a": 1}')
    seen: list[bool] = []

    def decode(body: bytes) -> object:
        seen.append(gc.isenabled())
        return json.loads(body)

    assert http.get_json("npm", "/doc", decode=decode) == {"a": 1}
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a caller that turned collection off keeps it off
    try:
        http.get_json("npm", "/doc", decode=decode)
        assert not gc.isenabled()
    finally:
        gc.enable()
