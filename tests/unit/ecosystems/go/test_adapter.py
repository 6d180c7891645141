"""Go adapter: @latest answers (the real .info shape) and module zips built here, served by the
fake proxy."""

from __future__ import annotations

import io
import json
import os
import random
import tomllib
import zipfile
from pathlib import Path

import pytest

from automation.core import schemas
from automation.core.errors import UnsafeNameError
from automation.core.http import HttpClient, NotFound
from automation.core.layout import RegistryLayout
from automation.ecosystems import fetcher_for
from automation.ecosystems.go import client as goproxy
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.queue import QueueEntry
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
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

LIB = b"// Package x does things.\npackage x\n"


def module_zip(
    module: str, version: str, files: dict[str, bytes], *, order: list[str] | None = None
) -> bytes:
    """A module zip as the proxy serves it: every entry under ``<module>@<version>/``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in order or list(files):
            name = rel if rel.startswith(("/", "..")) else f"{module}@{version}/{rel}"
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[rel])
    return buffer.getvalue()


TASK_FILES = {
    "go.mod": b"module github.com/go-task/task/v3\n",
    "task.go": LIB.replace(b"package x", b"package task"),
    "cmd/task/task.go": MAIN,
    "cmd/task/task_test.go": b"package main_test\n",
    "internal/x/x.go": LIB,
}


def not_a_module(upstream: FakeUpstream, *paths: str) -> None:
    for i, path in enumerate(paths):  # the proxy answers 404 or 410 for a non-module path
        upstream.json(goproxy.latest_path(path), {}, status=410 if i % 2 else 404)


def build(http: HttpClient, name: str, identifier: str) -> BuiltRecipe | BuildFailure:
    return ADAPTER.build(name, ADAPTER.fetch(http, identifier))


@pytest.mark.parametrize(
    "bad", ["../evil", "github.com", "GitHub.com/x/y", "a.com//b", "a.com/../b", "a.com/x y", ""]
)
def test_invalid_paths(http: HttpClient, bad: str) -> None:
    with pytest.raises(UnsafeNameError):
        ADAPTER.fetch(http, bad)


def test_module_root_with_cmd(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_module(
        upstream,
        TASK,
        latest("minimal-shape-latest-go-task-task-v3"),
        module_zip(TASK, "v3.38.0", TASK_FILES),
    )
    result = build(http, "task", TASK)
    assert isinstance(result, BuiltRecipe), result
    recipe = tomllib.loads(result.text)
    assert recipe["metadata"]["dependencies"] == ["go"]
    assert recipe["metadata"]["homepage"] == f"https://pkg.go.dev/{TASK}"
    assert recipe["steps"] == [
        {"action": "go_install", "module": f"{TASK}/cmd/task", "executables": ["task"]}
    ]
    assert recipe["verify"]["command"] == "task --version"
    assert result.version == "v3.38.0" and result.source == f"go:{TASK}"
    assert schemas.check(recipe, "recipe", path="mem") == []


def test_package_path_resolves_the_module(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_module(
        upstream,
        TASK,
        latest("minimal-shape-latest-go-task-task-v3"),
        module_zip(TASK, "v3.38.0", TASK_FILES),
    )
    not_a_module(upstream, f"{TASK}/cmd/task", f"{TASK}/cmd")
    result = build(http, "task", f"{TASK}/cmd/task")
    assert isinstance(result, BuiltRecipe)
    step = tomllib.loads(result.text)["steps"][0]
    assert step == {"action": "go_install", "module": f"{TASK}/cmd/task", "executables": ["task"]}
    assert [e[1].rsplit("/", 1)[-1] for e in upstream.log][:3] == ["@latest"] * 3


def test_module_root_main_and_major_suffix(upstream: FakeUpstream, http: HttpClient) -> None:
    module = "github.com/example/tool/v2"
    files = {"go.mod": b"module x\n", "main.go": MAIN, "cmd/other/main.go": MAIN}
    serve_module(
        upstream,
        module,
        {"Version": "v2.1.0", "Time": "2024-01-01T00:00:00Z"},
        module_zip(module, "v2.1.0", files),
    )
    result = build(http, "tool", module)
    assert isinstance(result, BuiltRecipe)
    step = tomllib.loads(result.text)["steps"][0]
    assert step == {"action": "go_install", "module": module, "executables": ["tool"]}


def test_several_commands_install_the_cmd_pattern(upstream: FakeUpstream, http: HttpClient) -> None:
    files = {
        "go.mod": b"module golang.org/x/tools\n",
        "cmd/stringer/stringer.go": MAIN,
        "cmd/goimports/doc.go": b"// Command goimports.\npackage main\n",
        "cmd/goimports/goimports.go": MAIN,
        "cmd/internal/lib.go": LIB,
        "cmd/gen/gen.go": IGNORED_MAIN,
        "cmd/_skip/main.go": MAIN,
        "go/packages/packages.go": LIB,
    }
    serve_module(
        upstream,
        TOOLS,
        latest("minimal-shape-latest-golang.org-x-tools"),
        module_zip(TOOLS, "v0.22.0", files),
    )
    result = build(http, "tools", TOOLS)
    assert isinstance(result, BuiltRecipe)
    step = tomllib.loads(result.text)["steps"][0]
    assert step == {
        "action": "go_install",
        "module": f"{TOOLS}/cmd/...",
        "executables": ["goimports", "stringer"],
    }


def test_library_package_and_library_module(upstream: FakeUpstream, http: HttpClient) -> None:
    files = {"go.mod": b"module golang.org/x/tools\n", "go/packages/packages.go": LIB}
    serve_module(
        upstream,
        TOOLS,
        latest("minimal-shape-latest-golang.org-x-tools"),
        module_zip(TOOLS, "v0.22.0", files),
    )
    not_a_module(
        upstream, f"{TOOLS}/go/packages", f"{TOOLS}/go", f"{TOOLS}/cmd/nope", f"{TOOLS}/cmd"
    )
    result = build(http, "packages", f"{TOOLS}/go/packages")
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "not_main_package")
    result = build(http, "nope", f"{TOOLS}/cmd/nope")
    assert isinstance(result, BuildFailure) and result.subcategory == "no_package"
    # Real .info answer, real case-encoded path: goquery is a library.
    module = "github.com/PuerkitoBio/goquery"
    info = json.loads((SAVED / "github.com/!puerkito!bio/goquery/@v/v1.8.0.info").read_text())
    goquery = {"go.mod": b"module x\n", "array.go": b"package goquery\n"}
    serve_module(upstream, module, info, module_zip(module, "v1.8.0", goquery))
    result = build(http, "goquery", module)
    assert isinstance(result, BuildFailure)
    assert result.subcategory == "no_executables" and result.version == "v1.8.0"
    assert upstream.requests_to(r"/github.com/!puerkito!bio/goquery/@v/v1.8.0.zip")


def test_big_zip_is_read_with_ranges(upstream: FakeUpstream, http: HttpClient) -> None:
    files = {**TASK_FILES, "testdata/blob.bin": os.urandom(300_000)}
    order = ["cmd/task/task.go", "testdata/blob.bin", "go.mod", "task.go", "internal/x/x.go"]
    data = module_zip(TASK, "v3.38.0", files, order=order)
    serve_module(upstream, TASK, latest("minimal-shape-latest-go-task-task-v3"), data)
    result = build(http, "task", TASK)
    assert isinstance(result, BuiltRecipe) and result.executables == ("task",)
    zip_requests = upstream.requests_to(r"\.zip$")
    assert all(r[2] is not None for r in zip_requests)
    assert len(zip_requests) == 2  # the tail, then the head of cmd/task/task.go


def test_range_ignored_falls_back_to_full_download(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    files = {**TASK_FILES, "testdata/blob.bin": os.urandom(100_000)}
    serve_module(
        upstream,
        TASK,
        latest("minimal-shape-latest-go-task-task-v3"),
        module_zip(TASK, "v3.38.0", files),
        honour_range=False,
    )
    result = build(http, "task", TASK)
    assert isinstance(result, BuiltRecipe) and result.executables == ("task",)


def test_determinism_over_zip_order(upstream: FakeUpstream, http: HttpClient) -> None:
    files = {
        "go.mod": b"module golang.org/x/tools\n",
        "cmd/b/main.go": MAIN,
        "cmd/a/main.go": MAIN,
        "cmd/c/main.go": MAIN,
        "cmd/c/zz.go": MAIN,
    }
    texts = set()
    rng = random.Random(11)
    for _ in range(4):
        order = list(files)
        rng.shuffle(order)
        serve_module(
            upstream,
            TOOLS,
            latest("minimal-shape-latest-golang.org-x-tools"),
            module_zip(TOOLS, "v0.22.0", files, order=order),
        )
        result = build(http, "tools", TOOLS)
        assert isinstance(result, BuiltRecipe)
        texts.add(result.text)
    assert len(texts) == 1
    assert 'executables = ["a", "b", "c"]' in texts.pop()


def test_hostile_zip_entries_are_ignored(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {
        "go.mod": b"module x\n",
        "../cmd/evil/main.go": MAIN,
        "/abs/cmd/evil2/main.go": MAIN,
        "cmd/ok/main.go": MAIN,
    }
    serve_module(
        upstream,
        TOOLS,
        latest("minimal-shape-latest-golang.org-x-tools"),
        module_zip(TOOLS, "v0.22.0", files),
    )
    result = build(http, "tools", TOOLS)
    assert isinstance(result, BuiltRecipe)
    assert tomllib.loads(result.text)["steps"][0]["module"] == f"{TOOLS}/cmd/ok"
    assert list(tmp_path.iterdir()) == []


def test_unknown_everywhere_is_not_found(upstream: FakeUpstream, http: HttpClient) -> None:
    not_a_module(upstream, "example.com/a/b", "example.com/a")
    with pytest.raises(NotFound):
        ADAPTER.fetch(http, "example.com/a/b")


def test_lookup(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_module(
        upstream,
        TASK,
        latest("minimal-shape-latest-go-task-task-v3"),
        module_zip(TASK, "v3.38.0", TASK_FILES),
    )
    assert ADAPTER.lookup is not None and ADAPTER.popularity is None
    found = ADAPTER.lookup(http, TASK)
    assert (found.executables, found.version) == (("task",), "v3.38.0")


def test_generate_entries_stages_the_recipe(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    module = "github.com/go-delve/delve"
    files = {"go.mod": b"module x\n", "cmd/dlv/main.go": MAIN, "service/rpc.go": LIB}
    serve_module(
        upstream,
        module,
        {"Version": "v1.23.0", "Time": "2024-06-01T00:00:00Z"},
        module_zip(module, "v1.23.0", files),
    )
    not_a_module(upstream, f"{module}/cmd/dlv", f"{module}/cmd")
    staging = Staging(RegistryLayout.at(tmp_path), "2026-11-27-120000-go")
    entries = [QueueEntry("dlv", f"go:{module}/cmd/dlv", 3, "pending", "auto", None, 0, None)]
    report = generate_entries(staging, entries, fetch=fetcher_for(http), workers=1)
    assert [o.status for o in report.outcomes] == ["generated"], report.to_text()
    staged = tomllib.loads(staging.recipe_path("dlv").read_text())
    assert staged["steps"][0] == {
        "action": "go_install",
        "module": f"{module}/cmd/dlv",
        "executables": ["dlv"],
    }
