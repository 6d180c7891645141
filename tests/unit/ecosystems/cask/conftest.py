"""The HTTP client of the cask tests, pointed at the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.http import HttpClient
from tests.support.fake_upstream import FakeUpstream


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    endpoints = dict(public_endpoints())
    endpoints["homebrew"] = upstream.base
    config = Config(
        endpoints=MappingProxyType(endpoints), backoff_factor=0.01, retries=1, read_timeout=5
    )
    with HttpClient(config, env={}) as client:
        yield client
