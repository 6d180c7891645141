"""CPAN adapter: MetaCPAN release documents and file searches over the fake upstream."""

from __future__ import annotations

import copy
import json
import random
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from automation.core import schemas
from automation.core.config import default_rate_limits, load_config
from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient, NotFound
from automation.core.layout import RegistryLayout
from automation.ecosystems import adapter_for, fetcher_for
from automation.ecosystems.cpan import client as metacpan
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.queue import QueueEntry
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from tests.support.fake_upstream import FIXTURES, FakeUpstream

CPAN = FIXTURES / "metacpan"


ADAPTER = adapter_for("cpan")


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((CPAN / f"{name}.json").read_text())
    return result


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    config = load_config(env={"AUTOMATION_ENDPOINT_METACPAN": upstream.base})
    fast = dict(default_rate_limits(), metacpan=1000.0)
    config = replace(config, rate_limits=MappingProxyType(fast), retries=0, read_timeout=5)
    with HttpClient(config, env={}) as client:
        yield client


def serve(upstream: FakeUpstream, release: dict[str, Any], search: dict[str, Any]) -> None:
    upstream.json(f"/v1/release/{release['distribution']}", release)
    path = metacpan.scripts_search_path(release["name"], release["author"])
    upstream.json(path, search)


def serve_named(upstream: FakeUpstream, dist: str) -> None:
    serve(upstream, doc(f"minimal-shape-release-{dist}"), doc(f"minimal-shape-file-search-{dist}"))


def build(http: HttpClient, name: str, identifier: str) -> BuiltRecipe | BuildFailure:
    return ADAPTER.build(name, ADAPTER.fetch(http, identifier))


def test_ack(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_named(upstream, "ack")
    result = build(http, "ack", "ack")
    assert isinstance(result, BuiltRecipe), result
    recipe = tomllib.loads(result.text)
    assert recipe["metadata"]["dependencies"] == ["perl"]
    assert recipe["metadata"]["homepage"] == "https://beyondgrep.com/"
    assert recipe["metadata"]["description"] == "A grep-like program for searching source code"
    assert recipe["steps"] == [
        {"action": "cpan_install", "distribution": "ack", "executables": ["ack"]}
    ]
    assert recipe["verify"]["command"] == "ack --version"
    assert result.version == "v3.7.0" and result.source == "cpan:ack"
    assert schemas.check(recipe, "recipe", path="mem") == []
    # The query names the release and its author, and asks for bin/ and script/ only.
    search = upstream.requests_to(r"_search")[0][1]
    assert "release%3A%22ack-v3.7.0%22" in search and "PETDANCE" in search


def test_module_name_identifier_and_script_dir(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_named(upstream, "Plack")
    result = build(http, "plack", "Plack")
    assert isinstance(result, BuiltRecipe)
    recipe = tomllib.loads(result.text)
    # No name mangling: the distribution is installed, its real script is the executable.
    assert recipe["steps"][0] == {
        "action": "cpan_install",
        "distribution": "Plack",
        "executables": ["plackup"],
    }
    # http homepage -> the https repository web page.
    assert recipe["metadata"]["homepage"] == "https://github.com/plack/Plack"


def test_double_colon_identifier_maps_to_the_distribution(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    release = doc("minimal-shape-release-ack")
    release.update(distribution="App-Ack", name="App-Ack-3.0", main_module="App::Ack")
    serve(upstream, release, doc("minimal-shape-file-search-ack"))
    result = build(http, "ack", "App::Ack")
    assert isinstance(result, BuiltRecipe)
    assert tomllib.loads(result.text)["steps"][0]["distribution"] == "App-Ack"
    assert result.verify_executable == "ack"


def test_determinism_and_script_filtering(upstream: FakeUpstream, http: HttpClient) -> None:
    search = doc("minimal-shape-file-search-ack")
    hits: list[dict[str, Any]] = [
        {"fields": {"path": p, "directory": False}}
        for p in (
            "bin/ack",
            "bin/zz-helper",
            "script/gen-thing.PL",
            "bin/ack.bat",
            "bin/sub/deep",
            "lib/App/Ack.pm",
            "bin/../../etc",
            "bin/bad name",
        )
    ]
    hits.append({"fields": {"path": ["bin"], "directory": [True]}})
    hits.append({"_source": {"path": "script/aa", "directory": False}})
    texts = set()
    rng = random.Random(5)
    for _ in range(4):
        rng.shuffle(hits)
        shuffled = copy.deepcopy(search)
        shuffled["hits"]["hits"] = hits
        serve(upstream, doc("minimal-shape-release-ack"), shuffled)
        result = build(http, "ack", "ack")
        assert isinstance(result, BuiltRecipe)
        texts.add(result.text)
    assert len(texts) == 1
    text = texts.pop()
    assert 'executables = ["aa", "ack", "gen-thing", "zz-helper"]' in text
    assert 'command = "ack --version"' in text


def test_library_has_no_executables(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_named(upstream, "Try-Tiny")
    result = build(http, "try-tiny", "Try::Tiny")
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "no_executables")
    assert result.version == "0.31"


def test_not_found_and_malformed(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.json("/v1/release/No-Such", {"code": 404, "message": "Not found"}, status=404)
    with pytest.raises(NotFound):
        ADAPTER.fetch(http, "No::Such")
    release = doc("minimal-shape-release-ack")
    release["author"] = "../evil"
    upstream.json("/v1/release/ack", release)
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, "ack")
    release = doc("minimal-shape-release-ack")
    serve(upstream, release, {"took": 1, "hits": "nope"})
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, "ack")


def test_invalid_identifiers(http: HttpClient) -> None:
    for bad in ("../evil", "App/Ack", "", "App Ack", "-x", "A" * 200, "App::"):
        with pytest.raises(UnsafeNameError):
            ADAPTER.fetch(http, bad)


def test_lookup(upstream: FakeUpstream, http: HttpClient) -> None:
    serve_named(upstream, "ack")
    assert ADAPTER.lookup is not None and ADAPTER.popularity is None
    found = ADAPTER.lookup(http, "ack")
    assert (found.executables, found.version) == (("ack",), "v3.7.0")


def test_generate_entries_stages_the_recipe(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    serve_named(upstream, "ack")
    serve_named(upstream, "Try-Tiny")
    staging = Staging(RegistryLayout.at(tmp_path), "2026-11-27-120000-cpan")
    entries = [
        QueueEntry("ack", "cpan:ack", 3, "pending", "auto", None, 0, None),
        QueueEntry("try-tiny", "perl:Try::Tiny", 3, "pending", "auto", None, 0, None),
    ]
    report = generate_entries(staging, entries, fetch=fetcher_for(http), workers=1)
    outcomes = {o.name: (o.status, o.subcategory) for o in report.outcomes}
    assert outcomes == {"ack": ("generated", ""), "try-tiny": ("failed", "no_executables")}
    staged = tomllib.loads(staging.recipe_path("ack").read_text())
    assert staged["steps"][0]["distribution"] == "ack"
