"""PyPI adapter: a served wheel becomes the executables a recipe lists (or a clean failure):
commands needing an optional extra, releases excluding Python 3.13."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import tomllib
import zipfile
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.http import HttpClient
from automation.ecosystems.pypi.adapter import ADAPTER
from automation.ecosystems.pypi.client import parse_project_json
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from tests.support.fake_upstream import FIXTURES, FakeUpstream, sparse_wheel


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


def serve_wheel(upstream: FakeUpstream, project: str, members: dict[str, bytes]) -> None:
    """httpie's saved document renamed to ``project``, whose only file is a wheel of ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    wheel = buffer.getvalue()
    filename = f"{project}-1.0-py3-none-any.whl"
    document = copy.deepcopy(json.loads((FIXTURES / "pypi" / "httpie.json").read_text()))
    document["info"].update(name=project, version="1.0")
    wheel_entry = {
        **next(u for u in document["urls"] if u["packagetype"] == "bdist_wheel"),
        "filename": filename,
        "url": f"{upstream.base}/files/{filename}",
        "size": len(wheel),
        "digests": {"sha256": hashlib.sha256(wheel).hexdigest()},
    }
    document["urls"] = [wheel_entry]
    upstream.json(f"/pypi/{project}/json", document)
    upstream.blob(f"/files/{filename}", wheel)


def test_executables_leave_out_windows_completion_and_one_python_scripts(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    serve_wheel(
        upstream,
        "awsish",
        {
            "awsish-1.0.dist-info/entry_points.txt": (
                b"[console_scripts]\nawsish = a:main\nawsish-3.11 = a:main\n"
            ),
            "awsish-1.0.data/scripts/aws": b"#!/bin/sh\n",
            "awsish-1.0.data/scripts/aws.cmd": b"@echo off\n",
            "awsish-1.0.data/scripts/aws_bash_completer": b"",
            "awsish-1.0.data/scripts/aws_zsh_completer.sh": b"",
        },
    )
    package = ADAPTER.fetch(http, "awsish")
    assert package.executables == ("aws", "awsish")
    built = ADAPTER.build("awsish", package)
    assert isinstance(built, BuiltRecipe)
    step = tomllib.loads(built.text)["steps"][0]
    assert step["executables"] == ["aws", "awsish"]
    assert ADAPTER.lookup is not None
    assert ADAPTER.lookup(http, "awsish").executables == ("aws", "awsish")


def test_a_wheel_of_only_non_runnable_scripts_fails_with_no_executables(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    serve_wheel(
        upstream,
        "wintool",
        {
            "wintool-1.0.dist-info/entry_points.txt": b"[console_scripts]\nwintool-3.11 = w:main\n",
            "wintool-1.0.data/scripts/wintool.bat": b"@echo off\n",
            "wintool-1.0.data/scripts/wintool.ps1": b"",
            "wintool-1.0.data/scripts/wintool.completion.sh": b"",
        },
    )
    package = ADAPTER.fetch(http, "wintool")
    assert package.executables == ()
    failure = ADAPTER.build("wintool", package)
    assert isinstance(failure, BuildFailure)
    assert (failure.category, failure.subcategory) == ("generation_failed", "no_executables")
    assert "pypi:wintool 1.0" in failure.message


# ---------------------------------------------------------------- saved real projects


def serve_saved(upstream: FakeUpstream, name: str, document: dict[str, Any] | None = None) -> str:
    """The saved document of ``name`` (or ``document``) and its wheel; returns the wheel path."""
    document = document if document is not None else doc(name)
    upstream.json(f"/pypi/{name}/json", document)
    wheel = parse_project_json(document, base_url=f"{upstream.base}/pypi/{name}/json").wheel
    assert wheel is not None
    path = wheel.url.replace("https://files.pythonhosted.org", "/files").replace(upstream.base, "")
    upstream.blob(path, sparse_wheel(wheel.filename))
    return path


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((FIXTURES / "pypi" / f"{name}.json").read_text())
    return result


@pytest.mark.parametrize(
    ("project", "command", "extra"),
    [
        ("httpx", "httpx", "cli"),
        ("python-dotenv", "dotenv", "cli"),
        ("fastapi", "fastapi", "standard"),
    ],
)
def test_a_command_that_needs_an_extra_fails_with_missing_extra(
    upstream: FakeUpstream, http: HttpClient, project: str, command: str, extra: str
) -> None:
    serve_saved(upstream, project)
    package = ADAPTER.fetch(http, project)
    assert package.executables == (command,)
    failure = ADAPTER.build(project, package)
    assert isinstance(failure, BuildFailure)
    assert (failure.category, failure.subcategory) == ("generation_failed", "missing_extra")
    assert f"its command {command!r} needs the optional extra {extra} " in failure.message
    assert f"(pip install '{project}[{extra}]')" in failure.message
    assert failure.version == doc(project)["info"]["version"]


def test_black_is_built_without_blackd(upstream: FakeUpstream, http: HttpClient) -> None:
    path = serve_saved(upstream, "black")
    built = ADAPTER.build("black", ADAPTER.fetch(http, "black"))
    assert isinstance(built, BuiltRecipe)
    step = tomllib.loads(built.text)["steps"][0]
    assert step == {"action": "pipx_install", "package": "black", "executables": ["black"]}
    # The tail (central directory, entry_points.txt, METADATA) and one range for the sources.
    assert len(upstream.requests_to(re.escape(path))) == 2
    # Seeding's lookup reads the scripts only: blackd is a script of the wheel.
    assert ADAPTER.lookup is not None
    assert ADAPTER.lookup(http, "black").executables == ("black", "blackd")
    assert len(upstream.requests_to(re.escape(path))) == 3


def test_a_project_whose_extras_no_script_needs(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_saved(upstream, "httpie")
    built = ADAPTER.build("httpie", ADAPTER.fetch(http, "httpie"))
    assert isinstance(built, BuiltRecipe) and built.executables == ("http", "httpie", "https")


def test_no_release_admitting_python_3_13_is_runtime_unsatisfiable(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    """requests' saved document with every release requiring Python 3.14."""
    document = copy.deepcopy(doc("httpx"))
    document["info"]["requires_python"] = ">=3.14"
    for files in (document["urls"], *document["releases"].values()):
        for item in files:
            item["requires_python"] = ">=3.14"
    path = serve_saved(upstream, "httpx", document)
    package = ADAPTER.fetch(http, "httpx")
    failure = ADAPTER.build("httpx", package)
    assert isinstance(failure, BuildFailure)
    assert (failure.category, failure.subcategory) == ("generation_failed", "runtime_unsatisfiable")
    assert failure.message.startswith(
        "pypi:httpx: no release admits Python 3.13.5: the latest, 0.29.0, requires Python >=3.14"
    )
    assert "recipes/p/python.toml" in failure.message
    assert failure.version == "0.29.0"
    # The latest wheel is read for its scripts, not for the extras they need.
    assert len(upstream.requests_to(re.escape(path))) == 1


def test_an_older_release_admitting_python_3_13_is_the_one_built(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    """httpx's saved document with 0.29.0 requiring 3.14: tsuku installs 0.28.1, the newest
    release admitting 3.13 (the 1.0.dev pre-releases are never chosen)."""
    document = copy.deepcopy(doc("httpx"))
    document["info"]["requires_python"] = ">=3.14"
    for item in document["urls"]:
        item["requires_python"] = ">=3.14"
    for item in document["releases"]["0.29.0"]:
        item["requires_python"] = ">=3.14"
    upstream.json("/pypi/httpx/json", document)
    older = next(u for u in document["releases"]["0.28.1"] if u["packagetype"] == "bdist_wheel")
    members = {
        "httpx-0.28.1.dist-info/entry_points.txt": b"[console_scripts]\nhttpx = httpx:main\n",
        "httpx-0.28.1.dist-info/METADATA": b"Metadata-Version: 2.3\nName: httpx\n\n",
        "httpx/__init__.py": b"",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    older["size"] = len(buffer.getvalue())
    older["digests"] = {"sha256": hashlib.sha256(buffer.getvalue()).hexdigest()}
    url = urljoin(f"{upstream.base}/pypi/httpx/json", older["url"])
    upstream.blob(url.replace(upstream.base, ""), buffer.getvalue())
    upstream.json("/pypi/httpx/json", document)
    package = ADAPTER.fetch(http, "httpx")
    assert package.version == "0.28.1"
    built = ADAPTER.build("httpx", package)
    assert isinstance(built, BuiltRecipe) and built.version == "0.28.1"
