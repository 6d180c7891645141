"""HTTP clients of the GitHub tests: the API, and the API plus downloads, on the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

import pytest

from automation.core.config import Config, load_config, public_endpoints
from automation.core.http import HttpClient
from tests.support.fake_upstream import FakeUpstream


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    config = load_config(env={"AUTOMATION_ENDPOINT_GITHUB": upstream.base})
    fast = Config(
        endpoints=config.endpoints,
        rate_limits=MappingProxyType({"github": 1000.0}),
        retries=0,
        read_timeout=5,
    )
    with HttpClient(fast, env={}) as client:
        yield client


@pytest.fixture
def http_dl(upstream: FakeUpstream) -> Iterator[HttpClient]:
    """API and release downloads both on the local server."""
    endpoints = dict(public_endpoints(), github=upstream.base, githubdownload=upstream.base)
    fast = Config(
        endpoints=MappingProxyType(endpoints),
        rate_limits=MappingProxyType({"github": 1000.0, "githubdownload": 1000.0}),
        retries=0,
        read_timeout=5,
    )
    with HttpClient(fast, env={}) as client:
        yield client
