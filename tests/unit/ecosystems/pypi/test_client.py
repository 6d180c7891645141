"""PyPI client: parsers on saved real responses; wheel reading over Range from a local server,
and the central-directory fast path held to zipfile."""

from __future__ import annotations

import copy
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.core.config import Config, public_endpoints
from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient
from automation.ecosystems.pypi import client as pypi
from automation.ecosystems.pypi.requires import PythonTarget
from tests.support.fake_upstream import FIXTURES, FakeUpstream, sparse_wheel, wheel_manifest


def reference_safe_member(name: str) -> bool:
    """The original check, segment by segment."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    return all(p not in ("", ".", "..") and p.isprintable() for p in name.split("/"))


NAMES = st.one_of(
    st.text(alphabet="ab./\\\x00\n\u00e9\u2028 ", max_size=12),
    st.lists(
        st.sampled_from(["", ".", "..", "...", "a", "b.c", "é", "x\ny", "d\u200b"]), max_size=5
    ).map("/".join),
)


@settings(max_examples=2000)
@given(NAMES)
def test_safe_member_matches_the_segment_check(name: str) -> None:
    assert pypi._safe_member(name) == reference_safe_member(name)


def build_wheel(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, b"[console_scripts]\nx = x:main\n")
    return buffer.getvalue()


def central_directory(blob: bytes) -> tuple[bytes, int]:
    count, size, offset, _ = pypi._find_eocd(blob[-65536:], "u")
    return blob[offset : offset + size], count


@pytest.mark.parametrize(
    "names",
    [
        ["tool/__init__.py", "tool-1.0.dist-info/entry_points.txt", "tool-1.0.data/scripts/t"],
        ["pkg/\u00fcber.py", "pkg/\u65e5\u672c.txt", "pkg-1.dist-info/RECORD"],  # UTF-8 flag
        ["a/./b", "../evil", "ok-1.dist-info/entry_points.txt", "x.data/scripts/bad name"],
    ],
)
def test_central_directory_lists_what_zipfile_lists(names: list[str]) -> None:
    blob = build_wheel(names)
    data, count = central_directory(blob)
    entries = pypi.parse_central_directory(data, count, "u")
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        infos = archive.infolist()
    assert [e.name for e in entries] == [i.filename for i in infos]
    assert [(e.compressed_size, e.size, e.header_offset, e.crc) for e in entries] == [
        (i.compress_size, i.file_size, i.header_offset, i.CRC) for i in infos
    ]


def test_cp437_names_decode_as_before() -> None:
    blob = build_wheel(["caf\u00e9.txt"])
    # Clear the UTF-8 flag of the central record: the name then reads as cp437.
    data, count = central_directory(blob)
    raw = bytearray(data)
    assert raw[9] & 0x08  # zipfile set the UTF-8 flag (bit 11: high byte of the flags)
    raw[9] &= ~0x08
    entry = pypi.parse_central_directory(bytes(raw), count, "u")[0]
    assert entry.name == "caf\u00e9.txt".encode().decode("cp437")


@settings(max_examples=300)
@given(st.lists(NAMES | st.sampled_from([
    "tool-1.0.dist-info/entry_points.txt", "other-2.dist-info/entry_points.txt",
    "tool-1.0.data/scripts/tool", "tool-1.0.data/scripts/bad name",
    "a/b.dist-info/entry_points.txt",
]), max_size=8))  # fmt: skip
def test_locate_members_on_names_matches_entries(names: list[str]) -> None:
    entries = [pypi.ZipEntry(n, 8, 0, 0, 1, 1, i) for i, n in enumerate(names)]
    chosen, scripts, ignored = pypi.locate_members(entries, "tool")
    index, scripts2, ignored2 = pypi._locate(names, "tool")
    assert (scripts, ignored) == (scripts2, ignored2)
    assert chosen == (None if index is None else entries[index])
    # The reference: every member the original loop would have considered.
    expected_scripts = sorted(
        {
            n.split("/")[2]
            for n in names
            if reference_safe_member(n)
            and len(n.split("/")) == 3
            and n.split("/")[0].endswith(".data")
            and n.split("/")[1] == "scripts"
            and pypi.SCRIPT_NAME.fullmatch(n.split("/")[2])
        }
    )
    assert list(scripts) == expected_scripts


PYPI = FIXTURES / "pypi"
PY313 = PythonTarget("3.13", "3.13.5")
BASE_HTTPIE = "https://pypi.org/pypi/httpie/json"


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((PYPI / f"{name}.json").read_text())
    return result


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    endpoints = dict(public_endpoints())
    endpoints["pypi"] = upstream.base
    endpoints["pypifiles"] = upstream.base + "/files"
    config = Config(
        endpoints=MappingProxyType(endpoints), backoff_factor=0.01, retries=1, read_timeout=5
    )
    with HttpClient(config, env={}) as client:
        yield client


def serve_project(upstream: FakeUpstream, name: str, *, honour_range: bool = True) -> None:
    """The saved JSON document and its chosen wheel at the URL the document points to."""
    document = doc(name)
    upstream.json(f"/pypi/{name}/json", document)
    info = pypi.parse_project_json(document, base_url=f"{upstream.base}/pypi/{name}/json")
    assert info.wheel is not None
    path = info.wheel.url.replace("https://files.pythonhosted.org", "/files")
    path = path.replace(upstream.base, "")
    upstream.blob(path, sparse_wheel(info.wheel.filename), honour_range=honour_range)


def test_parse_httpie() -> None:
    info = pypi.parse_project_json(doc("httpie"), base_url="https://pypi.org/pypi/httpie/json")
    assert info.name == "httpie" and info.version == "3.2.4"
    assert info.summary.startswith("HTTPie: modern, user-friendly command-line HTTP client")
    assert info.homepage == "https://httpie.io/"
    assert info.wheel is not None and info.wheel.filename == "httpie-3.2.4-py3-none-any.whl"
    assert info.wheel.url.startswith("https://files.pythonhosted.org/packages/")
    assert info.upload_time == "2024-11-01T17:31:22.962271Z"


def test_homepage_falls_back_to_project_urls() -> None:
    black = pypi.parse_project_json(doc("black"), base_url="https://pypi.org/pypi/black/json")
    assert black.homepage == "https://github.com/psf/black"  # no home_page; Repository
    requests = pypi.parse_project_json(doc("requests"), base_url="https://pypi.org/x")
    assert requests.homepage == "https://github.com/psf/requests"  # Source
    info = {
        "home_page": "http://insecure.example",
        "project_urls": {"Home Page": "https://ok.example"},
    }
    assert pypi.select_homepage(info) == "https://ok.example"
    assert pypi.select_homepage({"home_page": "UNKNOWN", "project_urls": None}) is None


def test_wheel_choice_and_relative_urls() -> None:
    black = pypi.parse_project_json(doc("black"), base_url="http://mirror.local/pypi/black/json")
    # 27 wheels, one pure: that one. The mirror's URLs are relative to the document.
    assert black.wheel is not None and black.wheel.filename == "black-26.10.1-py3-none-any.whl"
    assert black.wheel.url.startswith("http://mirror.local/packages/packages/b1/28/")
    ruff = pypi.parse_project_json(doc("ruff"), base_url="https://pypi.org/pypi/ruff/json")
    # No pure wheel: the manylinux x86_64 one, deterministically.
    assert ruff.wheel is not None
    assert (
        ruff.wheel.filename == "ruff-0.17.6-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )


def test_sdist_only_latest_uses_newest_release_with_a_wheel() -> None:
    document = doc("httpie")
    document = copy.deepcopy(document)
    document["urls"] = [u for u in document["urls"] if u["packagetype"] == "sdist"]
    info = pypi.parse_project_json(document, base_url="https://pypi.org/pypi/httpie/json")
    assert info.wheel is not None and info.wheel.filename == "httpie-3.2.4-py3-none-any.whl"


def test_invalid_names_are_rejected() -> None:
    for bad in ("../evil", "a/b", "", "-x", "x y", "a\nb"):
        with pytest.raises(UnsafeNameError):
            pypi.project_path(bad)
    assert pypi.project_path("Foo.Bar_baz") == "/pypi/Foo.Bar_baz/json"
    document = doc("httpie")
    document = {**document, "info": {**document["info"], "name": "../evil"}}
    with pytest.raises(UnsafeNameError):
        pypi.parse_project_json(document, base_url="https://pypi.org/x")


def test_entry_points_parser() -> None:
    text = """
# comment
[console_scripts]
Tool-X = pkg.cli:main [extra]
tool = pkg.cli:main
; other comment
multi = pkg.a:
    b
../evil = pkg:main
bad name = pkg:main
=novalue

[gui_scripts]
gui = pkg.gui:main
"""
    groups = pypi.parse_entry_points(text)
    assert groups["console_scripts"]["Tool-X"] == "pkg.cli:main [extra]"
    assert groups["console_scripts"]["multi"] == "pkg.a: b"
    assert groups["gui_scripts"] == {"gui": "pkg.gui:main"}
    good, ignored = pypi.console_scripts_from(text)
    assert good == ("Tool-X", "multi", "tool")
    assert ignored == ("../evil", "bad name")


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_weird_zip_member_names_are_ignored() -> None:
    data = _zip(
        [
            ("../x.dist-info/entry_points.txt", b"[console_scripts]\nevil = a:b\n"),
            ("/abs.dist-info/entry_points.txt", b"[console_scripts]\nevil = a:b\n"),
            ("pkg-1.0.data/scripts/../../etc", b""),
            ("pkg-1.0.data/scripts/ok-script", b"#!/bin/sh\n"),
            ("pkg-1.0.dist-info/entry_points.txt", b"[console_scripts]\npkg = pkg:main\n"),
        ]
    )
    console, scripts, ignored = pypi.scripts_from_zip(
        lambda o, n: data[o : o + n], data, len(data), "pkg", "mem://"
    )
    assert console == ("pkg",) and scripts == ("ok-script",)
    assert len(ignored) == 3


def test_not_a_zip_is_bad_response() -> None:
    with pytest.raises(BadResponse):
        pypi.scripts_from_zip(lambda o, n: b"", b"x" * 100, 100, "p", "mem://")


@pytest.mark.parametrize(
    ("name", "console", "data_scripts"),
    [
        ("httpie", ("http", "httpie", "https"), ()),
        ("black", ("black", "blackd"), ()),
        ("ruff", (), ("ruff",)),  # maturin: the binary is in ruff-<v>.data/scripts/
        ("requests", (), ()),  # a library
    ],
)
def test_fetch_reads_scripts_with_ranges(
    upstream: FakeUpstream,
    http: HttpClient,
    name: str,
    console: tuple[str, ...],
    data_scripts: tuple[str, ...],
) -> None:
    serve_project(upstream, name)
    project = pypi.fetch_pypi_project(http, name)
    assert project.console_scripts == console
    assert project.data_scripts == data_scripts
    assert project.is_cli == bool(console or data_scripts)
    assert project.wheel_read == "range"
    wheel_requests = [e for e in upstream.log if e[1].endswith(".whl")]
    assert all(e[2] is not None for e in wheel_requests)  # only ranged reads
    assert len(wheel_requests) <= 3
    # A 10 MB ruff wheel is read with one 64 KiB request.
    if name == "ruff":
        assert wheel_requests == [("GET", wheel_requests[0][1], "bytes=-65536")]


def test_range_refused_falls_back_to_full_download(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    serve_project(upstream, "httpie", honour_range=False)
    project = pypi.fetch_pypi_project(http, "httpie")
    assert project.console_scripts == ("http", "httpie", "https")
    assert project.wheel_read == "full"


def test_full_download_checks_sha256(upstream: FakeUpstream, http: HttpClient) -> None:
    document = copy.deepcopy(doc("httpie"))
    for item in document["urls"]:
        item["digests"]["sha256"] = "0" * 64
    upstream.json("/pypi/httpie/json", document)
    filename = "httpie-3.2.4-py3-none-any.whl"
    url = next(u["url"] for u in document["urls"] if u["filename"] == filename)
    path = url.replace("https://files.pythonhosted.org", "/files")
    upstream.blob(path, sparse_wheel(filename), honour_range=False)
    with pytest.raises(BadResponse, match="sha256"):
        pypi.fetch_pypi_project(http, "httpie")


def test_full_download_is_capped(upstream: FakeUpstream) -> None:
    endpoints = dict(public_endpoints(), pypi=upstream.base, pypifiles=upstream.base + "/files")
    config = Config(endpoints=MappingProxyType(endpoints), retries=0).with_settings(
        "pypi", max_wheel_bytes=10_000
    )
    serve_project(upstream, "httpie", honour_range=False)
    with HttpClient(config, env={}) as client, pytest.raises(BadResponse, match="cap"):
        pypi.fetch_pypi_project(client, "httpie")


def test_entry_outside_the_tail_costs_one_more_range(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    noise = os.urandom(200_000)  # incompressible, pushes entry_points.txt out of the tail
    data = _zip(
        [
            ("tool-1.0.dist-info/entry_points.txt", b"[console_scripts]\ntool = tool:main\n"),
            ("tool/blob.bin", noise),
            ("tool-1.0.dist-info/METADATA", b"Name: tool\n"),
        ]
    )
    upstream.blob("/files/tool-1.0-py3-none-any.whl", data)
    wheel = pypi.WheelFile(
        "tool-1.0-py3-none-any.whl",
        "https://files.pythonhosted.org/tool-1.0-py3-none-any.whl",
        len(data),
        None,
        None,
    )
    scripts = pypi.read_wheel_scripts(http, wheel, "tool")
    assert scripts.console_scripts == ("tool",) and scripts.method == "range"
    ranges = [e[2] for e in upstream.log]
    assert ranges[0] == "bytes=-65536" and len(ranges) == 2 and ranges[1].startswith("bytes=0-")


def test_saved_wheels_match_their_manifest() -> None:
    import hashlib

    for filename, entry in wheel_manifest().items():
        data = sparse_wheel(filename)
        assert len(data) == entry["size"]
        if entry["segments"][0]["offset"] == 0:  # stored whole
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_missing_project_is_not_found(upstream: FakeUpstream, http: HttpClient) -> None:
    from automation.core.http import NotFound

    upstream.json("/pypi/nope/json", {"message": "Not Found"}, status=404)
    with pytest.raises(NotFound):
        pypi.fetch_pypi_project(http, "nope")


def test_project_path_quotes(tmp_path: Path) -> None:
    assert pypi.project_path("zope.interface") == "/pypi/zope.interface/json"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        # Seen in issue 14 and in the awscli audit.
        ("az.bat", "windows_only"),
        ("azps.ps1", "windows_only"),
        ("checkov.cmd", "windows_only"),
        ("aws.cmd", "windows_only"),
        ("RUFF.EXE", "windows_only"),
        ("az.completion.sh", "shell_completion"),
        ("aws_bash_completer", "shell_completion"),
        ("aws_zsh_completer.sh", "shell_completion"),
        ("tool.bash", "shell_completion"),
        ("tool.zsh", "shell_completion"),
        ("tool.fish", "shell_completion"),
        ("coverage-3.11", "interpreter_specific"),
        ("coverage3.11", "interpreter_specific"),
        ("tool-py3.11", "interpreter_specific"),
        ("pip2.7", "interpreter_specific"),
        # A release number in the name (swig's wheel ships swig and swig4.0): the next release
        # renames it, so a recipe listing it would break; the unversioned command stays.
        ("swig4.0", "version_suffixed"),
        ("tool-1.2", "version_suffixed"),
        # Commands users run: kept.
        ("coverage", None),
        ("coverage3", None),  # a major version alone is every Python 3's
        ("ipython3", None),
        ("pip3", None),
        ("b2", None),
        ("h2o", None),
        ("install.sh", None),
        ("jupyter-nbconvert", None),
        ("http", None),
    ],
)
def test_not_runnable_reason(script: str, reason: str | None) -> None:
    assert pypi.not_runnable_reason(script) == reason


def test_wheel_scripts_that_only_windows_shells_or_one_python_use_are_not_executables() -> None:
    entry_points = (
        b"[console_scripts]\ncoverage = c:main\ncoverage3 = c:main\ncoverage-3.11 = c:main\n"
    )
    data = _zip(
        [
            ("tool-1.0.dist-info/entry_points.txt", entry_points),
            ("tool-1.0.data/scripts/az", b"#!/bin/sh\n"),
            ("tool-1.0.data/scripts/az.bat", b"@echo off\n"),
            ("tool-1.0.data/scripts/azps.ps1", b""),
            ("tool-1.0.data/scripts/az.completion.sh", b""),
            ("tool-1.0.data/scripts/aws_bash_completer", b""),
            ("tool-1.0.data/scripts/aws_zsh_completer.sh", b""),
            ("tool-1.0.data/scripts/checkov.cmd", b""),
        ]
    )
    console, scripts, ignored = pypi.scripts_from_zip(
        lambda o, n: data[o : o + n], data, len(data), "tool", "mem://"
    )
    assert ignored == ()
    project = pypi.PypiProject(
        name="tool",
        version="1.0",
        summary="",
        homepage=None,
        console_scripts=console,
        data_scripts=scripts,
        upload_time=None,
        release_count=1,
        has_project_urls=False,
        wheel=None,
        wheel_read="full",
    )
    # The wheel's own lists stay as shipped; only the executables are filtered.
    assert "coverage-3.11" in project.console_scripts and "az.bat" in project.data_scripts
    assert project.executables == ("az", "coverage", "coverage3")
    assert project.is_cli
    assert project.not_runnable == (
        ("aws_bash_completer", "shell_completion"),
        ("aws_zsh_completer.sh", "shell_completion"),
        ("az.bat", "windows_only"),
        ("az.completion.sh", "shell_completion"),
        ("azps.ps1", "windows_only"),
        ("checkov.cmd", "windows_only"),
        ("coverage-3.11", "interpreter_specific"),
    )


# ---------------------------------------------------------------- the Python tsuku installs


def test_the_newest_release_admitting_the_python_is_read() -> None:
    """httpie 3.x requires 3.7; on 3.6 tsuku installs 2.6.0, whose wheel is the one read."""
    on_36 = PythonTarget("3.6", "3.6.15")
    info = pypi.parse_project_json(doc("httpie"), base_url=BASE_HTTPIE, python=on_36)
    assert (info.version, info.latest, info.requires_python) == ("2.6.0", "3.2.4", ">=3.6")
    assert info.wheel is not None and info.wheel.filename == "httpie-2.6.0-py3-none-any.whl"
    assert info.upload_time == info.wheel.upload_time and info.runtime_conflict == ""
    latest = pypi.parse_project_json(doc("httpie"), base_url=BASE_HTTPIE, python=PY313)
    assert (latest.version, latest.latest, latest.requires_python) == ("3.2.4", "3.2.4", ">=3.7")
    # The latest admits 3.13: reading with the target changes nothing.
    assert latest == pypi.parse_project_json(doc("httpie"), base_url=BASE_HTTPIE)


def test_no_release_admitting_the_python_keeps_the_latest_and_says_why() -> None:
    on_37 = PythonTarget("3.7", "3.7.17")
    info = pypi.parse_project_json(doc("requests"), base_url="https://pypi.org/x", python=on_37)
    assert info.version == info.latest == "2.34.2"
    assert info.wheel is not None and info.wheel.filename == "requests-2.34.2-py3-none-any.whl"
    assert info.runtime_conflict == (
        "no release admits Python 3.7.17: the latest, 2.34.2, requires Python >=3.10"
    )


def test_an_admitting_release_without_a_wheel_borrows_the_newest_admitting_wheel() -> None:
    document = copy.deepcopy(doc("requests"))
    document["releases"]["2.32.5"] = [
        f for f in document["releases"]["2.32.5"] if f["packagetype"] == "sdist"
    ]
    on_39 = PythonTarget("3.9", "3.9.18")
    info = pypi.parse_project_json(document, base_url="https://pypi.org/x", python=on_39)
    assert info.version == "2.32.5"
    # 2.32.4 (3.8+) admits 3.9; the 3.10-only releases, uploaded later, do not.
    assert info.wheel is not None and info.wheel.filename == "requests-2.32.4-py3-none-any.whl"


def test_the_fast_decoder_reads_releases_when_the_python_needs_them() -> None:
    body = (PYPI / "requests.json").read_bytes()
    on_39 = PythonTarget("3.9", "3.9.18")
    fast = pypi.decode_project_json(body, on_39)
    assert all(isinstance(v, list) for v in fast["releases"].values())
    # Not needed: of each release's files only the upload times are kept (the first release).
    lean = pypi.decode_project_json(body, PY313)["releases"]
    assert all(all(set(f) == {"upload_time_iso_8601"} for f in files) for files in lean.values())
    full = json.loads(body)
    assert pypi.parse_project_json(fast, base_url="u", python=on_39) == pypi.parse_project_json(
        full, base_url="u", python=on_39
    )
    lean_info = pypi.parse_project_json({**full, "releases": lean}, base_url="u", python=PY313)
    assert lean_info == pypi.parse_project_json(full, base_url="u", python=PY313)
    assert lean_info.first_release == "2024-05-21T18:51:29.562156Z"  # the oldest release kept


# ---------------------------------------------------------------- optional extras


def test_fetch_finds_the_extras_a_script_needs(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_project(upstream, "httpx")
    project = pypi.fetch_pypi_project(http, "httpx", python=PY313, extras=True)
    assert {s: n.extras for s, n in project.script_extras.items()} == {"httpx": ("cli",)}
    # A 73 KB wheel: the tail read holds all of it but 9 KB, fetched once for the sources.
    assert len([e for e in upstream.log if e[1].endswith(".whl")]) == 2
    assert pypi.fetch_pypi_project(http, "httpx").script_extras == {}  # not asked


def test_a_wheel_served_whole_is_analysed_from_memory(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    serve_project(upstream, "python-dotenv", honour_range=False)
    project = pypi.fetch_pypi_project(http, "python-dotenv", python=PY313, extras=True)
    assert {s: n.extras for s, n in project.script_extras.items()} == {"dotenv": ("cli",)}
    assert len([e for e in upstream.log if "python_dotenv" in e[1]]) == 1


@pytest.mark.parametrize(("budget", "found"), [(32, {"httpx": ("cli",)}), (1, {})])
def test_sources_too_spread_are_read_one_by_one_within_a_budget(
    upstream: FakeUpstream,
    http: HttpClient,
    monkeypatch: pytest.MonkeyPatch,
    budget: int,
    found: dict[str, tuple[str, ...]],
) -> None:
    """With no span small enough, each module is one read; past the budget a module is
    unread, so the need through httpx/_main.py is not seen (no evidence is invented)."""
    monkeypatch.setattr(pypi, "MAX_SOURCE_SPAN", 0)
    monkeypatch.setattr(pypi, "MAX_SOURCE_READS", budget)
    serve_project(upstream, "httpx")
    project = pypi.fetch_pypi_project(http, "httpx", python=PY313, extras=True)
    assert {s: n.extras for s, n in project.script_extras.items()} == found
    reads = [e for e in upstream.log if e[1].endswith(".whl")]
    assert 1 < len(reads) <= 1 + budget


def test_the_prefetched_range_serves_member_reads() -> None:
    data = (PYPI / "wheels" / "httpx-0.29.0-py3-none-any.whl").read_bytes()
    calls: list[tuple[int, int]] = []

    def read(offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return data[offset : offset + length]

    archive = pypi.WheelArchive(read, data[-1000:], len(data), "mem://")
    calls.clear()
    names = [n for n in archive.names if n.endswith(".py")]
    assert archive.prefetch(names, 1 << 20) and len(calls) == 1
    entry = archive.entry("httpx/_main.py")
    assert entry is not None
    assert b"import click" in archive.read_member(entry, 1 << 20)
    assert len(calls) == 1
    assert not archive.prefetch(names, 100)  # over the cap: nothing fetched
    assert archive.entry("no/such.py") is None


def test_first_release_is_the_earliest_upload_of_any_release() -> None:
    gates = PYPI.parent / "gates"
    body = (gates / "pypi-gunicorn.json").read_bytes()
    full = json.loads(body)
    info = pypi.parse_project_json(full, base_url="https://pypi.org/x", python=PY313)
    assert info.first_release == "2010-01-03T21:50:51.389527Z"  # gunicorn 0.1
    # The fast decoder keeps exactly what that needs.
    fast = pypi.decode_project_json(body, PY313)
    assert pypi.parse_project_json(fast, base_url="https://pypi.org/x", python=PY313) == info
    assert pypi.first_upload({}) is None
    # Instants, not text: a mirror's stamp without microseconds compares right.
    releases = {
        "1": [{"upload_time_iso_8601": "2020-01-01T00:00:00Z"}],
        "0": [{"upload_time_iso_8601": "2020-01-01T00:00:00.5Z"}, {"x": 1}],
    }
    assert pypi.first_upload(releases) == "2020-01-01T00:00:00Z"


def test_the_upload_scan_falls_back_to_json_for_what_it_cannot_vouch_for() -> None:
    escaped = b'[{"upload_time_iso_8601": "2020-01-01T00:00:00\\u005a"}]'
    assert pypi._upload_stamps(escaped) == [{"upload_time_iso_8601": "2020-01-01T00:00:00Z"}]
    plain = b'[{"a": 1, "upload_time_iso_8601" : "2020-01-01T00:00:00Z"}, {}]'
    assert pypi._upload_stamps(plain) == [{"upload_time_iso_8601": "2020-01-01T00:00:00Z"}]
