"""crates.io: the crate document (``GET /api/v1/crates/<crate>``) and the category listing.

Executables come from ``versions[].bin_names`` of the version ``cargo install <crate>`` would
pick: the highest non-yanked stable version by semver (pre-releases only when nothing else is
left). Documents from before crates.io recorded ``bin_names`` (2018-era schema) lack the key:
that is "unknown", reported as such, never guessed. Every request carries the kit's User-Agent
(crates.io refuses anonymous clients); ``HttpClient`` sets it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient
from automation.ecosystems.pypi.client import https_url

ENDPOINT = "cratesio"
CRATE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$")
BIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
MAX_VERSIONS = 20_000
MAX_BIN_NAMES = 200
CATEGORY = "command-line-utilities"
PER_PAGE = 100
DEFAULT_PAGE_BUDGET = 10
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)

# Status values of a parsed crate (the adapter maps them to failure subcategories).
OK = "ok"
LIBRARY_ONLY = "library_only"
NO_BIN_METADATA = "no_bin_metadata"
ALL_YANKED = "all_yanked"


def check_crate_name(name: object) -> str:
    """Return ``name`` if it is a valid crates.io crate name, else raise UnsafeNameError."""
    if not isinstance(name, str) or not CRATE_NAME.fullmatch(name):
        raise UnsafeNameError(f"invalid crate name {name!r}")
    return name


def crate_path(name: str) -> str:
    return f"/api/v1/crates/{quote(check_crate_name(name), safe='')}"


def category_path(page: int, *, category: str = CATEGORY, per_page: int = PER_PAGE) -> str:
    query = urlencode(
        {"category": category, "sort": "downloads", "per_page": per_page, "page": page}
    )
    return f"/api/v1/crates?{query}"


@dataclass(frozen=True, slots=True)
class CrateInfo:
    name: str
    version: str  # the chosen version ("" when every version is yanked)
    description: str
    homepage: str | None
    repository: str | None
    bin_names: tuple[str, ...] | None  # None: the document does not say (older schema)
    status: str  # OK | LIBRARY_ONLY | NO_BIN_METADATA | ALL_YANKED
    created_at: str | None  # when the crate was first published
    ignored: tuple[str, ...] = ()  # bin names rejected as unsafe
    downloads: int | None = None  # ``crate.downloads``: all-time downloads of every version

    @property
    def executables(self) -> tuple[str, ...]:
        return self.bin_names or ()


def semver_key(
    num: str,
) -> tuple[int, tuple[int, int, int], tuple[tuple[int, int | str], ...], str]:
    """Sort key: (is stable, (major, minor, patch), pre-release identifiers, text).

    Stable releases sort above pre-releases (as cargo install prefers them); unparsable
    numbers sort lowest. Ties end on the text, so the order never depends on input order.
    """
    match = _SEMVER.fullmatch(num)
    if not match:
        return (-1, (0, 0, 0), (), num)
    core = (int(match[1]), int(match[2]), int(match[3]))
    pre = match[4]
    if pre is None:
        return (1, core, (), num)
    # Numeric identifiers rank below alphanumeric ones (semver §11).
    ids = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (0, core, ids, num)


def count_or_none(value: object) -> int | None:
    """A download count as the document gives it: a non-negative integer, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_crate_document(document: Any, *, url: str) -> CrateInfo:
    """Parse ``/api/v1/crates/<crate>`` (2018 and 2025 schemas)."""
    if not isinstance(document, dict) or not isinstance(document.get("crate"), dict):
        raise BadResponse("crates.io document has no crate object", url=url)
    crate = document["crate"]
    name = check_crate_name(crate.get("name") or crate.get("id"))
    versions = document.get("versions")
    if not isinstance(versions, list):
        raise BadResponse("crates.io document has no versions[]", url=url)
    if len(versions) > MAX_VERSIONS:
        raise BadResponse(f"crates.io lists {len(versions)} versions", url=url)
    candidates: list[Mapping[str, Any]] = []
    for item in versions:
        if not isinstance(item, dict) or not isinstance(item.get("num"), str):
            continue
        if item.get("crate") not in (None, name):
            continue  # a version of another crate has no business here
        if item.get("yanked") is True:
            continue
        candidates.append(item)
    description = _text(crate.get("description"))
    homepage, repository = https_url(crate.get("homepage")), https_url(crate.get("repository"))
    created = crate.get("created_at") if isinstance(crate.get("created_at"), str) else None
    downloads = count_or_none(crate.get("downloads"))
    if not candidates:
        return CrateInfo(
            name, "", description, homepage, repository, None, ALL_YANKED, created, (), downloads
        )
    chosen = max(candidates, key=lambda v: semver_key(v["num"]))
    version = chosen["num"]
    if "bin_names" not in chosen or chosen["bin_names"] is None:
        return CrateInfo(
            name,
            version,
            description,
            homepage,
            repository,
            None,
            NO_BIN_METADATA,
            created,
            downloads=downloads,
        )
    raw = chosen["bin_names"]
    if not isinstance(raw, list):
        raise BadResponse(f"bin_names of {name} {version} is not a list", url=url)
    if len(raw) > MAX_BIN_NAMES:
        raise BadResponse(f"{name} {version} declares {len(raw)} binaries", url=url)
    good = sorted({b for b in raw if isinstance(b, str) and BIN_NAME.fullmatch(b)})
    bad = sorted(repr(b)[:100] for b in raw if not (isinstance(b, str) and BIN_NAME.fullmatch(b)))
    status = OK if good else LIBRARY_ONLY
    return CrateInfo(
        name,
        version,
        description,
        homepage,
        repository,
        tuple(good),
        status,
        created,
        tuple(bad),
        downloads,
    )


def fetch_crate(http: HttpClient, name: str) -> CrateInfo:
    """GET and parse one crate document (NotFound for an unknown crate)."""
    path = crate_path(name)
    document = http.get_json(ENDPOINT, path)
    return parse_crate_document(document, url=http.url(ENDPOINT, path))


@dataclass(frozen=True, slots=True)
class CategoryPage:
    pairs: tuple[tuple[str, int], ...]  # (crate, recent_downloads)
    total: int | None
    has_next: bool
    skipped: int


def parse_category_page(document: Any, *, url: str) -> CategoryPage:
    """Parse one page of ``/api/v1/crates?category=...``: ``crates[]`` and ``meta``."""
    if not isinstance(document, dict) or not isinstance(document.get("crates"), list):
        raise BadResponse("crates.io listing has no crates[]", url=url)
    pairs: list[tuple[str, int]] = []
    skipped = 0
    for item in document["crates"]:
        name = item.get("name") if isinstance(item, dict) else None
        count = item.get("recent_downloads") if isinstance(item, dict) else None
        if not isinstance(name, str) or not CRATE_NAME.fullmatch(name):
            skipped += 1
            continue
        if count is None:
            count = 0  # crates.io omits recent_downloads for crates with none
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            skipped += 1
            continue
        pairs.append((name, count))
    meta = document.get("meta") if isinstance(document.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    total = meta.get("total")
    next_page = meta.get("next_page")
    return CategoryPage(
        pairs=tuple(pairs),
        total=total if isinstance(total, int) and total >= 0 else None,
        # Newer responses say whether there is a next page; older ones only have the total.
        has_next=(isinstance(next_page, str) and bool(next_page))
        or ("next_page" not in meta and len(document["crates"]) >= PER_PAGE),
        skipped=skipped,
    )
