"""Run configuration: upstream endpoints, rate limits and HTTP settings.

Precedence, lowest first: built-in defaults, the config file (``automation.toml`` at the registry
root or ``--config PATH``, checked against ``schemas/config.schema.json``), then environment
variables ``AUTOMATION_ENDPOINT_<NAME>``. A configured endpoint replaces the scheme, host and
optional path prefix of the public URL; request paths stay the same, so a mirror at
``http://mirror.local/pypi`` serves ``/pypi/<name>/json`` as ``http://mirror.local/pypi/pypi/<name>/json``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from automation.core import schemas
from automation.core.errors import DataError, UsageError

CONFIG_FILE_NAME = "automation.toml"
ENV_PREFIX = "AUTOMATION_ENDPOINT_"

# Endpoint name -> public base URL. Names are the env-var suffixes, lowercased.
PUBLIC_ENDPOINTS: Mapping[str, str] = MappingProxyType(
    {
        "pypi": "https://pypi.org",
        "pypifiles": "https://files.pythonhosted.org",
        "npm": "https://registry.npmjs.org",
        "cratesio": "https://crates.io",
        "rubygems": "https://rubygems.org",
        "goproxy": "https://proxy.golang.org",
        "metacpan": "https://fastapi.metacpan.org",
        "homebrew": "https://formulae.brew.sh",
        "ghcr": "https://ghcr.io",
        "github": "https://api.github.com",
        # Release asset downloads (browser_download_url), read for archive listings.
        "githubdownload": "https://github.com",
    }
)

# Queue ecosystem (automation.ecosystems) -> endpoint that serves its metadata.
ENDPOINT_FOR_ECOSYSTEM: Mapping[str, str] = MappingProxyType(
    {
        "pypi": "pypi",
        "npm": "npm",
        "crates.io": "cratesio",
        "rubygems": "rubygems",
        "go": "goproxy",
        "cpan": "metacpan",
        "homebrew": "homebrew",
        "cask": "homebrew",
        "github": "github",
    }
)

# Requests per second per endpoint. Registries publish few hard numbers; these stay well under
# what each tolerates (RubyGems documents 10 req/s for the API but throttles bulk gem downloads
# hard; GitHub's unauthenticated core limit is 60/hour, so 1/s needs a token to last).
DEFAULT_RATE_LIMITS: Mapping[str, float] = MappingProxyType(
    {
        "pypi": 20.0,
        "pypifiles": 20.0,
        "npm": 20.0,
        "cratesio": 1.0,
        "rubygems": 0.2,
        "goproxy": 10.0,
        "metacpan": 2.0,
        "homebrew": 5.0,
        "ghcr": 5.0,
        "github": 1.0,
        "githubdownload": 5.0,
    }
)

PYPI_TOP_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages-30-days.min.json"
# PyPI serves about 700,000 projects (2025); the top-15,000 list is ranked against this population.
PYPI_POPULATION = 700_000


@dataclass(frozen=True, slots=True)
class Config:
    """Immutable run configuration (build with ``load_config``)."""

    endpoints: Mapping[str, str] = field(default_factory=lambda: PUBLIC_ENDPOINTS)
    rate_limits: Mapping[str, float] = field(default_factory=lambda: DEFAULT_RATE_LIMITS)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    threads: int = 8
    retries: int = 4
    backoff_factor: float = 0.5
    max_retry_after: float = 30.0  # a longer Retry-After is not slept: the request fails
    max_document_bytes: int = 128 * 1024 * 1024
    request_deadline: float = 60.0  # one request, retries and whole body included
    download_deadline: float = 900.0  # one whole-artifact download (drift)
    batch_budget: float | None = None  # wall-clock seconds for one generate batch; None: no limit
    max_wheel_bytes: int = 50 * 1024 * 1024
    pypi_top_url: str = PYPI_TOP_URL
    pypi_top_timeout: float = 3.0
    pypi_population: int = PYPI_POPULATION
    source: str | None = None  # the config file read, if any
    registry_root: str | None = None  # the registry this run works on (load_config's root)

    def endpoint(self, name: str) -> str:
        """The configured base URL of endpoint ``name`` (no trailing slash)."""
        try:
            return self.endpoints[name]
        except KeyError:
            raise UsageError(f"unknown endpoint {name!r}") from None

    def url(self, endpoint: str, path: str) -> str:
        """``path`` (starting with ``/``) on the configured base of ``endpoint``."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.endpoint(endpoint) + path

    def is_overridden(self, endpoint: str) -> bool:
        return self.endpoint(endpoint) != PUBLIC_ENDPOINTS.get(endpoint)

    def rewrite_public_url(self, url: str) -> str:
        """Point an absolute upstream URL (e.g. a wheel URL from PyPI's JSON) at its mirror.

        Only URLs on a known public host whose endpoint is overridden are rewritten.
        """
        for name, public in PUBLIC_ENDPOINTS.items():
            if (url == public or url.startswith(public + "/")) and self.is_overridden(name):
                return self.endpoint(name) + url[len(public) :]
        return url

    def endpoint_for_url(self, url: str) -> str | None:
        """The endpoint whose configured base the absolute ``url`` lies under, if any."""
        best: tuple[int, str] | None = None
        for name, base in self.endpoints.items():
            under = url == base or url.startswith(base + "/")
            if under and (best is None or len(base) > best[0]):
                best = (len(base), name)
        return best[1] if best else None

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoints": dict(self.endpoints),
            "rate_limits": dict(self.rate_limits),
            "http": {
                "connect_timeout": self.connect_timeout,
                "read_timeout": self.read_timeout,
                "threads": self.threads,
                "retries": self.retries,
                "backoff_factor": self.backoff_factor,
                "max_retry_after": self.max_retry_after,
                "max_document_bytes": self.max_document_bytes,
                "request_deadline": self.request_deadline,
                "download_deadline": self.download_deadline,
            },
            "batch": {"budget_seconds": self.batch_budget},
            "pypi": {"max_wheel_bytes": self.max_wheel_bytes},
            "popularity": {
                "pypi_top_url": self.pypi_top_url,
                "pypi_top_timeout": self.pypi_top_timeout,
                "pypi_population": self.pypi_population,
            },
            "source": self.source,
        }


def check_base_url(value: str, *, where: str) -> str:
    """A base URL is ``http(s)://host[:port][/prefix]`` without query, fragment or credentials."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DataError(f"endpoint must be an http(s) URL with a host, got {value!r}", where=where)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise DataError(
            f"endpoint must not carry a query, fragment or credentials: {value!r}", where=where
        )
    return value.rstrip("/")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read config: {exc}", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"invalid TOML: {exc}", path=str(path)) from None
    problems = schemas.check(document, "config", path=str(path))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataError(first.message + more, path=str(path), where=first.where)
    return document


def load_config(
    root: Path | None = None,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the configuration for a run on registry ``root``.

    ``path`` (``--config``) must exist; otherwise ``<root>/automation.toml`` is read when present.
    Raises DataError for an invalid file or endpoint value.
    """
    env = os.environ if env is None else env
    document: dict[str, Any] = {}
    source = None
    if path is not None:
        if not path.is_file():
            raise UsageError(f"config file {path} does not exist")
        document, source = _read_file(path), str(path)
    elif root is not None and (root / CONFIG_FILE_NAME).is_file():
        document, source = _read_file(root / CONFIG_FILE_NAME), str(root / CONFIG_FILE_NAME)

    endpoints = dict(PUBLIC_ENDPOINTS)
    for name, value in document.get("endpoints", {}).items():
        endpoints[name] = check_base_url(value, where=f"endpoints.{name}")
    for name in PUBLIC_ENDPOINTS:
        value = env.get(ENV_PREFIX + name.upper())
        if value:
            endpoints[name] = check_base_url(value, where=ENV_PREFIX + name.upper())

    rate_limits = dict(DEFAULT_RATE_LIMITS)
    rate_limits.update({k: float(v) for k, v in document.get("rate_limits", {}).items()})
    http = {**document.get("http", {}), **_limit_overrides(env, HTTP_LIMIT_ENV)}
    batch = {**document.get("batch", {}), **_limit_overrides(env, BATCH_LIMIT_ENV)}
    popularity = document.get("popularity", {})
    defaults = Config()
    return Config(
        endpoints=MappingProxyType(endpoints),
        rate_limits=MappingProxyType(rate_limits),
        connect_timeout=float(http.get("connect_timeout", defaults.connect_timeout)),
        read_timeout=float(http.get("read_timeout", defaults.read_timeout)),
        threads=int(http.get("threads", defaults.threads)),
        retries=int(http.get("retries", defaults.retries)),
        backoff_factor=float(http.get("backoff_factor", defaults.backoff_factor)),
        max_retry_after=float(http.get("max_retry_after", defaults.max_retry_after)),
        max_document_bytes=int(http.get("max_document_bytes", defaults.max_document_bytes)),
        request_deadline=float(http.get("request_deadline", defaults.request_deadline)),
        download_deadline=float(http.get("download_deadline", defaults.download_deadline)),
        batch_budget=float(batch["budget_seconds"]) if "budget_seconds" in batch else None,
        max_wheel_bytes=int(
            document.get("pypi", {}).get("max_wheel_bytes", defaults.max_wheel_bytes)
        ),
        pypi_top_url=str(popularity.get("pypi_top_url", defaults.pypi_top_url)),
        pypi_top_timeout=float(popularity.get("pypi_top_timeout", defaults.pypi_top_timeout)),
        pypi_population=int(popularity.get("pypi_population", defaults.pypi_population)),
        source=source,
        registry_root=str(root) if root is not None else None,
    )


# Deadlines and budgets also come from the environment (a CI job, a test), over the file.
HTTP_LIMIT_ENV: Mapping[str, str] = MappingProxyType(
    {
        "AUTOMATION_HTTP_DEADLINE": "request_deadline",
        "AUTOMATION_HTTP_DOWNLOAD_DEADLINE": "download_deadline",
        "AUTOMATION_HTTP_READ_TIMEOUT": "read_timeout",
        "AUTOMATION_HTTP_MAX_RETRY_AFTER": "max_retry_after",
        "AUTOMATION_HTTP_MAX_BYTES": "max_document_bytes",
    }
)
BATCH_LIMIT_ENV: Mapping[str, str] = MappingProxyType({"AUTOMATION_BATCH_BUDGET": "budget_seconds"})


def _limit_overrides(env: Mapping[str, str], names: Mapping[str, str]) -> dict[str, float]:
    """The set variables of ``names`` (env var -> setting), each a positive number."""
    out: dict[str, float] = {}
    for variable, setting in names.items():
        text = env.get(variable)
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0 < value < float("inf"):
            raise UsageError(f"{variable} must be a positive number of seconds or bytes: {text!r}")
        out[setting] = value
    return out
