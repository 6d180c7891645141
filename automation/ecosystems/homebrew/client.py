"""Homebrew formulae: the formula JSON, bottle-tag selection and install-on-request analytics.

Pure parsers of the real response shapes (``formulae.brew.sh/api/formula/<f>.json`` of every
era: Bintray-era records without ``tap``/``urls``, ghcr.io-era records with per-tag ``cellar``),
plus the two GETs that read them. Bottle contents come from ``automation.ecosystems.homebrew.ghcr``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient

# Core formula names: lowercase, digits and ``_ @ . + -`` (``openssl@3``, ``gtk+3``).
FORMULA_NAME = re.compile(r"^[a-z0-9][a-z0-9_@.+-]{0,127}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
ANALYTICS_PATH = "/api/analytics/install-on-request/30d.json"

# macOS bottle tags, oldest first (the arm64 tags carry the same names with an ``arm64_`` prefix).
MACOS_RELEASES = (
    "yosemite",
    "el_capitan",
    "sierra",
    "high_sierra",
    "mojave",
    "catalina",
    "big_sur",
    "monterey",
    "ventura",
    "sonoma",
    "sequoia",
    "tahoe",
)
# Target platforms in recipe terms, in the order the recipe lists them.
PLATFORMS = ("linux/amd64", "linux/arm64", "darwin/arm64", "darwin/amd64")
LINUX_TAGS = {"linux/amd64": "x86_64_linux", "linux/arm64": "arm64_linux"}


class TapNameError(UnsafeNameError):
    """A tap-qualified name (``user/tap/formula``): only homebrew/core bottles are inspected."""


def is_tap_name(name: str) -> bool:
    return "/" in name


def check_core_name(name: object, *, what: str, tap: str, invalid: str) -> str:
    """``name`` if it is a plain name of Homebrew's own tap; TapNameError for ``user/tap/x``
    (``tap`` says which tap is supported); else UnsafeNameError (``invalid`` names the kind)."""
    if not isinstance(name, str):
        raise UnsafeNameError(f"invalid {what} {name!r}")
    if is_tap_name(name):
        raise TapNameError(f"{name!r} is a tap {tap}")
    if not FORMULA_NAME.fullmatch(name) or ".." in name:
        raise UnsafeNameError(f"invalid {invalid} {name!r}")
    return name


def check_formula_name(name: str) -> str:
    """``name`` if it is a core formula; TapNameError for ``user/tap/x``; else UnsafeNameError."""
    return check_core_name(
        name,
        what="formula name",
        tap="formula; only homebrew/core formulae are supported",
        invalid="Homebrew formula name",
    )


def formula_path(name: str) -> str:
    """Path of the formula document on the ``homebrew`` endpoint."""
    return f"/api/formula/{quote(check_formula_name(name), safe='@+')}.json"


@dataclass(frozen=True, slots=True)
class BottleFile:
    tag: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Formula:
    """What the kit uses from a formula document."""

    name: str
    description: str
    homepage: str
    version: str  # versions.stable
    revision: int
    rebuild: int  # bottle.stable.rebuild
    disabled: bool
    disable_reason: str
    has_bottle_flag: bool  # versions.bottle
    bottles: Mapping[str, BottleFile]  # tag -> file with a valid sha256
    dependencies: tuple[str, ...]

    @property
    def pkg_version(self) -> str:
        """``<version>`` or ``<version>_<revision>``: the keg directory and the GHCR tag."""
        return f"{self.version}_{self.revision}" if self.revision else self.version

    @property
    def has_bottles(self) -> bool:
        return self.has_bottle_flag and bool(self.bottles)


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def parse_formula(document: Any, *, url: str = "") -> Formula:
    """Parse ``/api/formula/<f>.json``; raises BadResponse when name or version is missing."""
    if not isinstance(document, dict):
        raise BadResponse("formula document is not an object", url=url)
    name = _str(document.get("name"))
    versions = document.get("versions") if isinstance(document.get("versions"), dict) else {}
    assert isinstance(versions, dict)
    version = _str(versions.get("stable"))
    if not name or not version:
        raise BadResponse("formula document has no name or versions.stable", url=url)
    check_formula_name(name)
    bottle = document.get("bottle") if isinstance(document.get("bottle"), dict) else {}
    assert isinstance(bottle, dict)
    stable = bottle.get("stable") if isinstance(bottle.get("stable"), dict) else {}
    assert isinstance(stable, dict)
    files_raw = stable.get("files") if isinstance(stable.get("files"), dict) else {}
    assert isinstance(files_raw, dict)
    files: dict[str, BottleFile] = {}
    for tag, item in sorted(files_raw.items()):
        if not isinstance(tag, str) or not isinstance(item, dict):
            continue
        sha = _str(item.get("sha256")).lower()
        if SHA256.fullmatch(sha) and re.fullmatch(r"[a-z0-9_]{1,40}", tag):
            files[tag] = BottleFile(tag, sha)
    deps_raw = document.get("dependencies")
    deps = (
        tuple(sorted({d for d in deps_raw if isinstance(d, str) and d}))
        if isinstance(deps_raw, list)
        else ()
    )
    flag = versions.get("bottle")
    return Formula(
        name=name,
        description=_str(document.get("desc")),
        homepage=_str(document.get("homepage")),
        version=version,
        revision=_int(document.get("revision")),
        rebuild=_int(stable.get("rebuild")),
        disabled=document.get("disabled") is True,
        disable_reason=_str(document.get("disable_reason")),
        # Old records may lack the flag; then the bottle files decide.
        has_bottle_flag=flag is not False,
        bottles=MappingProxyType(files),
        dependencies=deps,
    )


def _macos_rank(tag: str) -> int | None:
    try:
        return MACOS_RELEASES.index(tag)
    except ValueError:
        return None


def select_platform_tags(tags: Mapping[str, object] | set[str] | frozenset[str]) -> dict[str, str]:
    """Recipe platform -> bottle tag, decided from the tags the formula lists.

    ``x86_64_linux`` -> linux/amd64, ``arm64_linux`` -> linux/arm64, the newest ``arm64_<macos>``
    -> darwin/arm64, the newest plain ``<macos>`` -> darwin/amd64. An ``all`` bottle (one
    arch-independent bottle) serves every platform without its own tag. Unknown tags are ignored.
    """
    present = set(tags)
    chosen: dict[str, str] = {}
    for platform, tag in LINUX_TAGS.items():
        if tag in present:
            chosen[platform] = tag
    arm = [
        (r, t) for t in present if t.startswith("arm64_") and (r := _macos_rank(t[6:])) is not None
    ]
    intel = [(r, t) for t in present if (r := _macos_rank(t)) is not None]
    if arm:
        chosen["darwin/arm64"] = max(arm)[1]
    if intel:
        chosen["darwin/amd64"] = max(intel)[1]
    if "all" in present:
        for platform in PLATFORMS:
            chosen.setdefault(platform, "all")
    return {p: chosen[p] for p in PLATFORMS if p in chosen}


def fetch_formula(http: HttpClient, name: str) -> Formula:
    """GET and parse one formula document (the name is checked before any request)."""
    path = formula_path(name)
    document = http.get_json("homebrew", path)
    return parse_formula(document, url=http.url("homebrew", path))


# ---------------------------------------------------------------- analytics


@dataclass(frozen=True, slots=True)
class AnalyticsRow:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class Analytics:
    rows: tuple[AnalyticsRow, ...]
    skipped: tuple[tuple[str, str], ...]  # (raw name, reason)
    total_items: int | None
    start_date: str | None
    end_date: str | None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_count(value: object) -> int | None:
    """``"281,421"`` -> 281421 (the API formats counts with thousands separators)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and re.fullmatch(r"\d{1,3}(,\d{3})*|\d+", value.strip()):
        return int(value.strip().replace(",", ""))
    return None


def parse_analytics(document: Any, *, key: str, url: str = "") -> Analytics:
    """Parse an analytics document (``items[]`` of ``{number, <key>, count, percent}``).

    ``key`` is ``formula`` or ``cask``. Tap names (``user/tap/x``) and option variants
    (``neovim --HEAD``) are skipped with a reason; names that are not valid are skipped too.
    A name listed twice keeps its larger count.
    """
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise BadResponse("analytics document has no items[]", url=url)
    counts: dict[str, int] = {}
    skipped: list[tuple[str, str]] = []
    for item in document["items"]:
        raw = item.get(key) if isinstance(item, dict) else None
        count = parse_count(item.get("count")) if isinstance(item, dict) else None
        if not isinstance(raw, str):
            skipped.append((repr(raw)[:80], "malformed"))
            continue
        if count is None:
            skipped.append((raw[:80], "malformed count"))
        elif " " in raw.strip() or raw.startswith("-"):
            skipped.append((raw[:80], "option variant"))
        elif "/" in raw:
            skipped.append((raw[:80], "tap name"))
        elif not FORMULA_NAME.fullmatch(raw) or ".." in raw:
            skipped.append((raw[:80], "invalid name"))
        else:
            counts[raw] = max(count, counts.get(raw, 0))
    total = document.get("total_items")
    return Analytics(
        rows=tuple(AnalyticsRow(n, c) for n, c in counts.items()),
        skipped=tuple(skipped),
        total_items=total if isinstance(total, int) and not isinstance(total, bool) else None,
        start_date=_optional_str(document.get("start_date")),
        end_date=_optional_str(document.get("end_date")),
    )
