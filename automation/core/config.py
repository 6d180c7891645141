"""Run configuration: upstream endpoints, rate limits, HTTP and ecosystem settings.

The endpoints (public base URL, rate limit) and the ecosystem-specific settings are declared by
the ecosystems (``automation.core.ecosystem_facts``); this module only merges them with the file
and the environment.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from automation.core import schemas
from automation.core.ecosystem_facts import declared_endpoints, declared_settings
from automation.core.errors import DataError, UsageError
from automation.core.ratelimit import SCOPE_ENV, SCOPES, default_bucket_dir, per_shard

CONFIG_FILE_NAME = "automation.toml"
UNTESTED_ENV = "AUTOMATION_UNTESTED_PLATFORMS"
UNTESTED_POLICIES = ("exclude", "admit")
MERGE_VERIFY_ENV = "AUTOMATION_MERGE_VERIFY"
MERGE_VERIFY_POLICIES = ("any", "version")
ENV_PREFIX = "AUTOMATION_ENDPOINT_"


def public_endpoints() -> Mapping[str, str]:
    """Endpoint name -> public base URL, as the ecosystems declare them (names are the env-var
    suffixes, lowercased)."""
    return MappingProxyType({e.name: e.base_url for e in declared_endpoints()})


def default_rate_limits() -> Mapping[str, float]:
    """Requests per second per endpoint, as the ecosystems declare them. Registries publish few
    hard numbers; the declared rates stay well under what each tolerates."""
    return MappingProxyType({e.name: e.rate_limit for e in declared_endpoints()})


def default_settings() -> Mapping[str, Mapping[str, Any]]:
    """``[section] key = default`` of every ecosystem-specific setting."""
    sections: dict[str, dict[str, Any]] = {}
    for setting in declared_settings():
        sections.setdefault(setting.section, {})[setting.key] = setting.default
    return MappingProxyType({k: MappingProxyType(v) for k, v in sections.items()})


@dataclass(frozen=True, slots=True)
class Config:
    """Immutable run configuration (build with ``load_config``)."""

    endpoints: Mapping[str, str] = field(default_factory=public_endpoints)
    rate_limits: Mapping[str, float] = field(default_factory=default_rate_limits)
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
    # How the rate limits are shared between processes (automation.core.ratelimit): "process"
    # (own buckets; divided by rate_shards) or "machine" (one file bucket per endpoint).
    rate_limit_scope: str = "process"
    rate_shards: int = 1  # the shard count of a sharded run (Config.for_shard)
    rate_limit_dir: str | None = None  # where "machine" buckets live (None: the default)
    # Seeding gives a source up after this many look-ups in a row failed on the network.
    seed_max_network_failures: int = 5  # DEFAULT_SEED_MAX_NETWORK_FAILURES
    # The tool score a candidate whose main executable is not named like the package or its
    # recipe needs to be queued (docs/SEEDING.md); 2, the tool threshold, adds no extra rule.
    seed_unnamed_min_score: int = 2
    # A platform no environment validated: "exclude" (never claimed without evidence) or "admit".
    untested_platforms: str = "exclude"
    # What [verify] must check to merge without review: "any" (a clean exit) or "version".
    merge_verify: str = "any"
    # ecosystem-specific values: section -> key -> value (defaults declared by the ecosystems)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=default_settings)
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

    def for_shard(self, shard: tuple[int, int] | None) -> Config:
        """The configuration of shard ``(K, N)`` of a sharded run (None: unchanged).

        With the default ``process`` scope each shard gets ``rate / N`` of every endpoint, so
        the N shards together stay within the configured rate wherever they run.
        """
        if shard is None:
            return self
        return replace(self, rate_shards=shard[1])

    def effective_rate_limits(self) -> Mapping[str, float]:
        """Requests per second per endpoint this process may make: the configured rate divided
        by the shard count, except in ``machine`` scope (the shared bucket divides it)."""
        if self.rate_limit_scope == "machine" or self.rate_shards <= 1:
            return self.rate_limits
        return MappingProxyType(per_shard(self.rate_limits, self.rate_shards))

    def setting(self, section: str, key: str) -> Any:
        """The value of ecosystem setting ``[section] key`` (configured, else declared default)."""
        value = self.settings.get(section, {}).get(key)
        if value is None:
            value = default_settings().get(section, {}).get(key)
        if value is None:
            raise UsageError(f"unknown setting [{section}] {key}")
        return value

    def with_settings(self, section: str, **values: Any) -> Config:
        """A copy with ``[section]`` values replaced (the rest kept)."""
        settings = {k: dict(v) for k, v in self.settings.items()}
        settings.setdefault(section, {}).update(values)
        return replace(self, settings=MappingProxyType(settings))

    def is_overridden(self, endpoint: str) -> bool:
        return self.endpoint(endpoint) != public_endpoints().get(endpoint)

    def rewrite_public_url(self, url: str) -> str:
        """Point an absolute upstream URL (e.g. a wheel URL from PyPI's JSON) at its mirror.

        Only URLs on a known public host whose endpoint is overridden are rewritten.
        """
        for name, public in public_endpoints().items():
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
        document: dict[str, Any] = {
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
            "rate_limit_sharing": {
                "scope": self.rate_limit_scope,
                "shards": self.rate_shards,
                "effective": dict(self.effective_rate_limits()),
                "dir": self.rate_limit_dir,
            },
            "seed": {
                "max_network_failures": self.seed_max_network_failures,
                "unnamed_min_score": self.seed_unnamed_min_score,
            },
            "platforms": {"untested": self.untested_platforms},
            "merge": {"verify": self.merge_verify},
        }
        document.update({section: dict(values) for section, values in self.settings.items()})
        document["source"] = self.source
        return document


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


def _policy(
    env: Mapping[str, str],
    document: Mapping[str, Any],
    variable: str,
    key: tuple[str, str],
    default: str,
    choices: tuple[str, ...],
    what: str,
) -> str:
    """A named policy: the environment variable wins over ``[section] key``, else ``default``;
    a value not among ``choices`` is a DataError naming where it came from."""
    section, name = key
    value = env.get(variable) or document.get(section, {}).get(name, default)
    if value not in choices:
        raise DataError(
            f"{what} must be one of {', '.join(choices)}, not {value!r}",
            where=variable if env.get(variable) else f"{section}.{name}",
        )
    return str(value)


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

    public = public_endpoints()
    endpoints = dict(public)
    for name, value in document.get("endpoints", {}).items():
        endpoints[name] = check_base_url(value, where=f"endpoints.{name}")
    for name in public:
        value = env.get(ENV_PREFIX + name.upper())
        if value:
            endpoints[name] = check_base_url(value, where=ENV_PREFIX + name.upper())

    rate_limits = dict(default_rate_limits())
    rate_limits.update({k: float(v) for k, v in document.get("rate_limits", {}).items()})
    http = {**document.get("http", {}), **_limit_overrides(env, HTTP_LIMIT_ENV)}
    batch = {**document.get("batch", {}), **_limit_overrides(env, BATCH_LIMIT_ENV)}
    scope = _rate_limit_scope(env, document.get("http", {}))
    seed_failures = _seed_max_network_failures(env, document.get("seed", {}))
    settings: dict[str, dict[str, Any]] = {}
    for declared in declared_settings():
        value = document.get(declared.section, {}).get(declared.key, declared.default)
        # the declared default's type is the setting's type (TOML may write 3 for 3.0)
        settings.setdefault(declared.section, {})[declared.key] = type(declared.default)(value)
    defaults = Config()
    untested = _policy(
        env,
        document,
        UNTESTED_ENV,
        ("platforms", "untested"),
        defaults.untested_platforms,
        UNTESTED_POLICIES,
        "untested platforms policy",
    )
    merge_verify = _policy(
        env,
        document,
        MERGE_VERIFY_ENV,
        ("merge", "verify"),
        defaults.merge_verify,
        MERGE_VERIFY_POLICIES,
        "merge verify policy",
    )
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
        rate_limit_scope=scope,
        rate_limit_dir=str(default_bucket_dir(env)) if scope == "machine" else None,
        seed_max_network_failures=seed_failures,
        seed_unnamed_min_score=int(
            document.get("seed", {}).get("unnamed_min_score", defaults.seed_unnamed_min_score)
        ),
        untested_platforms=untested,
        merge_verify=merge_verify,
        settings=MappingProxyType({k: MappingProxyType(v) for k, v in settings.items()}),
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


SEED_FAILURES_ENV = "AUTOMATION_SEED_MAX_NETWORK_FAILURES"
DEFAULT_SEED_MAX_NETWORK_FAILURES = 5


def _rate_limit_scope(env: Mapping[str, str], http: Mapping[str, Any]) -> str:
    """``AUTOMATION_RATE_LIMIT_SCOPE`` over ``[http] rate_limit_scope`` (schema-checked)."""
    value = env.get(SCOPE_ENV, "").strip() or str(http.get("rate_limit_scope", "process"))
    if value not in SCOPES:
        raise UsageError(f"{SCOPE_ENV} must be one of {', '.join(SCOPES)}: {value!r}")
    return value


def _seed_max_network_failures(env: Mapping[str, str], seed: Mapping[str, Any]) -> int:
    """``AUTOMATION_SEED_MAX_NETWORK_FAILURES`` over ``[seed] max_network_failures``."""
    text = env.get(SEED_FAILURES_ENV, "").strip()
    if not text:
        return int(seed.get("max_network_failures", DEFAULT_SEED_MAX_NETWORK_FAILURES))
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise UsageError(f"{SEED_FAILURES_ENV} must be a whole number from 1 to 100000: {text!r}")
    return int(text)
