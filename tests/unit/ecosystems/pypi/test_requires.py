"""Requires-Python and Requires-Dist read for the CPython tsuku installs, on saved real metadata."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import pytest

from automation.ecosystems.pypi import FACTS
from automation.ecosystems.pypi.requires import (
    PythonTarget,
    admits,
    newest_admitting,
    parse_metadata_requirements,
    parse_requirements,
    release_requires_python,
)
from tests.support.fake_upstream import FIXTURES

PY313 = PythonTarget("3.13", "3.13.5")


def releases(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((FIXTURES / "pypi" / f"{name}.json").read_text())
    return result["releases"]


def test_the_target_is_the_pinned_runtime() -> None:
    assert FACTS.runtime is not None
    assert PythonTarget.from_pin(FACTS.runtime) == PY313


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, True),
        ("", True),
        ("  ", True),
        (">=3.8", True),
        (">=3.10,<4", True),
        (">=2.7, !=3.0.*, !=3.1.*", True),
        (">=3.14", False),
        ("<3.13", False),
        ("~=3.12.0", False),
        ("==3.13.*", True),
        # tsuku's resolver checks the series (3.13, read as 3.13.0), pip the real 3.13.5:
        # a release must admit both to be installed and run.
        (">=3.13.1", False),
        ("<3.13.4", False),
        ("!=3.13.5", False),
        # Not a PEP 440 specifier set: tsuku's resolver skips such a release.
        (">=3.6.*", False),
        ("python>=3.8", False),
    ],
)
def test_admits(spec: str | None, expected: bool) -> None:
    assert admits(spec, PY313) is expected


def test_the_first_non_empty_requires_python_of_a_release_is_its_own() -> None:
    files = [{"requires_python": None}, {"requires_python": ""}, {"requires_python": ">=3.9"}]
    assert release_requires_python(files) == ">=3.9"
    assert release_requires_python([]) is None


def test_newest_admitting_follows_pep_440_order_and_skips_pre_releases() -> None:
    """requests' saved releases: 2.33.0 onwards need 3.10, 2.32.5 needs 3.9, 2.34.0.dev1 is a
    pre-release (never chosen)."""
    history = releases("requests")
    assert newest_admitting(history, PY313) is not None
    assert newest_admitting(history, PY313).version == "2.34.2"  # type: ignore[union-attr]
    on_39 = newest_admitting(history, PythonTarget("3.9", "3.9.18"))
    assert on_39 is not None and (on_39.version, on_39.requires_python) == ("2.32.5", ">=3.9")
    on_38 = newest_admitting(history, PythonTarget("3.8", "3.8.20"))
    assert on_38 is not None and on_38.version == "2.32.4"
    assert newest_admitting(history, PythonTarget("3.7", "3.7.17")) is None


def test_newest_admitting_skips_yanked_and_empty_releases() -> None:
    """httpie's saved history: 2.0.0 is yanked, 0.9.5 has no file, 3.x needs 3.7, 2.x 3.6;
    releases before 2.1.0 declare nothing (admit anything)."""
    history = releases("httpie")
    on_36 = newest_admitting(history, PythonTarget("3.6", "3.6.15"))
    assert on_36 is not None and on_36.version == "2.6.0"
    on_27 = newest_admitting(history, PythonTarget("2.7", "2.7.18"))
    assert on_27 is not None and (on_27.version, on_27.requires_python) == ("1.0.3", None)
    assert newest_admitting({"0.9.5": [], "9.0": [{"yanked": True}]}, PY313) is None


def test_versions_pep_440_cannot_parse_are_not_candidates() -> None:
    files = [{"requires_python": None, "yanked": False}]
    assert newest_admitting({"banana": files, "1.0": files}, PY313).version == "1.0"  # type: ignore[union-attr]


def test_requirements_of_httpx_for_linux_cpython_3_13() -> None:
    document = json.loads((FIXTURES / "pypi" / "httpx.json").read_text())["info"]
    requirements = parse_requirements(document["requires_dist"], document["provides_extra"], PY313)
    assert requirements.base == {"anyio", "certifi", "httpcore", "idna"}
    assert requirements.extras["cli"] == {"click", "pygments", "rich"}
    # brotli on CPython, brotlicffi elsewhere: the marker is read for CPython.
    assert requirements.extras["brotli"] == {"brotli"}
    assert requirements.extras_providing("rich") == ("cli",)
    assert requirements.extras_providing("idna") == ()  # the base installs it
    assert requirements.has_extra_only


def test_markers_are_read_for_this_interpreter_not_the_host() -> None:
    lines = [
        'tomli>=1; python_version < "3.11"',
        'winloop; sys_platform == "win32" and extra == "uvloop"',
        'uvloop; sys_platform != "win32" and extra == "uvloop"',
        'colorama; extra == "colorama"',
        "not a requirement ;;",
    ]
    requirements = parse_requirements(lines, ["uvloop", "colorama", "empty"], PY313)
    assert requirements.base == frozenset()
    assert dict(requirements.extras) == {"uvloop": {"uvloop"}, "colorama": {"colorama"}}
    old = parse_requirements(lines, ["uvloop"], PythonTarget("3.10", "3.10.14"))
    assert old.base == {"tomli"}
    assert requirements.declared == {"uvloop", "colorama", "empty"}


def test_extra_names_are_normalised_as_pep_685_says() -> None:
    lines = ['fastapi-cli[standard]>=0.0.32; extra == "Standard_No.Cloud"']
    requirements = parse_requirements(lines, ["Standard_No.Cloud"], PY313)
    assert requirements.extras_providing("fastapi-cli") == ("standard-no-cloud",)


def test_metadata_of_a_real_wheel() -> None:
    wheel = FIXTURES / "pypi" / "wheels" / "python_dotenv-1.2.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read("python_dotenv-1.2.4.dist-info/METADATA").decode()
    requirements = parse_metadata_requirements(text, PY313)
    assert requirements.base == frozenset()
    assert dict(requirements.extras) == {"cli": {"click"}}


def test_metadata_headers_end_at_the_body() -> None:
    text = (
        "Metadata-Version: 2.4\nName: x\nRequires-Dist: a\nProvides-Extra: cli\n"
        'Requires-Dist: b; extra == "cli"\n\nRequires-Dist: c\n'
    )
    requirements = parse_metadata_requirements(text, PY313)
    assert requirements.base == {"a"} and dict(requirements.extras) == {"cli": {"b"}}
