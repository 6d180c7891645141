"""crates.io adapter: saved crate documents served by the local fake upstream, end to end."""

from __future__ import annotations

import copy
import json
import random
import tomllib
from collections.abc import Iterator
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
from automation.ecosystems.cratesio import client as cratesio
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.queue import QueueEntry
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from tests.support.fake_upstream import FIXTURES, FakeUpstream

CRATES = FIXTURES / "cratesio"


ADAPTER = adapter_for("crates.io")


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((CRATES / f"{name}.json").read_text())
    return result


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    config = load_config(env={"AUTOMATION_ENDPOINT_CRATESIO": upstream.base})
    fast = dict(default_rate_limits(), cratesio=1000.0)
    from dataclasses import replace

    config = replace(config, rate_limits=MappingProxyType(fast), retries=0, read_timeout=5)
    with HttpClient(config, env={}) as client:
        yield client


def serve(upstream: FakeUpstream, name: str, document: Any) -> None:
    upstream.json(f"/api/v1/crates/{name}", document)


def build(http: HttpClient, name: str, identifier: str) -> BuiltRecipe | BuildFailure:
    return ADAPTER.build(name, ADAPTER.fetch(http, identifier))


def test_identifier_not_name_builds_bindgen_cli(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, "bindgen-cli", doc("minimal-shape-crates-bindgen-cli"))
    result = build(http, "bindgen", "bindgen-cli")
    assert isinstance(result, BuiltRecipe), result
    recipe = tomllib.loads(result.text)
    # The crate is the source identifier; the recipe keeps the queue's display name.
    assert recipe["metadata"]["name"] == "bindgen"
    assert recipe["steps"] == [
        {"action": "cargo_install", "crate": "bindgen-cli", "executables": ["bindgen"]}
    ]
    # Newest non-yanked *stable* version: 0.71.1 (0.71.2 is yanked, 0.72.0-rc.1 a pre-release).
    assert result.version == "0.71.1"
    assert recipe["verify"] == {"command": "bindgen --version", "pattern": ""}
    assert recipe["metadata"]["homepage"] == "https://rust-lang.github.io/rust-bindgen/"
    assert result.source == "crates.io:bindgen-cli"
    assert schemas.check(recipe, "recipe", path="mem") == []
    assert [e[1] for e in upstream.log] == ["/api/v1/crates/bindgen-cli"]


def test_cargo_subcommand_verify_and_sorted_executables(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    document = doc("minimal-shape-crates-bindgen-cli")
    document["crate"]["name"] = document["crate"]["id"] = "cargo-nextest"
    document["crate"]["homepage"] = None
    document["crate"]["repository"] = "http://insecure.example/repo"
    for version in document["versions"]:
        version["crate"] = "cargo-nextest"
        version["bin_names"] = ["cargo-nextest", "aaa-helper"]
    serve(upstream, "cargo-nextest", document)
    result = build(http, "cargo-nextest", "cargo-nextest")
    assert isinstance(result, BuiltRecipe)
    recipe = tomllib.loads(result.text)
    assert recipe["steps"][0]["executables"] == ["aaa-helper", "cargo-nextest"]
    assert recipe["verify"]["command"] == "cargo nextest --version"
    # No https homepage or repository: the registry's own page.
    assert recipe["metadata"]["homepage"] == "https://crates.io/crates/cargo-nextest"


def test_shuffled_upstream_order_gives_identical_bytes(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    original = doc("minimal-shape-crates-bindgen-cli")
    for version in original["versions"]:
        version["bin_names"] = ["zeta", "bindgen", "alpha"]
    serve(upstream, "bindgen-cli", original)
    first = build(http, "bindgen", "bindgen-cli")
    texts = set()
    rng = random.Random(7)
    for _ in range(5):
        shuffled = copy.deepcopy(original)
        rng.shuffle(shuffled["versions"])
        for version in shuffled["versions"]:
            rng.shuffle(version["bin_names"])
        serve(upstream, "bindgen-cli", shuffled)
        result = build(http, "bindgen", "bindgen-cli")
        assert isinstance(result, BuiltRecipe)
        texts.add(result.text)
    assert isinstance(first, BuiltRecipe)
    assert texts == {first.text}
    assert 'executables = ["alpha", "bindgen", "zeta"]' in first.text


def test_library_crate_fails_library_only(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, "es-entity", doc("es-entity"))  # real 2025 document, bin_names = []
    result = build(http, "es-entity", "es-entity")
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "library_only")
    assert result.version == "0.3.23"


@pytest.mark.parametrize("name", ["bitflags", "xdg"])
def test_old_schema_without_bin_names_is_unknown(
    upstream: FakeUpstream, http: HttpClient, name: str
) -> None:
    serve(upstream, name, doc(name))  # real 2018 documents: no bin_names key
    result = build(http, name, name)
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "no_bin_metadata")


def test_all_yanked(upstream: FakeUpstream, http: HttpClient) -> None:
    document = doc("minimal-shape-crates-bindgen-cli")
    for version in document["versions"]:
        version["yanked"] = True
    serve(upstream, "bindgen-cli", document)
    result = build(http, "bindgen", "bindgen-cli")
    assert isinstance(result, BuildFailure)
    assert result.subcategory == "all_yanked"


def test_not_found_is_the_http_layers_not_found(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.json("/api/v1/crates/no-such-crate", doc("not_found"), status=404)
    with pytest.raises(NotFound):
        ADAPTER.fetch(http, "no-such-crate")


def test_malformed_json_is_bad_response(upstream: FakeUpstream, http: HttpClient) -> None:
    from tests.support.fake_upstream import Reply

    upstream.sequence("/api/v1/crates/broken", [Reply(200, b"{not json", {})])
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, "broken")
    upstream.json("/api/v1/crates/shape", {"crate": {"name": "shape"}, "versions": "nope"})
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, "shape")


def test_hostile_names(upstream: FakeUpstream, http: HttpClient) -> None:
    for bad in ("../evil", "a/b", "", "1abc", "x" * 65, "a b", "a\nb"):
        with pytest.raises(UnsafeNameError):
            ADAPTER.fetch(http, bad)
    document = doc("minimal-shape-crates-bindgen-cli")
    for version in document["versions"]:
        version["bin_names"] = ["../../bin/sh", "ok-tool", "/abs", "x" * 500]
    serve(upstream, "bindgen-cli", document)
    result = build(http, "bindgen", "bindgen-cli")
    assert isinstance(result, BuiltRecipe)
    assert result.executables == ("ok-tool",)
    document["crate"]["name"] = "../evil"
    serve(upstream, "bindgen-cli", document)
    with pytest.raises(UnsafeNameError):
        ADAPTER.fetch(http, "bindgen-cli")
    document = doc("minimal-shape-crates-bindgen-cli")
    document["versions"][2]["bin_names"] = [f"b{i}" for i in range(1000)]
    serve(upstream, "bindgen-cli", document)
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, "bindgen-cli")


def test_unsafe_display_name_fails_cleanly(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, "bindgen-cli", doc("minimal-shape-crates-bindgen-cli"))
    result = build(http, "../Evil", "bindgen-cli")
    assert isinstance(result, BuildFailure) and result.subcategory == "unsafe_name"


def serve_category(upstream: FakeUpstream) -> None:
    for page in (1, 2):
        upstream.file(
            cratesio.category_path(page),
            CRATES / f"minimal-shape-category-command-line-utilities-page-{page}.json",
        )


def test_popularity_ranks_recent_downloads(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    serve_category(upstream)
    assert ADAPTER.popularity is not None
    ranked = ADAPTER.popularity(http, RegistryLayout.at(tmp_path), 100)
    assert [(r.identifier, r.downloads, r.rank) for r in ranked.entries] == [
        ("ripgrep", 900000, 1),
        ("bat", 700000, 2),
        ("fd-find", 700000, 3),
        ("clap-helper", 1200, 4),
    ]
    assert ranked.population == 5 and ranked.period == "90 days"
    assert "1 malformed rows skipped" in ranked.notes
    assert upstream.requests_to(r"page=3") == []


def test_popularity_page_budget(upstream: FakeUpstream, http: HttpClient) -> None:
    from automation.ecosystems.cratesio.adapter import load_popularity

    serve_category(upstream)
    ranked = load_popularity(http, 100, page_budget=1)
    assert [r.identifier for r in ranked.entries] == ["ripgrep", "bat", "clap-helper"]
    assert "page budget of 1 reached" in ranked.notes
    assert len(upstream.log) == 1


def test_lookup(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, "bindgen-cli", doc("minimal-shape-crates-bindgen-cli"))
    assert ADAPTER.lookup is not None
    found = ADAPTER.lookup(http, "bindgen-cli")
    assert (found.executables, found.version) == (("bindgen",), "0.71.1")


def test_generate_entries_stages_the_recipe(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    serve(upstream, "bindgen-cli", doc("minimal-shape-crates-bindgen-cli"))
    serve(upstream, "es-entity", doc("es-entity"))
    layout = RegistryLayout.at(tmp_path)
    staging = Staging(layout, "2026-11-27-120000-crates.io")
    entries = [
        QueueEntry("bindgen", "crates.io:bindgen-cli", 3, "pending", "auto", None, 0, None),
        QueueEntry("es-entity", "cargo:es-entity", 3, "pending", "auto", None, 0, None),
    ]
    report = generate_entries(staging, entries, fetch=fetcher_for(http), workers=1)
    outcomes = {o.name: o for o in report.outcomes}
    assert outcomes["bindgen"].status == "generated"
    assert outcomes["es-entity"].subcategory == "library_only"
    staged = tomllib.loads(staging.recipe_path("bindgen").read_text())
    assert staged["steps"][0]["crate"] == "bindgen-cli"
    assert not staging.recipe_path("es-entity").exists()
