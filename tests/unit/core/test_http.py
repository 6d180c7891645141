"""The HTTP layer against a local server: retries, Retry-After, typed errors, rate limits."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from automation import USER_AGENT
from automation.core.config import Config, public_endpoints
from automation.core.http import (
    BadResponse,
    HttpClient,
    NetworkError,
    NotFound,
    RateLimited,
    TokenBucket,
    UpstreamError,
    ca_bundle,
)
from tests.support.fake_upstream import FakeUpstream, Reply


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


def make_config(base: str, **overrides: object) -> Config:
    endpoints = {name: base for name in public_endpoints()}
    endpoints["github"] = base + "/gh"
    settings: dict[str, object] = {
        "endpoints": MappingProxyType(endpoints),
        "rate_limits": MappingProxyType({name: 1000.0 for name in public_endpoints()}),
        "backoff_factor": 0.01,
        "retries": 3,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
    }
    settings.update(overrides)
    return Config(**settings)  # type: ignore[arg-type]


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    client = HttpClient(make_config(upstream.base), env={})
    yield client
    client.close()
    assert upstream.unexpected == [], "requests nobody recorded a response for"


def test_429_with_retry_after_then_200(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.sequence(
        "/pypi/x/json",
        [Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, b'{"ok": true}')],
    )
    started = time.monotonic()
    assert http.get_json("pypi", "/pypi/x/json") == {"ok": True}
    assert time.monotonic() - started >= 0.9  # Retry-After honoured
    assert len(upstream.requests_to("/pypi/x/json")) == 2
    assert http.requests_made == 1  # retries are inside one logical request


def test_retry_after_over_the_cap_is_not_slept_but_rate_limited(upstream: FakeUpstream) -> None:
    upstream.sequence("/a", [Reply(429, b"", {"Retry-After": "3600"}), Reply(200, b"{}")])
    with HttpClient(make_config(upstream.base, max_retry_after=0.2), env={}) as client:
        started = time.monotonic()
        with pytest.raises(RateLimited, match=r"Retry-After 3600 s exceeds the 0.2 s cap"):
            client.get_json("npm", "/a")
        assert time.monotonic() - started < 2
    assert len(upstream.requests_to("/a")) == 1  # no second attempt after an unpaid wait


def test_503_twice_then_200(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.sequence("/cowsay", [Reply(503), Reply(503), Reply(200, b'{"name": "cowsay"}')])
    assert http.get_json("npm", "/cowsay") == {"name": "cowsay"}
    assert len(upstream.requests_to("/cowsay")) == 3


def test_persistent_5xx_is_upstream_error(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.sequence("/down", [Reply(502)])
    with pytest.raises(UpstreamError) as info:
        http.get_json("npm", "/down")
    assert info.value.category == "upstream_error" and info.value.transient
    assert len(upstream.requests_to("/down")) == 4  # 1 + 3 retries


def test_persistent_429_is_rate_limited(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.sequence("/busy", [Reply(429, b"", {"Retry-After": "0"})])
    with pytest.raises(RateLimited) as info:
        http.get_json("npm", "/busy")
    assert info.value.category == "rate_limited"


def test_404_is_not_found(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.json("/missing", {"error": "Not found"}, status=404)
    with pytest.raises(NotFound) as info:
        http.get_json("npm", "/missing")
    assert info.value.status == 404 and info.value.category == "not_found"
    assert len(upstream.requests_to("/missing")) == 1  # not retried


def test_malformed_json_is_bad_response(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.sequence("/broken", [Reply(200, b'{"name": "trunc')])
    with pytest.raises(BadResponse) as info:
        http.get_json("npm", "/broken")
    assert info.value.category == "bad_response"


def test_connection_refused_is_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now.
    config = make_config(f"http://127.0.0.1:{port}", retries=1)
    with HttpClient(config, env={}) as client, pytest.raises(NetworkError) as info:
        client.get_json("pypi", "/pypi/x/json")
    assert info.value.category == "network_error" and info.value.transient


def test_dns_failure_is_network_error() -> None:
    config = make_config("http://name-that-does-not-resolve.invalid", retries=0)
    with HttpClient(config, env={}) as client, pytest.raises(NetworkError):
        client.get_json("pypi", "/x", retry=False)


def test_unrecorded_request_fails_loudly(upstream: FakeUpstream) -> None:
    client = HttpClient(make_config(upstream.base), env={})
    with client, pytest.raises(UpstreamError) as info:
        client.get_json("pypi", "/pypi/never-recorded/json")
    assert info.value.status == 599
    assert upstream.unexpected == ["/pypi/never-recorded/json"]


def test_body_cap(upstream: FakeUpstream) -> None:
    upstream.sequence("/big", [Reply(200, b"[" + b"1," * 5000 + b"1]")])
    client = HttpClient(make_config(upstream.base, max_document_bytes=2048), env={})
    with client, pytest.raises(BadResponse, match="exceeds"):
        client.get_json("npm", "/big")


def test_user_agent_and_github_token_only_for_github(upstream: FakeUpstream) -> None:
    seen: dict[str, dict[str, str | None]] = {}

    def capture(name: str):  # type: ignore[no-untyped-def]
        def handler(request):  # type: ignore[no-untyped-def]
            seen[name] = {
                "auth": request.headers.get("Authorization"),
                "ua": request.headers.get("User-Agent"),
            }
            return Reply(200, b"{}")

        return handler

    upstream.handler("/gh/repos/o/r", capture("github"))
    upstream.handler("/pypi/x/json", capture("pypi"))
    client = HttpClient(make_config(upstream.base), env={"GITHUB_TOKEN": "ghp_secret123"})
    with client:
        client.get_json("github", "/repos/o/r")
        client.get_json("pypi", "/pypi/x/json")
        assert "ghp_secret123" not in repr(client)
        assert "ghp_secret123" not in str(vars(client))
    assert seen["github"]["auth"] == "Bearer ghp_secret123"
    assert seen["pypi"]["auth"] is None
    assert seen["pypi"]["ua"] == USER_AGENT


def test_range_requests(upstream: FakeUpstream, http: HttpClient) -> None:
    data = bytes(range(256)) * 40
    upstream.blob("/f.bin", data)
    upstream.blob("/g.bin", data, honour_range=False)
    tail = http.get_range("pypifiles", "/f.bin", None, 100, max_bytes=10_000)
    assert tail.partial and tail.body == data[-100:] and tail.total_size == len(data)
    middle = http.get_range("pypifiles", "/f.bin", 10, 19, max_bytes=10)
    assert middle.body == data[10:20]
    ignored = http.get_range("pypifiles", "/g.bin", None, 100, max_bytes=100_000)
    assert not ignored.partial and ignored.body == data


def test_download_streams_and_hashes(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    import hashlib

    data = b"x" * 300_000
    upstream.blob("/t.tgz", data)
    digests = http.download("npm", "/t.tgz", tmp_path / "t.tgz", max_bytes=10**6,
                            algorithms=("sha512",))  # fmt: skip
    assert digests["sha512"] == hashlib.sha512(data).digest()
    assert (tmp_path / "t.tgz").read_bytes() == data
    with pytest.raises(BadResponse):
        http.download("npm", "/t.tgz", tmp_path / "u.tgz", max_bytes=1000)
    assert not (tmp_path / "u.tgz").exists()


def test_token_bucket_spaces_requests() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(2.0, burst=2, clock=lambda: clock[0], sleep=sleep)
    for _ in range(6):
        bucket.acquire()
    # Two in the burst, then one every 0.5 s.
    assert slept == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_token_bucket_is_thread_safe() -> None:
    import threading

    bucket = TokenBucket(50.0, burst=1)
    started = time.monotonic()
    threads = [threading.Thread(target=bucket.acquire) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 16 tokens at 50/s with a burst of 1 need at least 15/50 s.
    assert time.monotonic() - started >= 0.28


def test_ca_bundle_semantics(tmp_path: Path) -> None:
    assert ca_bundle({"REQUESTS_CA_BUNDLE": "/x/ca.pem"}) == "/x/ca.pem"
    assert ca_bundle({"CURL_CA_BUNDLE": "/y/ca.pem"}) == "/y/ca.pem"
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    assert ca_bundle({}) == (str(system) if system.is_file() else True)


def test_abort_fails_requests_at_once_and_errors_name_their_endpoint() -> None:
    from dataclasses import replace

    from automation.core.config import load_config
    from automation.core.http import Aborted, NetworkError

    closed = "http://127.0.0.1:9"  # nothing listens: connections are refused
    env = {"AUTOMATION_ENDPOINT_PYPI": closed, "AUTOMATION_ENDPOINT_NPM": closed}
    config = replace(load_config(env=env), retries=0)
    with HttpClient(config, env={}, sleep=lambda _: None) as client:
        with pytest.raises(NetworkError) as refused:
            client.get_json("npm", "/cowsay")
        assert not isinstance(refused.value, Aborted)
        assert refused.value.endpoint == "npm"  # though pypi has the same base URL
        client.abort()
        with pytest.raises(Aborted) as aborted:
            client.get_bytes("pypi", "/pypi/x/json")
        assert aborted.value.endpoint == "pypi" and aborted.value.category == "network_error"
        client.reset_abort()
        with pytest.raises(NetworkError) as again:
            client.get_bytes("pypi", "/pypi/x/json")
        assert not isinstance(again.value, Aborted)
