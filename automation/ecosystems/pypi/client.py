"""PyPI: project metadata from the JSON API and executables from the newest wheel.

Executables come from the wheel itself: ``*.dist-info/entry_points.txt`` ``[console_scripts]``
and files under ``*.data/scripts/`` (how maturin wheels such as ruff ship their binary). The wheel
is read with HTTP Range requests (end-of-central-directory record, central directory, then the one
local entry); a server that ignores Range gets a capped full download whose sha256 is checked.

Not every script a wheel ships is a command a user can run after ``pipx install`` on Linux:
Windows wrappers (``az.bat``, ``aws.cmd``), shell completion files (``aws_zsh_completer.sh``) and
names pinned to one interpreter (``coverage-3.11``) or one release (``swig4.0``) are dropped by
``not_runnable_reason``. One
wheel is read per project, so these are name rules: the kit does not compare wheels.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient
from automation.core.jsonsplit import split_object
from automation.core.timefmt import parse_timestamp
from automation.ecosystems.pypi.extras import ExtraNeed, script_needs, source_members
from automation.ecosystems.pypi.requires import (
    PythonTarget,
    admits,
    newest_admitting,
    parse_metadata_requirements,
    release_requires_python,
)

# PEP 508 project names.
PROJECT_NAME = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]{0,198}[A-Za-z0-9])$")
# Script names we accept from an untrusted wheel: a plain file name, no separators or spaces.
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
WHEEL_NAME = re.compile(
    r"^(?P<dist>[^-]+)-(?P<ver>[^-]+)(-(?P<build>\d[^-]*))?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)
TAIL_BYTES = 64 * 1024
MAX_CENTRAL_DIRECTORY = 16 * 1024 * 1024
MAX_ENTRY_POINTS_BYTES = 1024 * 1024
# Reading a wheel's METADATA and module sources to find the optional extras a script needs.
MAX_METADATA_BYTES = 4 * 1024 * 1024
MAX_SOURCE_BYTES = 1024 * 1024  # one module
MAX_SOURCE_SPAN = 8 * 1024 * 1024  # one range holding the scripts' packages
MAX_SOURCE_READS = 32  # member by member, when the packages span more
MAX_SCRIPTS = 200
# Scripts that only Windows runs (checked case-insensitively).
WINDOWS_ONLY_SUFFIXES = (".bat", ".cmd", ".ps1", ".exe")
# Shell completion files are sourced by a shell, not run as commands.
COMPLETION_WORDS = ("completion", "completer")
COMPLETION_SUFFIXES = (".bash", ".zsh", ".fish")
# A trailing Python version (``coverage-3.11``, ``pip3.12``, ``tool-py3.11``): the script exists
# only in the wheel built for that interpreter, so another Python's install lacks it.
INTERPRETER_SUFFIX = re.compile(r"(?<=[A-Za-z_])(?:-py|-|py)?(?:2\.[0-7]|3\.[0-9]{1,2})$")
# A trailing release number (``swig4.0`` beside ``swig``): the name changes with the tool's
# releases, so a recipe listing it breaks on the next one; the unversioned command is the one.
VERSION_SUFFIX = re.compile(r"[0-9]\.[0-9]+$")
HOMEPAGE_KEYS = ("homepage", "home", "repository", "source", "sourcecode", "github", "code")


def check_project_name(name: str) -> str:
    """Return ``name`` if it is a valid PyPI project name, else raise UnsafeNameError."""
    if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
        raise UnsafeNameError(f"invalid PyPI project name {name!r}")
    return name


def normalise_project_name(name: str) -> str:
    """PEP 503 normalisation: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_path(name: str) -> str:
    """Path of the JSON API document on the ``pypi`` endpoint."""
    return f"/pypi/{quote(check_project_name(name), safe='')}/json"


@dataclass(frozen=True, slots=True)
class WheelFile:
    filename: str
    url: str  # absolute, resolved against the document URL
    size: int | None
    sha256: str | None
    upload_time: str | None


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    """What the JSON document says (no wheel contents)."""

    name: str
    version: str
    summary: str
    homepage: str | None
    upload_time: str | None
    release_count: int
    has_project_urls: bool
    wheel: WheelFile | None
    # With a Python target: ``version`` is the newest release admitting it (tsuku's choice),
    # ``latest`` the project's latest release; ``runtime_conflict`` says why none admits it.
    latest: str = ""
    requires_python: str | None = None  # of ``version``
    runtime_conflict: str = ""
    classifiers: tuple[str, ...] = ()  # ``info.classifiers`` (seeding's tool signals)
    keywords: str = ""  # ``info.keywords`` as written (comma or space separated)
    # The earliest ``upload_time_iso_8601`` of any file of any release (yanked ones too: they
    # date the name as well): the project's first release, for the age and typosquat gates.
    first_release: str | None = None


@dataclass(frozen=True, slots=True)
class WheelScripts:
    console_scripts: tuple[str, ...]
    data_scripts: tuple[str, ...]
    method: str  # "range" | "full"
    ignored: tuple[str, ...] = ()  # entries skipped as unsafe
    entry_points: Mapping[str, str] = field(default_factory=dict)  # console script -> reference
    dist_info: str = ""  # the ``*.dist-info`` directory entry_points.txt was read from


@dataclass(frozen=True, slots=True)
class PypiProject:
    """A PyPI project as the kit uses it. ``executables`` = console scripts ∪ data scripts."""

    name: str
    version: str
    summary: str
    homepage: str | None
    console_scripts: tuple[str, ...]
    data_scripts: tuple[str, ...]
    upload_time: str | None
    release_count: int
    has_project_urls: bool
    wheel: WheelFile | None
    wheel_read: str | None  # "range" | "full" | None (no wheel)
    latest: str = ""  # the latest release (``version`` is older when it excludes the runtime)
    requires_python: str | None = None
    runtime_conflict: str = ""  # why no release admits the runtime ("" when one does)
    # console script -> the optional extras it needs to run (read with ``extras=True``)
    script_extras: Mapping[str, ExtraNeed] = field(default_factory=dict)
    classifiers: tuple[str, ...] = ()
    keywords: str = ""
    first_release: str | None = None  # earliest upload time over every release's files

    @property
    def executables(self) -> tuple[str, ...]:
        """Scripts a user can run on Linux: the wheel's scripts minus ``not_runnable`` ones."""
        return runnable_scripts(self.console_scripts + self.data_scripts)

    @property
    def not_runnable(self) -> tuple[tuple[str, str], ...]:
        """(script, reason) for each script of the wheel left out of ``executables``, sorted."""
        names = sorted(set(self.console_scripts) | set(self.data_scripts))
        reasons = ((name, not_runnable_reason(name)) for name in names)
        return tuple((name, reason) for name, reason in reasons if reason is not None)

    @property
    def is_cli(self) -> bool:
        return bool(self.executables)


# ---------------------------------------------------------------- which scripts are commands


def not_runnable_reason(script: str) -> str | None:
    """Why a wheel's script is not a command a Linux user runs, or None when it is one.

    ``windows_only`` (``.bat``/``.cmd``/``.ps1``/``.exe``), ``shell_completion`` (a name with
    ``completion``/``completer`` or ending ``.bash``/``.zsh``/``.fish``), ``interpreter_specific``
    (a trailing Python version such as ``-3.11``, ``3.11`` or ``-py3.11``), ``version_suffixed``
    (any other trailing release number, ``swig4.0``: renamed by the next release).
    """
    lowered = script.lower()
    if lowered.endswith(WINDOWS_ONLY_SUFFIXES):
        return "windows_only"
    if any(word in lowered for word in COMPLETION_WORDS) or lowered.endswith(COMPLETION_SUFFIXES):
        return "shell_completion"
    if INTERPRETER_SUFFIX.search(script):
        return "interpreter_specific"
    if VERSION_SUFFIX.search(script):
        return "version_suffixed"
    return None


def runnable_scripts(scripts: Sequence[str]) -> tuple[str, ...]:
    """The scripts ``not_runnable_reason`` accepts, sorted and de-duplicated."""
    return tuple(sorted({s for s in scripts if not_runnable_reason(s) is None}))


# ---------------------------------------------------------------- pure parsers of the JSON


def https_url(value: object) -> str | None:
    """``value`` if it is an https URL with a host (http homepages fail recipe validation)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        return None
    return value


def _label_key(label: str) -> str:
    # PEP 753 label normalisation: lowercase, drop punctuation and whitespace.
    return re.sub(r"[^a-z0-9]", "", label.lower())


def select_homepage(info: Mapping[str, Any]) -> str | None:
    """``info.home_page`` when https, else the first https ``project_urls`` Homepage/Repository/…"""
    home = https_url(info.get("home_page"))
    if home:
        return home
    urls = info.get("project_urls") or {}
    if not isinstance(urls, dict):
        return None
    by_key = {_label_key(str(k)): v for k, v in urls.items()}
    for key in HOMEPAGE_KEYS:
        candidate = https_url(by_key.get(key))
        if candidate:
            return candidate
    return None


def _wheel_rank(filename: str) -> tuple[int, str]:
    match = WHEEL_NAME.match(filename)
    if not match:
        return (9, filename)
    py, abi, plat = match["py"], match["abi"], match["plat"]
    if plat == "any" and abi == "none" and "py3" in py.split("."):
        return (0, filename)  # py3-none-any (also py2.py3-none-any)
    if plat == "any":
        return (1, filename)  # any other pure wheel
    # Executables do not depend on the platform; pick the most common one deterministically.
    if "manylinux" in plat and "x86_64" in plat:
        return (2, filename)
    return (3, filename)


def _wheel_files(files: object, base_url: str) -> list[WheelFile]:
    out: list[WheelFile] = []
    if not isinstance(files, list):
        return out
    for item in files:
        if not isinstance(item, dict) or item.get("packagetype") != "bdist_wheel":
            continue
        if item.get("yanked"):
            continue
        filename, url = item.get("filename"), item.get("url")
        if not isinstance(filename, str) or not isinstance(url, str):
            continue
        if not filename.endswith(".whl") or "/" in filename or "\\" in filename:
            continue
        digests = item.get("digests") if isinstance(item.get("digests"), dict) else {}
        sha = digests.get("sha256") if isinstance(digests, dict) else None
        size = item.get("size")
        out.append(
            WheelFile(
                filename=filename,
                url=urljoin(base_url, url),
                size=size if isinstance(size, int) and size >= 0 else None,
                sha256=sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) else None,
                upload_time=item.get("upload_time_iso_8601") or item.get("upload_time"),
            )
        )
    return out


def select_wheel(files: Sequence[WheelFile]) -> WheelFile | None:
    """Prefer ``py3-none-any``, else any pure wheel, else any wheel (manylinux x86_64 first)."""
    if not files:
        return None
    return min(files, key=lambda w: _wheel_rank(w.filename))


def latest_requires_python(document: Mapping[str, Any]) -> str | None:
    """``requires_python`` of the latest release: ``info.requires_python``, else its files'."""
    info = document.get("info")
    value = info.get("requires_python") if isinstance(info, dict) else None
    if isinstance(value, str) and value.strip():
        return value
    urls = document.get("urls")
    return release_requires_python(urls) if isinstance(urls, list) else None


def _needs_releases(document: Mapping[str, Any], python: PythonTarget | None) -> bool:
    """Whether ``parse_project_json`` reads the files of ``releases``: the latest release has
    no wheel, or (with ``python``) its ``requires_python`` excludes that interpreter."""
    if not _wheel_files(document.get("urls"), ""):
        return True
    return python is not None and not admits(latest_requires_python(document), python)


def _newest_wheels(
    releases: Mapping[str, Any], base_url: str, keep: Callable[[str], bool]
) -> list[WheelFile]:
    """The wheels of the most recently uploaded release ``keep`` accepts that has one."""
    newest: tuple[str, list[WheelFile]] | None = None
    for key, files in releases.items():
        if not keep(key):
            continue
        candidates = _wheel_files(files, base_url)
        if not candidates:
            continue
        stamp = max(w.upload_time or "" for w in candidates)
        if newest is None or stamp > newest[0]:
            newest = (stamp, candidates)
    return newest[1] if newest else []


def _upload_times(files: object) -> list[str]:
    return [
        f["upload_time_iso_8601"]
        for f in (files if isinstance(files, list) else [])
        if isinstance(f, dict) and isinstance(f.get("upload_time_iso_8601"), str)
    ]


def first_upload(releases: Mapping[str, Any]) -> str | None:
    """The earliest ``upload_time_iso_8601`` over every file of every release (None if none).

    Compared as instants, not as text: PyPI writes microseconds, a mirror may not.
    """
    earliest: tuple[datetime, str] | None = None
    for files in releases.values():
        for stamp in _upload_times(files):
            try:
                when = parse_timestamp(stamp)
            except ValueError:
                continue
            if earliest is None or when < earliest[0]:
                earliest = (when, stamp)
    return earliest[1] if earliest else None


def parse_project_json(
    document: Any, *, base_url: str, python: PythonTarget | None = None
) -> ProjectInfo:
    """Parse ``/pypi/<name>/json``. ``base_url`` resolves relative file URLs (mirrors use them).

    The newest wheel is taken from ``urls`` (files of ``info.version``); when that release has no
    wheel, from the most recently uploaded release in ``releases`` that has one.

    With ``python``, a latest release whose ``requires_python`` excludes that interpreter gives
    way to the newest release admitting it (``requires.newest_admitting``, the release tsuku
    installs): its version and wheel are returned (a release without a wheel borrows the most
    recently uploaded admitting release's). When no release admits it, the latest is returned
    with ``runtime_conflict`` set. The files of ``releases`` are read in these cases only
    (``decode_project_json`` relies on it).
    """
    if not isinstance(document, dict) or not isinstance(document.get("info"), dict):
        raise BadResponse("PyPI document has no info object", url=base_url)
    info = document["info"]
    name, version = info.get("name"), info.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise BadResponse("PyPI document lacks info.name/info.version", url=base_url)
    check_project_name(name)
    releases = document.get("releases") if isinstance(document.get("releases"), dict) else {}
    assert isinstance(releases, dict)
    latest, requires_python, conflict = version, latest_requires_python(document), ""
    files: object = document.get("urls")
    if python is not None and not admits(requires_python, python):
        choice = newest_admitting(releases, python)
        if choice is None:
            shown = requires_python.strip() if requires_python else "?"
            conflict = (
                f"no release admits {python.label}: the latest, {latest}, requires Python {shown}"
            )
        else:
            version, requires_python = choice.version, choice.requires_python
            files = releases.get(version)
    wheels = _wheel_files(files, base_url)
    if not wheels:

        def keep(key: str) -> bool:
            if python is None or conflict:
                return True
            return admits(release_requires_python(releases.get(key) or []), python)

        wheels = _newest_wheels(releases, base_url, keep)
    wheel = select_wheel(wheels)
    upload_times = _upload_times(files)
    summary = info.get("summary")
    project_urls = info.get("project_urls")
    return ProjectInfo(
        name=name,
        version=version,
        summary=summary.strip() if isinstance(summary, str) else "",
        homepage=select_homepage(info),
        upload_time=wheel.upload_time if wheel else (min(upload_times) if upload_times else None),
        release_count=len(releases),
        has_project_urls=isinstance(project_urls, dict) and any(project_urls.values()),
        wheel=wheel,
        latest=latest,
        requires_python=requires_python,
        runtime_conflict=conflict,
        classifiers=_strings(info.get("classifiers")),
        keywords=info["keywords"].strip() if isinstance(info.get("keywords"), str) else "",
        first_release=first_upload(releases),
    )


def _strings(value: object) -> tuple[str, ...]:
    """The strings of a JSON list (anything else: none)."""
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def decode_project_json(body: bytes, python: PythonTarget | None = None) -> Any:
    """``json.loads(body)`` as far as ``parse_project_json`` can tell, in a fraction of the time.

    Only ``info``, ``urls`` and ``releases`` are decoded, and the files of each release only
    when ``parse_project_json`` (given the same ``python``) reads them: ``urls`` (the current
    release's files) holds no wheel, or the latest release excludes ``python``. Otherwise every
    release maps to None (the count stays). A body the fast path cannot vouch for is decoded
    whole by ``json.loads``, errors included.
    """
    members = split_object(body, ("info", "urls"), nested="releases")
    if members is None:
        return json.loads(body)
    document: dict[str, Any] = {key: json.loads(bytes(raw)) for key, raw in members.raw.items()}
    if members.nested is not None:
        if _needs_releases(document, python):
            document["releases"] = {k: json.loads(bytes(v)) for k, v in members.nested.items()}
        else:
            # Of the files nothing else is read but their upload times (``first_upload``).
            document["releases"] = {k: _upload_stamps(bytes(v)) for k, v in members.nested.items()}
    return document


_UPLOAD_TIME_KEY = b'"upload_time_iso_8601"'
_UPLOAD_TIME = re.compile(rb'"upload_time_iso_8601"\s*:\s*"([^"\\]*)"')


def _upload_stamps(raw: bytes) -> Any:
    """One release's files reduced to their ``upload_time_iso_8601`` (what ``first_upload``
    reads), by a scan of the raw text: decoding every release's files is most of the cost of a
    project with hundreds of releases. A value the scan cannot vouch for (an escape, null, the
    key written some other way) sends the release through ``json.loads``."""
    stamps = _UPLOAD_TIME.findall(raw)
    if raw.count(_UPLOAD_TIME_KEY) != len(stamps):
        return json.loads(raw)
    return [{"upload_time_iso_8601": stamp.decode("utf-8")} for stamp in stamps]


# ---------------------------------------------------------------- entry_points.txt


def parse_entry_points(text: str) -> dict[str, dict[str, str]]:
    """Parse ``entry_points.txt`` (INI as the entry-points spec defines it).

    Sections ``[group]``; ``name = object reference`` split at the first ``=``; names keep
    their case; ``#``/``;`` comment lines; indented lines continue the previous value; later
    duplicates win.
    Lines that fit none of these are ignored rather than trusted.
    """
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_key: str | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith(("#", ";")):
            continue
        if raw[0] in " \t" and current is not None and last_key is not None:
            current[last_key] = (current[last_key] + " " + raw.strip()).strip()
            continue
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1].strip(), {})
            last_key = None
            continue
        if current is None or "=" not in line:
            last_key = None
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        if not key:
            last_key = None
            continue
        current[key] = value.strip()
        last_key = key
    return groups


def console_scripts_from(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(safe console script names sorted, ignored names) from ``entry_points.txt``."""
    scripts = parse_entry_points(text).get("console_scripts", {})
    good = sorted(k for k in scripts if SCRIPT_NAME.fullmatch(k) and scripts[k])
    bad = sorted(k for k in scripts if k not in good)
    return tuple(good[:MAX_SCRIPTS]), tuple(bad)


# ---------------------------------------------------------------- zip reading

EOCD = b"PK\x05\x06"
EOCD64_LOCATOR = b"PK\x06\x07"
EOCD64 = b"PK\x06\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class ZipEntry:
    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int


def _find_eocd(tail: bytes, url: str) -> tuple[int, int, int, int]:
    """(entries, cd_size, cd_offset, eocd position in ``tail``) from the file's last bytes."""
    pos = tail.rfind(EOCD)
    while pos >= 0:
        if pos + 22 <= len(tail):
            (_, _, _, _, entries, cd_size, cd_offset, comment_len) = struct.unpack(
                "<4sHHHHIIH", tail[pos : pos + 22]
            )
            if pos + 22 + comment_len == len(tail):
                break
        pos = tail.rfind(EOCD, 0, pos)
    if pos < 0:
        raise BadResponse("not a zip file: no end-of-central-directory record", url=url)
    if 0xFFFFFFFF in (cd_size, cd_offset) or entries == 0xFFFF:
        loc = pos - 20
        if loc < 0 or tail[loc : loc + 4] != EOCD64_LOCATOR:
            raise BadResponse("zip64 record not found in the tail", url=url)
        (eocd64_offset,) = struct.unpack("<Q", tail[loc + 8 : loc + 16])
        return -1, 0, eocd64_offset, pos
    return entries, cd_size, cd_offset, pos


def _parse_eocd64(record: bytes, url: str) -> tuple[int, int, int]:
    if len(record) < 56 or record[:4] != EOCD64:
        raise BadResponse("bad zip64 end-of-central-directory record", url=url)
    entries, cd_size, cd_offset = struct.unpack("<QQQ", record[32:56])
    return entries, cd_size, cd_offset


def _zip64_extra(extra: bytes, size: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[pos : pos + 4])
        data = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            values = [struct.unpack("<Q", data[i : i + 8])[0] for i in range(0, len(data) - 7, 8)]
            it = iter(values)
            if size == 0xFFFFFFFF:
                size = next(it, size)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
        pos += 4 + length
    return size, csize, offset


_CENTRAL_HEADER = struct.Struct("<4sHHHHHHIIIHHHHHII")
_ZIP64 = 0xFFFFFFFF
# A path segment that is empty, "." or "..": such member names are unsafe.
_BAD_SEGMENT = re.compile(r"(?:^|/)\.{0,2}(?:/|\Z)")


# ZipEntry's fields in order: built for every file of a wheel, so a plain tuple until needed.
_Record = tuple[str, int, int, int, int, int, int]


def _central_records(data: bytes, count: int | None, url: str) -> list[_Record]:
    records: list[_Record] = []
    pos = 0
    end = len(data)
    unpack = _CENTRAL_HEADER.unpack_from
    # Hot loop (a wheel may list tens of thousands of files): no slicing but the name.
    while pos + 46 <= end and data.startswith(CENTRAL, pos):
        (
            _sig, _made, _need, flags, method, _time, _date, crc, csize, size,
            name_len, extra_len, comment_len, _disk, _iattr, _eattr, offset,
        ) = unpack(data, pos)  # fmt: skip
        name_start = pos + 46
        raw_name = data[name_start : name_start + name_len]
        if size == _ZIP64 or csize == _ZIP64 or offset == _ZIP64:
            extra_start = name_start + name_len
            extra = data[extra_start : extra_start + extra_len]
            size, csize, offset = _zip64_extra(extra, size, csize, offset)
        if raw_name.isascii():
            name = raw_name.decode("ascii")  # what both UTF-8 and cp437 give for ASCII
        else:
            try:
                name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
            except UnicodeDecodeError:
                name = ""
        records.append((name, method, flags, crc, csize, size, offset))
        pos = name_start + name_len + extra_len + comment_len
        if count is not None and len(records) >= count:
            break
    if count is not None and count >= 0 and len(records) != count:
        raise BadResponse(f"central directory lists {len(records)} of {count} entries", url=url)
    return records


def parse_central_directory(data: bytes, count: int | None, url: str) -> list[ZipEntry]:
    """Entries of a central directory (names decoded; no validation of the names here)."""
    return [ZipEntry(*record) for record in _central_records(data, count, url)]


def _safe_member(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    # Every segment printable ("/" is) and none of them "", "." or "..".
    return name.isprintable() and _BAD_SEGMENT.search(name) is None


def locate_members(
    entries: Sequence[ZipEntry], project: str
) -> tuple[ZipEntry | None, tuple[str, ...], tuple[str, ...]]:
    """(entry_points.txt entry, data script names, ignored names) among the wheel's entries.

    Only top-level ``<dist>.dist-info/entry_points.txt`` and ``<dist>.data/scripts/<file>`` count;
    with several dist-info directories, the one named after the project wins.
    """
    index, data_scripts, ignored = _locate([entry.name for entry in entries], project)
    return (None if index is None else entries[index]), data_scripts, ignored


def _locate(
    names: Sequence[str], project: str
) -> tuple[int | None, tuple[str, ...], tuple[str, ...]]:
    """``locate_members`` on member names: the chosen entry_points.txt is an index."""
    ignored: list[str] = []
    entry_points: dict[str, int] = {}
    data_scripts: set[str] = set()
    for index, name in enumerate(names):
        if not _safe_member(name):
            ignored.append(repr(name)[:100])
            continue
        if not (name.endswith("/entry_points.txt") or ".data/scripts/" in name):
            continue  # neither shape below can match: skip the split (most entries)
        parts = name.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "entry_points.txt":
            entry_points[parts[0][: -len(".dist-info")]] = index
        elif len(parts) == 3 and parts[0].endswith(".data") and parts[1] == "scripts":
            if SCRIPT_NAME.fullmatch(parts[2]):
                data_scripts.add(parts[2])
            else:
                ignored.append(name[:100])
    chosen: int | None = None
    if len(entry_points) == 1:
        chosen = next(iter(entry_points.values()))
    else:
        wanted = normalise_project_name(project)
        for dist, index in entry_points.items():
            if normalise_project_name(dist.split("-", 1)[0]) == wanted:
                chosen = index
    return chosen, tuple(sorted(data_scripts)), tuple(ignored)


def inflate_member(entry: ZipEntry, local: bytes, url: str, limit: int) -> bytes:
    """Data of ``entry`` from bytes starting at its local header; checks the CRC."""
    if len(local) < 30 or local[:4] != LOCAL:
        raise BadResponse(f"bad local header for {entry.name}", url=url)
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = 30 + name_len + extra_len
    raw = local[start : start + entry.compressed_size]
    if len(raw) < entry.compressed_size:
        raise BadResponse(f"truncated data for {entry.name}", url=url)
    if entry.flags & 0x1:
        raise BadResponse(f"{entry.name} is encrypted", url=url)
    if entry.method == 0:
        data = raw
    elif entry.method == 8:
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BadResponse(f"cannot inflate {entry.name}: {exc}", url=url) from None
    else:
        raise BadResponse(f"{entry.name} uses unsupported compression {entry.method}", url=url)
    if len(data) > limit:
        raise BadResponse(f"{entry.name} is larger than {limit} bytes", url=url)
    if zlib.crc32(data) != entry.crc:
        raise BadResponse(f"CRC mismatch for {entry.name}", url=url)
    return data


def zip_regions(
    read: Callable[[int, int], bytes], tail: bytes, total: int, url: str
) -> Callable[[int, int], bytes]:
    """``region(offset, length)`` of a zip of ``total`` bytes whose last bytes are ``tail``:
    served from ``tail`` when inside it, else by ``read``; offsets outside the file refused."""
    tail_start = total - len(tail)

    def region(offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > total:
            raise BadResponse("zip points outside the file", url=url)
        if offset >= tail_start:
            return tail[offset - tail_start : offset - tail_start + length]
        return read(offset, length)

    return region


def locate_central_directory(
    region: Callable[[int, int], bytes], tail: bytes, url: str
) -> tuple[int, int, int]:
    """(entries, size, offset) of a zip's central directory (zip64 aware)."""
    count, cd_size, cd_offset, _ = _find_eocd(tail, url)
    if count == -1:
        count, cd_size, cd_offset = _parse_eocd64(region(cd_offset, 56), url)
    return count, cd_size, cd_offset


class WheelArchive:
    """A zip of ``total`` bytes whose last bytes are ``tail``: its central directory, parsed
    once, and its members, read through ``read(offset, length)`` (only called for regions
    outside ``tail`` and outside what ``prefetch`` fetched). The same code serves ranged reads
    and a fully downloaded wheel."""

    def __init__(
        self, read: Callable[[int, int], bytes], tail: bytes, total: int, url: str
    ) -> None:
        self.url = url
        self.total = total
        self._region = zip_regions(read, tail, total, url)
        self._spans: list[tuple[int, bytes]] = []
        count, cd_size, cd_offset = locate_central_directory(self._region, tail, url)
        if cd_size > MAX_CENTRAL_DIRECTORY:
            raise BadResponse(f"central directory of {cd_size} bytes is implausible", url=url)
        self.records = _central_records(self._region(cd_offset, cd_size), count, url)
        self.names = [record[0] for record in self.records]
        self._index = {name: i for i, name in enumerate(self.names)}  # duplicates: the last

    def region(self, offset: int, length: int) -> bytes:
        for start, data in self._spans:
            if start <= offset and offset + length <= start + len(data):
                return data[offset - start : offset - start + length]
        return self._region(offset, length)

    def entry(self, name: str) -> ZipEntry | None:
        index = self._index.get(name)
        return None if index is None else ZipEntry(*self.records[index])

    def _local_span(self, entry: ZipEntry) -> int:
        # The local header's extra field may differ from the central one: allow some slack.
        return 30 + len(entry.name.encode("utf-8")) + 256 + entry.compressed_size

    def read_member(self, entry: ZipEntry, limit: int) -> bytes:
        """The inflated data of ``entry`` (at most ``limit`` bytes, CRC checked)."""
        guess = self._local_span(entry)
        local = self.region(entry.header_offset, min(guess, self.total - entry.header_offset))
        if len(local) >= 30:
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            needed = 30 + name_len + extra_len + entry.compressed_size
            if needed > len(local):
                local = self.region(entry.header_offset, needed)
        return inflate_member(entry, local, self.url, limit)

    def prefetch(self, names: Sequence[str], cap: int) -> bool:
        """Fetch the byte range holding all of ``names`` in one read when it spans at most
        ``cap`` bytes (members of one package usually sit together); True when it did."""
        entries = [e for e in (self.entry(n) for n in names) if e is not None]
        if not entries:
            return False
        start = min(e.header_offset for e in entries)
        end = min(self.total, max(e.header_offset + self._local_span(e) for e in entries))
        if end - start > cap or start >= end:
            return False
        self._spans.append((start, self.region(start, end - start)))
        return True


def console_entry_points(text: str) -> dict[str, str]:
    """Console script -> object reference, for the scripts ``console_scripts_from`` accepts."""
    scripts = parse_entry_points(text).get("console_scripts", {})
    good, _ = console_scripts_from(text)
    return {name: scripts[name] for name in good}


def wheel_scripts(archive: WheelArchive, project: str, method: str) -> WheelScripts:
    """The console and data scripts of a wheel (``method``: how it is being read)."""
    index, data_scripts, ignored = _locate(archive.names, project)
    if index is None:
        return WheelScripts((), data_scripts, method, ignored)
    entry = ZipEntry(*archive.records[index])
    if entry.compressed_size > MAX_ENTRY_POINTS_BYTES:
        raise BadResponse("entry_points.txt is implausibly large", url=archive.url)
    raw = archive.read_member(entry, MAX_ENTRY_POINTS_BYTES)
    text = raw.decode("utf-8", "replace")
    console, bad = console_scripts_from(text)
    return WheelScripts(
        console,
        data_scripts,
        method,
        ignored + bad,
        entry_points=console_entry_points(text),
        dist_info=entry.name.split("/", 1)[0],
    )


def scripts_from_zip(
    read: Callable[[int, int], bytes], tail: bytes, total: int, project: str, url: str
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(console scripts, data scripts, ignored) of a zip given its ``tail`` and a reader."""
    scripts = wheel_scripts(WheelArchive(read, tail, total, url), project, "")
    return scripts.console_scripts, scripts.data_scripts, scripts.ignored


def open_wheel(http: HttpClient, wheel: WheelFile) -> tuple[WheelArchive, str]:
    """``wheel`` as an archive read by Range requests, or from a checked full download as a
    fallback; and how it is read (``"range"`` | ``"full"``)."""
    url = http.config.rewrite_public_url(wheel.url)
    endpoint = http.config.endpoint_for_url(url)
    cap = int(http.config.setting("pypi", "max_wheel_bytes"))
    first = http.get_range(endpoint, url, None, TAIL_BYTES, max_bytes=cap)
    if first.partial and first.total_size is not None and first.total_size > len(first.body):
        total = first.total_size

        def read(offset: int, length: int) -> bytes:
            if length == 0:
                return b""
            got = http.get_range(endpoint, url, offset, offset + length - 1, max_bytes=length)
            if not got.partial:
                raise BadResponse("server stopped honouring Range", url=url)
            if len(got.body) != length:
                raise BadResponse(f"asked {length} bytes, got {len(got.body)}", url=url)
            return got.body

        return WheelArchive(read, first.body, total, url), "range"
    # The whole file arrived (Range ignored, or the file is smaller than the tail window).
    body = first.body
    if wheel.size is not None and len(body) != wheel.size:
        raise BadResponse(f"wheel is {len(body)} bytes, PyPI says {wheel.size}", url=url)
    method = "range" if first.partial else "full"
    if wheel.sha256 is not None and hashlib.sha256(body).hexdigest() != wheel.sha256:
        raise BadResponse("wheel sha256 does not match PyPI's digest", url=url)

    def whole(offset: int, length: int) -> bytes:
        return body[offset : offset + length]

    return WheelArchive(whole, body, len(body), url), method


def read_wheel_scripts(http: HttpClient, wheel: WheelFile, project: str) -> WheelScripts:
    """Executables of ``wheel`` via Range requests, or a checked full download as a fallback."""
    archive, method = open_wheel(http, wheel)
    return wheel_scripts(archive, project, method)


# ---------------------------------------------------------------- optional extras


def analyse_extras(
    archive: WheelArchive, scripts: WheelScripts, project: str, python: PythonTarget
) -> dict[str, ExtraNeed]:
    """Console script -> the extras it needs (``extras.script_needs``), read from the wheel's
    ``METADATA`` and module sources. Sources are read only when some extra installs a project
    the base does not (or an entry point declares extras): in one range when the wheel's
    modules (else the scripts' packages) span at most ``MAX_SOURCE_SPAN`` bytes, else member
    by member, at most ``MAX_SOURCE_READS`` of them. A member too large or past that budget
    counts as unread."""
    if not scripts.entry_points or not scripts.dist_info:
        return {}
    metadata = archive.entry(f"{scripts.dist_info}/METADATA")
    if metadata is None or metadata.size > MAX_METADATA_BYTES:
        return {}
    text = archive.read_member(metadata, MAX_METADATA_BYTES).decode("utf-8", "replace")
    requirements = parse_metadata_requirements(text, python)
    members = [name for name in archive.names if _safe_member(name)]
    prefetched = archive.prefetch(source_members({}, members), MAX_SOURCE_SPAN) or archive.prefetch(
        source_members(scripts.entry_points, members), MAX_SOURCE_SPAN
    )
    budget = [0 if prefetched else MAX_SOURCE_READS]

    def read(name: str) -> bytes | None:
        entry = archive.entry(name)
        if entry is None or entry.size > MAX_SOURCE_BYTES:
            return None
        if not prefetched:
            if budget[0] <= 0:
                return None
            budget[0] -= 1
        return archive.read_member(entry, MAX_SOURCE_BYTES)

    return script_needs(scripts.entry_points, members, read, requirements, project)


# ---------------------------------------------------------------- fetch


def fetch_project_info(
    http: HttpClient, name: str, python: PythonTarget | None = None
) -> ProjectInfo:
    """GET and parse the JSON document only (one request); see ``parse_project_json``."""
    path = project_path(name)
    document = http.get_json("pypi", path, decode=lambda body: decode_project_json(body, python))
    return parse_project_json(document, base_url=http.url("pypi", path), python=python)


def fetch_pypi_project(
    http: HttpClient, name: str, *, python: PythonTarget | None = None, extras: bool = False
) -> PypiProject:
    """Metadata and executables of PyPI project ``name`` (1 JSON request + 2–3 ranged reads).

    ``python``: the release read is the newest admitting that interpreter
    (``parse_project_json``). ``extras`` (with ``python``): the console scripts that need an
    optional extra are found (``analyse_extras``: 0–2 more reads), unless no release admits it.
    """
    info = fetch_project_info(http, name, python)
    needs: dict[str, ExtraNeed] = {}
    if info.wheel:
        archive, method = open_wheel(http, info.wheel)
        scripts = wheel_scripts(archive, info.name, method)
        if extras and python is not None and not info.runtime_conflict:
            needs = analyse_extras(archive, scripts, info.name, python)
    else:
        scripts = WheelScripts((), (), "none")
    return PypiProject(
        name=info.name,
        version=info.version,
        summary=info.summary,
        homepage=info.homepage,
        console_scripts=scripts.console_scripts,
        data_scripts=scripts.data_scripts,
        upload_time=info.upload_time,
        release_count=info.release_count,
        has_project_urls=info.has_project_urls,
        wheel=info.wheel,
        wheel_read=scripts.method if info.wheel else None,
        latest=info.latest,
        requires_python=info.requires_python,
        runtime_conflict=info.runtime_conflict,
        script_extras=needs,
        classifiers=info.classifiers,
        keywords=info.keywords,
        first_release=info.first_release,
    )
