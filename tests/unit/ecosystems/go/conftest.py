"""The HTTP client of the Go tests, pointed at the fake proxy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from types import MappingProxyType

import pytest

from automation.core.config import default_rate_limits, load_config
from automation.core.http import HttpClient
from tests.support.fake_upstream import FakeUpstream


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    config = load_config(env={"AUTOMATION_ENDPOINT_GOPROXY": upstream.base})
    fast = dict(default_rate_limits(), goproxy=1000.0)
    config = replace(config, rate_limits=MappingProxyType(fast), retries=0, read_timeout=5)
    with HttpClient(config, env={}) as client:
        yield client
