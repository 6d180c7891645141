"""Partial decoding of big registry documents gives what ``json.loads`` gives, or falls back to it.

``decode_packument`` / ``decode_project_json`` skip most of a document; whatever the body, the
parsed package (or the error) must be the one the full ``json.loads`` path produces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.core import jsonsplit
from automation.ecosystems.npm import client as npm
from automation.ecosystems.pypi import client as pypi
from automation.ecosystems.pypi.requires import PythonTarget
from tests.support.fake_upstream import FIXTURES

# Packuments only (the other npm fixtures are download-count files).
NPM_DOCS = sorted(p for p in (FIXTURES / "npm").glob("*.json") if "counts" not in p.name)
PYPI_DOCS = sorted((FIXTURES / "pypi").glob("*.json"))
BASE = "https://pypi.org/pypi/x/json"


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """The result, or the exception's type and message: what a caller of the parser sees."""
    try:
        return ("ok", call())
    except Exception as exc:  # BadResponse, UnsafeNameError, JSONDecodeError, RecursionError...
        return (type(exc).__name__, str(exc))


def npm_via(decode: Callable[[bytes], Any], body: bytes) -> tuple[str, Any]:
    return outcome(lambda: npm.parse_packument(decode(body), url="u"))


def pypi_via(
    decode: Callable[[bytes], Any], body: bytes, python: PythonTarget | None = None
) -> tuple[str, Any]:
    return outcome(lambda: pypi.parse_project_json(decode(body), base_url=BASE, python=python))


def same_npm(body: bytes) -> None:
    assert npm_via(npm.decode_packument, body) == npm_via(json.loads, body)


def same_pypi(body: bytes, python: PythonTarget | None = None) -> None:
    fast = pypi_via(lambda b: pypi.decode_project_json(b, python), body, python)
    assert fast == pypi_via(json.loads, body, python)


def test_fixtures_are_there() -> None:
    assert len(NPM_DOCS) >= 4 and len(PYPI_DOCS) >= 4


@pytest.mark.parametrize("path", NPM_DOCS, ids=lambda p: p.name)
def test_real_packuments_parse_the_same(path: Path) -> None:
    body = path.read_bytes()
    assert jsonsplit.split_object(body, ("name",), nested="versions") is not None  # fast path
    same_npm(body)
    assert npm_via(npm.decode_packument, body)[0] == "ok"


# Interpreters some saved releases exclude (requests 2.33 needs 3.10, httpie 3.x needs 3.7).
TARGETS = [None, PythonTarget("3.13", "3.13.5"), PythonTarget("3.9", "3.9.18")]
TARGETS += [PythonTarget("3.6", "3.6.15"), PythonTarget("2.6", "2.6.9")]


@pytest.mark.parametrize("path", PYPI_DOCS, ids=lambda p: p.name)
@pytest.mark.parametrize("python", TARGETS, ids=lambda t: t.version if t else "any")
def test_real_project_documents_parse_the_same(path: Path, python: PythonTarget | None) -> None:
    body = path.read_bytes()
    assert jsonsplit.split_object(body, ("info",), nested="releases") is not None
    same_pypi(body, python)
    assert pypi_via(pypi.decode_project_json, body)[0] == "ok"


def test_pypi_latest_without_wheel_reads_older_releases() -> None:
    document = json.loads((FIXTURES / "pypi" / "httpie.json").read_bytes())
    document["urls"] = [f for f in document["urls"] if f["packagetype"] != "bdist_wheel"]
    body = json.dumps(document).encode()
    same_pypi(body)
    info = pypi.parse_project_json(pypi.decode_project_json(body), base_url=BASE)
    assert info.wheel is not None  # found among the older releases' files


def test_only_the_latest_version_is_decoded() -> None:
    body = (FIXTURES / "npm" / "typescript.json").read_bytes()
    document = npm.decode_packument(body)
    latest = document["dist-tags"]["latest"]
    assert isinstance(document["versions"][latest], dict)
    others = [v for k, v in document["versions"].items() if k != latest]
    assert others and all(v is None for v in others)
    assert len(document["versions"]) == len(json.loads(body)["versions"])


PACKUMENT = b'{"name": "x", "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": {"bin": "x"}}'
ODD_BODIES = {
    "bom": b"\xef\xbb\xbf" + PACKUMENT + b"}",
    "utf16": (PACKUMENT + b"}").decode().encode("utf-16"),
    "bad utf8 in a skipped member": PACKUMENT + b', "readme": "\xff"}',
    "surrogate bytes in a skipped member": PACKUMENT + b', "readme": "\xed\xa0\x80"}',
    "lone surrogate escape": PACKUMENT + b', "readme": "\\ud800"}',
    "NaN in a skipped member": PACKUMENT + b', "users": NaN}',
    "malformed skipped member": PACKUMENT + b', "users": {"a": [1, 2,]}}',
    "trailing garbage": PACKUMENT + b"} x",
    "truncated": PACKUMENT,
    "top level array": b"[" + PACKUMENT + b"}]",
    "versions null": b'{"name": "x", "dist-tags": {"latest": "1"}, "versions": null}',
    "duplicate versions": PACKUMENT + b', "versions": {"2.0.0": {"bin": {"y": "y"}}}}',
    "duplicate dist-tags": PACKUMENT + b', "dist-tags": {"latest": "2"}}',
    "escaped key": b'{"n\\u0061me": "x", "name": "y", "dist-tags": {"latest": "1"}, '
    b'"versions": {"1": {}}}',
    "deep": b'{"name": "x", "users": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "empty": b"",
    "whitespace": b" \n\t",
}


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_odd_bodies_behave_as_with_json_loads(body: bytes) -> None:
    same_npm(body)
    same_pypi(body)


def test_without_msgspec_everything_goes_through_json_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonsplit, "msgspec", None)
    body = (FIXTURES / "npm" / "prettier.json").read_bytes()
    assert jsonsplit.split_object(body, ("name",), nested="versions") is None
    assert npm.decode_packument(body) == json.loads(body)
    same_npm(body)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
VERSION = st.sampled_from(["1.0.0", "2.0.0", "x"])
MANIFEST = st.fixed_dictionaries(
    {},
    optional={
        "bin": st.one_of(st.text(max_size=6), st.dictionaries(st.text(max_size=6), JSON_VALUES)),
        "description": JSON_VALUES,
        "homepage": st.sampled_from(["https://a.example", "http://b.example", "x", 3]),
        "repository": st.one_of(JSON_VALUES, st.just("github:o/r")),
    },
)
PACKUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["x", "@s/y", "Bad Name", 7]),
        "dist-tags": st.one_of(st.fixed_dictionaries({"latest": VERSION}), JSON_VALUES),
        "versions": st.one_of(
            st.dictionaries(VERSION, st.one_of(MANIFEST, JSON_VALUES)), JSON_VALUES
        ),
        "time": st.one_of(st.dictionaries(st.sampled_from(["created", "1.0.0"]), JSON_VALUES)),
        "readme": JSON_VALUES,
        "description": JSON_VALUES,
    },
)
REQUIRES_PYTHON = st.sampled_from([None, "", ">=3.8", ">=3.14", "<3", ">=3.6.*", 3])
FILES = st.lists(
    st.fixed_dictionaries(
        {
            "packagetype": st.sampled_from(["bdist_wheel", "sdist"]),
            "filename": st.sampled_from(["x-1.0-py3-none-any.whl", "x-1.0.tar.gz", "y.whl"]),
            "url": st.sampled_from(["https://files.example/x.whl", "/rel/x.whl"]),
        },
        optional={
            "yanked": st.booleans(),
            "upload_time_iso_8601": st.text(max_size=4),
            "requires_python": REQUIRES_PYTHON,
        },
    ),
    max_size=3,
)
PROJECTS = st.fixed_dictionaries(
    {},
    optional={
        "info": st.one_of(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["x", "bad name"]), "version": VERSION},
                optional={
                    "summary": JSON_VALUES,
                    "home_page": JSON_VALUES,
                    "requires_python": REQUIRES_PYTHON,
                },
            ),
            JSON_VALUES,
        ),
        "urls": st.one_of(FILES, JSON_VALUES),
        "releases": st.one_of(st.dictionaries(VERSION, st.one_of(FILES, JSON_VALUES)), JSON_VALUES),
        "vulnerabilities": JSON_VALUES,
    },
)


@settings(
    max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(PACKUMENTS, st.booleans())
def test_any_packument_parses_the_same(document: dict[str, Any], ascii_only: bool) -> None:
    same_npm(json.dumps(document, ensure_ascii=ascii_only).encode())


@settings(
    max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(PROJECTS, st.booleans(), st.sampled_from(TARGETS))
def test_any_project_document_parses_the_same(
    document: dict[str, Any], ascii_only: bool, python: PythonTarget | None
) -> None:
    same_pypi(json.dumps(document, ensure_ascii=ascii_only).encode(), python)


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_any_bytes_behave_as_with_json_loads(body: bytes) -> None:
    same_npm(body)
    same_pypi(body)
