"""PyPI adapter: a served wheel becomes the executables a recipe lists (or a clean failure)."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import tomllib
import zipfile
from collections.abc import Iterator
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.http import HttpClient
from automation.ecosystems.pypi.adapter import ADAPTER
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from tests.support.fake_upstream import FIXTURES, FakeUpstream


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
