"""Checksum drift (``invoke drift``): re-download pinned artifacts and compare with baselines.

The reference's daily check scanned 19 embedded recipes and, running with ``contents: read``,
never persisted a baseline, so it could never see drift (reference §3.16). Here:

* every registry recipe is scanned for artifacts it pins: ``download`` / ``download_file`` steps
  whose URL carries a ``checksum`` or ``checksum_url``, every ``download_archive`` URL, and
  ``github_archive`` / ``github_file`` assets with a published ``checksum_asset``. Homebrew bottles
  are not pinned by recipes (their sha256 lives in the formula API), so they are not scanned;
* an *artifact unit* is one step of one recipe on the platforms that resolve it to the same URL
  (a platform-independent tarball is one unit, a per-arch zip is one unit per arch). Units are
  listed without any network access and checked in a fixed order; ``--budget N`` downloads at
  most N per run and ``data/checksums/_cursor.json`` remembers where to continue, so successive
  runs rotate through the whole registry;
* a version is resolved per recipe (GitHub ``releases/latest`` or Homebrew ``versions.stable``),
  so a baseline is the bytes of one versioned URL: ``data/checksums/<recipe>.json``
  (``schemas/checksum-baseline.schema.json``). A new URL gets a baseline; a known URL whose bytes
  changed, or bytes that do not match the checksum the recipe publishes, is drift (exit 6) and is
  recorded as ``install_failed`` / ``checksum_drift`` (installing it would fail its checksum);
* an unreachable host is a ``network_error`` failure (exit 4), never drift, and writes no baseline.
  A version source that moves under a fixed URL (``http_json`` "latest LTS") is skipped: its bytes
  legitimately change, so comparing them would only cry wolf.
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from automation.core import schemas
from automation.core.atomic import atomic_write_json, registry_lock
from automation.core.config import Config, load_config
from automation.core.ecosystem_facts import all_facts, make_source
from automation.core.errors import DataError, ExitCode, StoppedError, UsageError
from automation.core.http import HttpClient, HttpError, NotFound, TokenBucket
from automation.core.jsondata import read_json
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name
from automation.core.timefmt import format_timestamp, now
from automation.ecosystems import DriftLookup, ReleaseVersion, Unresolvable, adapters
from automation.registry.control import check_allowed_now
from automation.registry.failures import NewFailure, write_failures
from automation.registry.recipes import Recipe, Step, load_recipe_model, recipe_source

SCHEMA = "checksum-baseline"
CURSOR_FILE = "_cursor.json"  # cannot collide with a recipe: names start with [a-z0-9]
ENVIRONMENT = "checksum-drift"
DRIFT_CATEGORY = "install_failed"  # installing a drifted artifact fails its checksum check
DRIFT_SUBCATEGORY = "checksum_drift"
DEFAULT_BUDGET = 20
DEFAULT_RATE = 1.0  # artifact downloads per second (on top of the client's per-endpoint limits)
MAX_ARTIFACT_BYTES = 2 * 1024 * 1024 * 1024

# (os, arch, libc) in a fixed order: a unit is labelled by the first platform that resolves it.
PLATFORMS: tuple[tuple[str, str, str | None], ...] = (
    ("linux", "amd64", "glibc"),
    ("linux", "amd64", "musl"),
    ("linux", "arm64", "glibc"),
    ("linux", "arm64", "musl"),
    ("darwin", "amd64", None),
    ("darwin", "arm64", None),
)
URL_ACTIONS = ("download", "download_file", "download_archive")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
SHA256 = re.compile(r"[0-9a-f]{64}")
REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def platform_label(platform: tuple[str, str, str | None]) -> str:
    os_, arch, libc = platform
    return f"{os_}/{arch}/{libc}" if libc else f"{os_}/{arch}"


_PLATFORM_RANK = {platform_label(p): i for i, p in enumerate(PLATFORMS)}


# ---------------------------------------------------------------------------------------------
# Units: what each recipe pins (pure)


@dataclass(frozen=True, slots=True)
class Unit:
    """One pinned artifact of one recipe step, for the platforms that share its URL template."""

    recipe: str
    step: int
    platform: str  # label of the first platform resolving to this template
    platforms: tuple[str, ...]
    kind: str  # "url" or "release_asset"
    template: str  # URL (or asset name) with {os}/{arch} already substituted
    checksum: str | None  # literal sha256 from the recipe
    checksum_template: str | None  # checksum_url or checksum_asset, {os}/{arch} substituted
    repo: str | None = None  # release_asset only
    ecosystem: str | None = None  # release_asset only: whose release lists the asset

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.recipe, self.step, _PLATFORM_RANK[self.platform])

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "step": self.step, "platform": self.platform}


@dataclass(frozen=True, slots=True)
class NotPinned:
    """A recipe step with an artifact the drift check cannot compare, and why."""

    recipe: str
    step: int
    reason: str


def _mapped(template: str, step: Step, os_: str, arch: str) -> str:
    """Substitute {os}/{arch} through the step's mappings (the reference substituted before
    mapping, so its mappings were no-ops); other placeholders stay for later."""
    os_map = step.params.get("os_mapping")
    arch_map = step.params.get("arch_mapping")
    os_value = os_map.get(os_, os_) if isinstance(os_map, Mapping) else os_
    arch_value = arch_map.get(arch, arch) if isinstance(arch_map, Mapping) else arch
    return template.replace("{os}", str(os_value)).replace("{arch}", str(arch_value))


def _literal_checksum(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower().removeprefix("sha256:")
    return text if SHA256.fullmatch(text) else None


def _asset_actions() -> Mapping[str, tuple[str, DriftLookup]]:
    """Release-asset step action -> (ecosystem, its drift look-up), from the adapters."""
    return {
        action: (name, adapter.drift)
        for name, adapter in adapters().items()
        if adapter.drift is not None
        for action in adapter.drift.asset_actions
    }


def recipe_units(recipe: Recipe) -> tuple[list[Unit], list[NotPinned]]:
    """The artifact units ``recipe`` pins, and the artifact steps it does not pin (pure)."""
    units: list[Unit] = []
    skipped: list[NotPinned] = []
    asset_actions = _asset_actions()
    for index, step in enumerate(recipe.steps):
        checksum = _literal_checksum(step.params.get("checksum"))
        if step.action in URL_ACTIONS:
            template = step.param_str("url")
            checksum_template = step.param_str("checksum_url")
            if template is None:
                continue
            if step.action != "download_archive" and not (checksum or checksum_template):
                skipped.append(NotPinned(recipe.name, index, "download without a checksum"))
                continue
            kind, repo, ecosystem = "url", None, None
        elif step.action in asset_actions:
            ecosystem, lookup = asset_actions[step.action]
            template = step.param_str("asset_pattern")
            checksum_template = step.param_str("checksum_asset")
            repo = step.param_str("repo")
            if template is None or repo is None:
                continue
            if not (checksum or checksum_template):
                reason = f"{lookup.asset_label} asset without checksum"
                skipped.append(NotPinned(recipe.name, index, reason))
                continue
            if not REPO.fullmatch(repo):
                skipped.append(NotPinned(recipe.name, index, f"bad repo {repo!r}"))
                continue
            kind = "release_asset"
        else:
            continue
        groups: dict[tuple[str, str | None], list[str]] = {}
        for os_, arch, libc in PLATFORMS:
            if not recipe.constraints.is_supported(os_, arch, libc):
                continue
            if step.when is not None and not step.when.matches(os_, arch, libc=libc):
                continue
            resolved = _mapped(template, step, os_, arch)
            resolved_sum = (
                _mapped(checksum_template, step, os_, arch) if checksum_template else None
            )
            groups.setdefault((resolved, resolved_sum), []).append(
                platform_label((os_, arch, libc))
            )
        for (resolved, resolved_sum), labels in groups.items():
            units.append(
                Unit(
                    recipe=recipe.name,
                    step=index,
                    platform=labels[0],
                    platforms=tuple(labels),
                    kind=kind,
                    template=resolved,
                    checksum=checksum,
                    checksum_template=resolved_sum,
                    repo=repo,
                    ecosystem=ecosystem,
                )
            )
    return sorted(units, key=lambda u: u.key), skipped


@dataclass(frozen=True, slots=True)
class Inventory:
    units: tuple[Unit, ...]
    recipes: dict[str, Recipe]
    not_pinned: tuple[NotPinned, ...]
    unreadable: tuple[str, ...]


def inventory(layout: RegistryLayout) -> Inventory:
    """Every artifact unit of the registry, in check order (reads recipes, no network)."""
    units: list[Unit] = []
    recipes: dict[str, Recipe] = {}
    not_pinned: list[NotPinned] = []
    unreadable: list[str] = []
    for path in layout.recipe_files():
        try:
            recipe = load_recipe_model(path, strict=False)
        except DataError:
            unreadable.append(str(path.relative_to(layout.root)))
            continue
        found, skipped = recipe_units(recipe)
        not_pinned.extend(skipped)
        if found:
            recipes[recipe.name] = recipe
            units.extend(found)
    units.sort(key=lambda u: u.key)
    return Inventory(tuple(units), recipes, tuple(not_pinned), tuple(unreadable))


def rotation(units: tuple[Unit, ...], cursor: tuple[str, int, int] | None) -> list[Unit]:
    """All units, starting after ``cursor`` and wrapping around (pure)."""
    if cursor is None:
        return list(units)
    start = next((i for i, u in enumerate(units) if u.key > cursor), 0)
    return list(units[start:]) + list(units[:start])


# ---------------------------------------------------------------------------------------------
# Baselines and cursor (files)


@dataclass(frozen=True, slots=True)
class Baseline:
    url: str
    version: str
    platforms: tuple[str, ...]
    step: int
    sha256: str
    size: int
    published_sha256: str | None
    recorded_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "version": self.version,
            "platforms": list(self.platforms),
            "step": self.step,
            "sha256": self.sha256,
            "size": self.size,
            "published_sha256": self.published_sha256,
            "recorded_at": self.recorded_at,
        }


def _read_checked(path: Path, rel: str) -> dict[str, Any]:
    document, problem = read_json(path, rel)  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(f"cannot read: {problem.message}", path=rel, where=problem.where)
    problems = schemas.check(document, SCHEMA, path=rel)
    if problems:
        raise DataError(problems[0].message, path=rel, where=problems[0].where)
    if not isinstance(document, dict):  # pragma: no cover - the schema says object
        raise DataError("expected an object", path=rel)
    return document


def baseline_path(layout: RegistryLayout, recipe: str) -> Path:
    return layout.checksums_dir / f"{check_recipe_name(recipe)}.json"


def read_baselines(layout: RegistryLayout, recipe: str) -> dict[str, Baseline]:
    """``data/checksums/<recipe>.json`` keyed by URL; {} when absent. Invalid → DataError."""
    path = baseline_path(layout, recipe)
    if not path.exists():
        return {}
    document = _read_checked(path, str(path.relative_to(layout.root)))
    if document.get("recipe") != recipe:
        raise DataError(
            f"baseline file names recipe {document.get('recipe')!r}",
            path=str(path.relative_to(layout.root)),
        )
    out = {}
    for raw in document["artifacts"]:
        out[raw["url"]] = Baseline(
            url=raw["url"],
            version=raw["version"],
            platforms=tuple(raw["platforms"]),
            step=int(raw.get("step", 0)),
            sha256=raw["sha256"],
            size=raw["size"],
            published_sha256=raw.get("published_sha256"),
            recorded_at=raw["recorded_at"],
        )
    return out


def write_baselines(layout: RegistryLayout, recipe: str, baselines: Mapping[str, Baseline]) -> Path:
    document = {
        "schema_version": 1,
        "recipe": recipe,
        "artifacts": [baselines[url].to_json() for url in sorted(baselines)],
    }
    path = baseline_path(layout, recipe)
    problems = schemas.check(document, SCHEMA, path=str(path))
    if problems:
        raise DataError(f"refusing to write an invalid baseline: {problems[0]}", path=str(path))
    atomic_write_json(path, document)
    return path


def read_cursor(layout: RegistryLayout) -> tuple[str, int, int] | None:
    path = layout.checksums_dir / CURSOR_FILE
    if not path.exists():
        return None
    raw = _read_checked(path, str(path.relative_to(layout.root)))["cursor"]
    if raw is None:
        return None
    return (raw["recipe"], int(raw["step"]), _PLATFORM_RANK[raw["platform"]])


def write_cursor(layout: RegistryLayout, unit: Unit | None, when: datetime) -> None:
    document = {
        "schema_version": 1,
        "cursor": unit.to_json() if unit else None,
        "updated_at": format_timestamp(when),
    }
    atomic_write_json(layout.checksums_dir / CURSOR_FILE, document)


# ---------------------------------------------------------------------------------------------
# Checking (network through the injected client)


# The newest release a recipe's [version] names (an ecosystem's drift look-up resolves it).
Resolved = ReleaseVersion
# This unit cannot be compared (not a failure of the artifact).
Skip = Unresolvable


@dataclass(frozen=True, slots=True)
class Outcome:
    """What checking one unit found."""

    unit: Unit
    status: str  # recorded | unchanged | drift | failed | skipped
    url: str | None = None
    version: str | None = None
    sha256: str | None = None
    expected: str | None = None
    message: str = ""
    category: str | None = None
    subcategory: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "recipe": self.unit.recipe,
            "step": self.unit.step,
            "platforms": list(self.unit.platforms),
            "status": self.status,
            "url": self.url,
            "version": self.version,
            "sha256": self.sha256,
        }
        if self.expected:
            out["expected"] = self.expected
        if self.message:
            out["message"] = self.message
        if self.category:
            out["category"] = self.category
            out["subcategory"] = self.subcategory
        return out


def parse_checksum_file(text: str, filename: str) -> str | None:
    """The sha256 for ``filename`` in a SHA256SUMS-style file, or the file's single hash."""
    for line in text.splitlines():
        fields = line.replace("*", " ").split()
        if len(fields) >= 2 and SHA256.fullmatch(fields[0].lower()):
            name = fields[-1].removeprefix("./")
            if name == filename or name.rsplit("/", 1)[-1] == filename:
                return fields[0].lower()
    single = text.split()
    if len(single) == 1 and SHA256.fullmatch(single[0].lower()):
        return single[0].lower()
    return None


def _download_base(ecosystem: str | None, repo: str, tag: str) -> str:
    adapter = adapters().get(ecosystem or "")
    if adapter is None or adapter.drift is None or adapter.drift.download_base is None:
        raise Skip(f"no release download location for {ecosystem!r}")
    return adapter.drift.download_base(repo, tag)


def _expand(template: str, resolved: Resolved | None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "version" and resolved is not None:
            return resolved.version
        if name == "version_tag" and resolved is not None:
            return resolved.tag
        raise Skip(f"placeholder {{{name}}} cannot be resolved")

    return PLACEHOLDER.sub(value, template)


class Checker:
    """Checks units one by one; caches one resolved version per recipe per run."""

    def __init__(
        self,
        layout: RegistryLayout,
        http: HttpClient,
        config: Config,
        recipes: Mapping[str, Recipe],
        *,
        bucket: TokenBucket,
        max_bytes: int,
        when: datetime,
    ):
        self.layout = layout
        self.http = http
        self.config = config
        self.recipes = recipes
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.when = when
        self._versions: dict[tuple[str, str | None], Resolved | Exception] = {}
        self.baselines: dict[str, dict[str, Baseline]] = {}
        self.dirty: set[str] = set()

    # -- version resolution
    def _resolve(self, recipe: Recipe, repo: str | None) -> Resolved:
        key = (recipe.name, repo)
        cached = self._versions.get(key)
        if cached is None:
            try:
                cached = self._resolve_uncached(recipe, repo)
            except (HttpError, Skip) as exc:
                cached = exc
            self._versions[key] = cached
        if isinstance(cached, Exception):
            raise cached
        return cached

    def _resolve_uncached(self, recipe: Recipe, repo: str | None) -> Resolved:
        version = recipe.version if isinstance(recipe.version, Mapping) else {}
        for adapter in adapters().values():
            if adapter.drift is not None:
                resolved = adapter.drift.resolve(self.http, version, repo)
                if resolved is not None:
                    return resolved
        source = version.get("source")
        raise Skip(
            f"version source {source or 'none'!r} is not pinned to a release "
            "(bytes under its URLs may change legitimately)"
        )

    # -- fetching
    def _fetch_text(self, url: str) -> str:
        full = self.config.rewrite_public_url(url)
        endpoint = self.config.endpoint_for_url(full)
        body = self.http.get_bytes(endpoint, full, max_bytes=8 * 1024 * 1024)
        return body.decode("utf-8", "replace")

    def _download(self, url: str) -> tuple[str, int]:
        full = self.config.rewrite_public_url(url)
        endpoint = self.config.endpoint_for_url(full)
        self.bucket.acquire()
        with tempfile.TemporaryDirectory(prefix="drift-") as tmp:
            dest = Path(tmp) / "artifact"
            digests = self.http.download(endpoint, full, dest, max_bytes=self.max_bytes)
            size = dest.stat().st_size
        return digests["sha256"].hex(), size

    def _urls(self, unit: Unit, recipe: Recipe) -> tuple[str, str | None, str]:
        """(artifact URL, checksum URL or None, version) for ``unit``."""
        needs_version = "{version" in unit.template or "{version" in (unit.checksum_template or "")
        if unit.kind == "release_asset" and unit.repo:
            resolved = self._resolve(recipe, unit.repo)
            asset = _expand(unit.template, resolved)
            if "/" in asset:
                raise Skip(f"asset name {asset!r} has a slash")
            base = _download_base(unit.ecosystem, unit.repo, resolved.tag)
            url = resolved.assets.get(asset) or base + quote(asset)
            sums = None
            if unit.checksum_template:
                name = _expand(unit.checksum_template, resolved)
                sums = resolved.assets.get(name) or base + quote(name)
            return url, sums, resolved.version
        if not needs_version:
            if not unit.checksum:
                raise Skip("URL carries no version and the recipe pins no checksum")
            return _expand(unit.template, None), None, ""
        resolved = self._resolve(recipe, None)
        url = _expand(unit.template, resolved)
        sums = _expand(unit.checksum_template, resolved) if unit.checksum_template else None
        return url, sums, resolved.version

    def check(self, unit: Unit) -> Outcome:
        """Check one unit; never raises for upstream trouble (it becomes the outcome)."""
        recipe = self.recipes[unit.recipe]
        url: str | None = None
        version: str | None = None
        try:
            url, sums_url, version = self._urls(unit, recipe)
            if urlsplit(url).scheme not in ("http", "https"):
                raise Skip(f"unsupported URL {url!r}")
            published = unit.checksum
            if published is None and sums_url is not None:
                filename = urlsplit(url).path.rsplit("/", 1)[-1]
                published = parse_checksum_file(self._fetch_text(sums_url), filename)
                if published is None:
                    return Outcome(
                        unit, "failed", url, version,
                        message=f"no sha256 for {filename} in {sums_url}",
                        category="install_failed", subcategory="checksum_missing",
                    )  # fmt: skip
            sha, size = self._download(url)
        except Skip as exc:
            return Outcome(unit, "skipped", url, version, message=str(exc))
        except NotFound as exc:
            # Gone upstream: installs fail, but the bytes did not change under us.
            return Outcome(
                unit, "failed", url, version, message=str(exc),
                category="install_failed", subcategory="artifact_missing",
            )  # fmt: skip
        except HttpError as exc:
            return Outcome(
                unit, "failed", url, version, message=str(exc),
                category="network_error", subcategory=exc.category,
            )  # fmt: skip
        baselines = self.baselines.setdefault(unit.recipe, read_baselines(self.layout, unit.recipe))
        known = baselines.get(url)
        if known is not None and known.sha256 != sha:
            return Outcome(
                unit, "drift", url, version, sha, known.sha256,
                message=(
                    f"{url} changed since its baseline of {known.recorded_at}: "
                    f"sha256 {sha} (size {size}), baseline {known.sha256} (size {known.size})"
                ),
                category=DRIFT_CATEGORY, subcategory=DRIFT_SUBCATEGORY,
            )  # fmt: skip
        if published is not None and published != sha:
            return Outcome(
                unit, "drift", url, version, sha, published,
                message=f"{url} hashes to {sha}, but the recipe's checksum says {published}",
                category=DRIFT_CATEGORY, subcategory=DRIFT_SUBCATEGORY,
            )  # fmt: skip
        if known is not None:
            return Outcome(unit, "unchanged", url, version, sha)
        baselines[url] = Baseline(
            url=url,
            version=version,
            platforms=unit.platforms,
            step=unit.step,
            sha256=sha,
            size=size,
            published_sha256=published,
            recorded_at=format_timestamp(self.when),
        )
        self.dirty.add(unit.recipe)
        return Outcome(unit, "recorded", url, version, sha)


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class DriftReport:
    """What one ``invoke drift`` run did."""

    units_total: int
    budget: int
    outcomes: list[Outcome] = field(default_factory=list)
    not_pinned: int = 0
    unreadable: tuple[str, ...] = ()
    failure_files: list[str] = field(default_factory=list)
    cursor: dict[str, Any] | None = None
    requests: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> ExitCode:
        if self.count("drift"):
            return ExitCode.DRIFT
        if self.count("failed"):
            return ExitCode.PARTIAL
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "units_total": self.units_total,
            "budget": self.budget,
            "downloaded": sum(1 for o in self.outcomes if o.sha256 is not None),
            "counts": {
                s: self.count(s) for s in ("recorded", "unchanged", "drift", "failed", "skipped")
            },
            "not_pinned_steps": self.not_pinned,
            "unreadable_recipes": list(self.unreadable),
            "outcomes": [o.to_json() for o in self.outcomes],
            "failure_files": self.failure_files,
            "cursor": self.cursor,
            "requests": self.requests,
            "exit_code": int(self.exit_code),
        }

    def to_text(self) -> str:
        lines = [
            f"checksum drift: {len(self.outcomes)} of {self.units_total} artifact units visited "
            f"(budget {self.budget})",
        ]
        for outcome in self.outcomes:
            label = f"{outcome.unit.recipe} step {outcome.unit.step} [{outcome.unit.platform}]"
            detail = outcome.message or (outcome.url or "")
            lines.append(f"  {outcome.status:<9} {label}: {detail}")
        counts = ", ".join(
            f"{self.count(s)} {s}" for s in ("recorded", "unchanged", "drift", "failed", "skipped")
        )
        lines.append(f"summary: {counts}")
        for path in self.failure_files:
            lines.append(f"failures recorded in {path}")
        if self.unreadable:
            lines.append(f"{len(self.unreadable)} recipes could not be read (invoke check-data)")
        return "\n".join(lines)


def _unsourced(name: str) -> str:
    """The source recorded for a recipe no ecosystem installs from: the prefix of sources a
    human writes (an ecosystem declaring ``manual_reason``)."""
    prefix = next((f.name for f in all_facts() if f.manual_reason), None)
    return make_source(prefix, name) if prefix else name


def _failures(
    outcomes: Iterable[Outcome], recipes: Mapping[str, Recipe]
) -> dict[str, list[NewFailure]]:
    by_ecosystem: dict[str, list[NewFailure]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.category is None or outcome.subcategory is None:
            continue
        recipe = recipes[outcome.unit.recipe]
        source = recipe_source(recipe) or _unsourced(recipe.name)
        ecosystem = source.split(":", 1)[0]
        platforms = ", ".join(outcome.unit.platforms)
        by_ecosystem[ecosystem].append(
            NewFailure(
                name=recipe.name,
                package_id=source,
                category=outcome.category,
                subcategory=outcome.subcategory.replace("-", "_"),
                message=f"[{platforms}] {outcome.message}",
            )
        )
    return dict(by_ecosystem)


def check_drift(
    root: str | Path,
    *,
    budget: int = DEFAULT_BUDGET,
    rate: float = DEFAULT_RATE,
    http: HttpClient | None = None,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] | None = None,
    max_bytes: int = MAX_ARTIFACT_BYTES,
) -> DriftReport:
    """Check up to ``budget`` artifact units after the persisted cursor; see the module doc."""
    if budget < 1:
        raise UsageError("--budget must be at least 1")
    if rate <= 0:
        raise UsageError("--rate must be positive")
    layout = RegistryLayout.at(root)
    if not layout.recipes_dir.is_dir():
        raise UsageError(f"{layout.root} has no recipes/ directory")
    when = now()
    config = http.config if http is not None else load_config(layout.root, env=env)
    client = http or HttpClient(config, env=env)
    bucket = TokenBucket(rate, 1.0, sleep=sleep) if sleep else TokenBucket(rate, 1.0)
    try:
        with registry_lock(layout.lock_file):
            found = inventory(layout)
            report = DriftReport(
                units_total=len(found.units),
                budget=budget,
                not_pinned=len(found.not_pinned),
                unreadable=found.unreadable,
            )
            checker = Checker(
                layout, client, config, found.recipes, bucket=bucket, max_bytes=max_bytes,
                when=when,
            )  # fmt: skip
            downloads = 0
            last: Unit | None = None
            stopped: StoppedError | None = None
            for unit in rotation(found.units, read_cursor(layout)):
                if downloads >= budget:
                    break
                try:
                    check_allowed_now(layout, None)  # emergency stop before each download
                except StoppedError as exc:
                    stopped = exc  # keep what was checked, then exit 5
                    break
                outcome = checker.check(unit)
                report.outcomes.append(outcome)
                last = unit
                # Skipped units cost nothing; everything that reached out counts.
                if outcome.status != "skipped":
                    downloads += 1
            for recipe in sorted(checker.dirty):
                write_baselines(layout, recipe, checker.baselines[recipe])
            if last is not None:
                write_cursor(layout, last, when)
                report.cursor = last.to_json()
            for ecosystem, failures in sorted(_failures(report.outcomes, found.recipes).items()):
                path = write_failures(layout, ecosystem, ENVIRONMENT, failures, when)
                if path is not None:
                    report.failure_files.append(str(path.relative_to(layout.root)))
            report.requests = client.requests_made
            if stopped is not None:
                raise stopped
            return report
    finally:
        if http is None:
            client.close()
