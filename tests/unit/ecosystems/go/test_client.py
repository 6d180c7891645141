"""Go proxy client: path escaping, saved info files, executables and package clauses."""

from __future__ import annotations

import json

import pytest

from automation.core.http import BadResponse, HttpClient
from automation.ecosystems.go import client as goproxy
from tests.support.fake_upstream import FakeUpstream
from tests.support.go_fakes import (
    ADAPTER,
    IGNORED_MAIN,
    MAIN,
    SAVED,
    TASK,
    TOOLS,
    latest,
    serve_module,
)


def test_escape_and_saved_info_files() -> None:
    assert goproxy.escape("github.com/PuerkitoBio/goquery") == "github.com/!puerkito!bio/goquery"
    versions = []
    for info in sorted(SAVED.rglob("*.info")):
        module = str(info.parent.parent.relative_to(SAVED))
        document = json.loads(info.read_text())
        versions.append(goproxy.parse_latest(document, module, url=str(info)).version)
    assert versions == [
        "v1.8.0",
        "v1.8.0",
        "v3.3.10+incompatible",
        "v0.0.0-20210921155107-089bfa567519",
        "v0.3.7",
    ]


@pytest.mark.parametrize(
    ("path", "exe"),
    [
        (TASK, "task"),
        (f"{TASK}/cmd/task", "task"),
        ("mvdan.cc/gofumpt", "gofumpt"),
        ("golang.org/x/tools/gopls", "gopls"),
        ("gopkg.in/yaml/v3", "yaml"),
    ],
)
def test_executable_for(path: str, exe: str) -> None:
    assert goproxy.executable_for(path) == exe


def test_package_clause() -> None:
    assert goproxy.package_clause(MAIN.decode()) == ("main", False)
    assert goproxy.package_clause(IGNORED_MAIN.decode()) == ("main", True)
    assert goproxy.package_clause("// +build ignore\n\npackage main\n") == ("main", True)
    assert goproxy.package_clause("/* unterminated") == (None, False)
    assert goproxy.package_clause("\ufeffpackage foo_bar\n") == ("foo_bar", False)


def test_not_a_zip_and_bad_versions(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_module(
        upstream, TOOLS, latest("minimal-shape-latest-golang.org-x-tools"), b"not a zip" * 10
    )
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, TOOLS)
    upstream.json(goproxy.latest_path(TOOLS), {"Version": "../../etc", "Time": "x"})
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, TOOLS)
