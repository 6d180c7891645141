"""RubyGems adapter: gem documents + .gem files (built here in the real format) over the fake
upstream, end to end."""

from __future__ import annotations

import io
import random
import tarfile
import tomllib
from pathlib import Path

import pytest

from automation.core import schemas
from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient, NotFound
from automation.core.layout import RegistryLayout
from automation.ecosystems import fetcher_for
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.queue import QueueEntry
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from tests.support.fake_upstream import FakeUpstream
from tests.support.rubygems_fakes import (
    ADAPTER,
    GEMS,
    RUBOCOP_SPEC,
    add_member,
    build,
    doc,
    gemspec,
    make_gem,
    serve,
)


def test_end_to_end_rubocop(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(RUBOCOP_SPEC))
    result = build(http, "rubocop", "rubocop")
    assert isinstance(result, BuiltRecipe), result
    recipe = tomllib.loads(result.text)
    assert recipe["steps"] == [
        {"action": "gem_install", "gem": "rubocop", "executables": ["rubocop"]}
    ]
    assert recipe["metadata"]["homepage"] == "https://rubocop.org/"
    assert recipe["metadata"]["description"].startswith("RuboCop is a Ruby code style checking")
    assert "\n" not in recipe["metadata"]["description"]
    assert recipe["verify"]["command"] == "rubocop --version"
    assert result.version == "1.56.0" and result.source == "rubygems:rubocop"
    assert schemas.check(recipe, "recipe", path="mem") == []


def test_identifier_not_name(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(RUBOCOP_SPEC))
    result = build(http, "rubocop-cli", "rubocop")
    assert isinstance(result, BuiltRecipe)
    recipe = tomllib.loads(result.text)
    assert recipe["metadata"]["name"] == "rubocop-cli"
    assert recipe["steps"][0]["gem"] == "rubocop"


def test_determinism(upstream: FakeUpstream, http: HttpClient) -> None:
    names = ["zz-tool", "rubocop", "aa-tool", "mid"]
    texts = set()
    rng = random.Random(3)
    for _ in range(4):
        rng.shuffle(names)
        block = "executables:\n" + "".join(f"- {n}\n" for n in names)
        serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(gemspec(block)))
        result = build(http, "rubocop", "rubocop")
        assert isinstance(result, BuiltRecipe)
        texts.add(result.text)
    assert len(texts) == 1
    text = texts.pop()
    assert 'executables = ["aa-tool", "mid", "rubocop", "zz-tool"]' in text
    assert 'command = "rubocop --version"' in text


def test_no_executables(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(gemspec("executables: []\n")))
    result = build(http, "rubocop", "rubocop")
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "no_executables")


def test_sha_mismatch(upstream: FakeUpstream, http: HttpClient) -> None:
    document = doc("minimal-shape-gems-rubocop")
    document["sha"] = "0" * 64
    serve(upstream, document, make_gem(RUBOCOP_SPEC), fix_sha=False)
    with pytest.raises(BadResponse, match="sha256"):
        ADAPTER.fetch(http, "rubocop")


def test_hostile_gem_contents_stay_in_memory(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    gem = make_gem(
        gemspec("executables:\n- ../../etc/passwd\n- /bin/sh\n- good\n- 'bad name'\n"),
        extra=[("../escape.txt", b"x"), ("/abs/metadata.gz", b"y")],
    )
    serve(upstream, doc("minimal-shape-gems-rubocop"), gem)
    result = build(http, "rubocop", "rubocop")
    assert isinstance(result, BuiltRecipe)
    assert result.executables == ("good",)
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "escape.txt").exists()


def test_not_a_gem_and_bad_metadata(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, doc("minimal-shape-gems-rubocop"), b"this is not a tar file" * 50)
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, "rubocop")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        add_member(archive, "metadata.gz", b"not gzip")
    serve(upstream, doc("minimal-shape-gems-rubocop"), buffer.getvalue())
    with pytest.raises(BadResponse, match="decompress"):
        ADAPTER.fetch(http, "rubocop")
    too_many = "executables:\n" + "".join(f"- t{i}\n" for i in range(500))
    serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(gemspec(too_many)))
    with pytest.raises(BadResponse, match="executables"):
        ADAPTER.fetch(http, "rubocop")


def test_names_and_missing(upstream: FakeUpstream, http: HttpClient) -> None:
    for bad in ("../evil", "a/b", "", "a b", "-x"):
        with pytest.raises(UnsafeNameError):
            ADAPTER.fetch(http, bad)
    upstream.json("/api/v1/gems/nope.json", {"error": "not found"}, status=404)
    with pytest.raises(NotFound):
        ADAPTER.fetch(http, "nope")
    document = doc("minimal-shape-gems-rubocop")
    document["version"] = "1.0/../../x"
    upstream.json("/api/v1/gems/rubocop.json", document)
    with pytest.raises(BadResponse):
        ADAPTER.fetch(http, "rubocop")


def test_popularity_from_the_historic_top_list(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    upstream.file("/api/v1/downloads/top.json", GEMS / "downloads-top.json")
    assert ADAPTER.popularity is not None
    ranked = ADAPTER.popularity(http, RegistryLayout.at(tmp_path), 5)
    # Counts are per version: the versions of one gem add up (rack is listed twice).
    assert [(r.identifier, r.downloads) for r in ranked.entries][:3] == [
        ("rack", 10147),
        ("rake", 9801),
        ("mime-types", 8809),
    ]
    assert len(ranked.entries) == 5 and ranked.population == 49
    assert any("historic" in note for note in ranked.notes)


def test_lookup(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(RUBOCOP_SPEC))
    assert ADAPTER.lookup is not None
    found = ADAPTER.lookup(http, "rubocop")
    assert (found.executables, found.version) == (("rubocop",), "1.56.0")


def test_generate_entries_stages_the_recipe(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(RUBOCOP_SPEC))
    staging = Staging(RegistryLayout.at(tmp_path), "2026-11-27-120000-rubygems")
    entries = [QueueEntry("rubocop", "gem:rubocop", 3, "pending", "auto", None, 0, None)]
    report = generate_entries(staging, entries, fetch=fetcher_for(http), workers=1)
    assert [o.status for o in report.outcomes] == ["generated"]
    staged = tomllib.loads(staging.recipe_path("rubocop").read_text())
    assert staged["steps"][0] == {
        "action": "gem_install",
        "gem": "rubocop",
        "executables": ["rubocop"],
    }
