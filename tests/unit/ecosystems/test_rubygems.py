"""RubyGems adapter: gem documents + .gem files (built here in the real format) over the fake
upstream, end to end."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import random
import tarfile
import tomllib
from collections.abc import Iterator, Sequence
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
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.ecosystems.rubygems import client as rubygems
from automation.registry.queue import QueueEntry
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from tests.support.fake_upstream import FIXTURES, FakeUpstream

GEMS = FIXTURES / "rubygems"
ADAPTER = adapter_for("rubygems")

RUBOCOP_SPEC = """--- !ruby/object:Gem::Specification
name: rubocop
version: !ruby/object:Gem::Version
  version: 1.56.0
platform: ruby
authors:
- Bozhidar Batsov
bindir: exe
cert_chain: []
date: 2023-08-09 00:00:00.000000000 Z
dependencies:
- !ruby/object:Gem::Dependency
  name: json
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '2.3'
  type: :runtime
  prerelease: false
description: "    RuboCop is a Ruby code style checking and code formatting tool.\\n"
email: rubocop@googlegroups.com
executables:
- rubocop
files:
- LICENSE.txt
- exe/rubocop
homepage: https://github.com/rubocop/rubocop
licenses:
- MIT
require_paths:
- lib
rubygems_version: 3.4.10
specification_version: 4
summary: Automatic Ruby code style checking tool.
test_files: []
"""


def gemspec(executables_block: str) -> str:
    return RUBOCOP_SPEC.replace("executables:\n- rubocop\n", executables_block)


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    archive.addfile(info, io.BytesIO(data))


def make_gem(spec_yaml: str, *, extra: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A ``.gem`` as ``gem build`` writes it: plain tar of metadata.gz, data.tar.gz, checksums."""
    metadata = gzip.compress(spec_yaml.encode(), mtime=0)
    data_tar = io.BytesIO()
    with tarfile.open(fileobj=data_tar, mode="w:gz") as inner:
        _add(inner, "exe/rubocop", b"#!/usr/bin/env ruby\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in extra:
            _add(archive, name, data)
        _add(archive, "metadata.gz", metadata)
        _add(archive, "data.tar.gz", data_tar.getvalue())
        _add(archive, "checksums.yaml.gz", gzip.compress(b"---\n", mtime=0))
    return buffer.getvalue()


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((GEMS / f"{name}.json").read_text())
    return result


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    config = load_config(env={"AUTOMATION_ENDPOINT_RUBYGEMS": upstream.base})
    fast = dict(default_rate_limits(), rubygems=1000.0)
    config = replace(config, rate_limits=MappingProxyType(fast), retries=0, read_timeout=5)
    with HttpClient(config, env={}) as client:
        yield client


def serve(
    upstream: FakeUpstream, document: dict[str, Any], gem: bytes, *, fix_sha: bool = True
) -> None:
    document = copy.deepcopy(document)
    if fix_sha:
        document["sha"] = hashlib.sha256(gem).hexdigest()
    name, version = document["name"], document["version"]
    upstream.json(f"/api/v1/gems/{name}.json", document)
    upstream.blob(f"/downloads/{name}-{version}.gem", gem)


def build(http: HttpClient, name: str, identifier: str) -> BuiltRecipe | BuildFailure:
    return ADAPTER.build(name, ADAPTER.fetch(http, identifier))


# ------------------------------------------------------------ the gemspec parser


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("executables:\n- rubocop\n", ("rubocop",)),
        ("executables: []\n", ()),
        ("executables:\n- b\n- 'a'\n- \"c\"\n", ("b", "a", "c")),
        ("executables:\n  - x\n  - y\n", ("x", "y")),
        ("executables: [one, 'two']\n", ("one", "two")),
        ("", ()),
        ("executables: *alias\n", ()),
    ],
)
def test_parse_executables(block: str, expected: tuple[str, ...]) -> None:
    assert rubygems.parse_executables(gemspec(block)) == expected


def test_parse_executables_stops_at_the_next_key() -> None:
    text = "executables:\n- one\nextensions: []\nfiles:\n- two\n"
    assert rubygems.parse_executables(text) == ("one",)


# ------------------------------------------------------------ end to end


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


def test_real_document_homepage_fallbacks(upstream: FakeUpstream, http: HttpClient) -> None:
    # Real document: homepage_uri is http:// and source_code_uri null -> the registry page.
    document = doc("gems-dummy-git-dependency")
    serve(upstream, document, make_gem(gemspec("executables:\n- dummy\n")))
    result = build(http, "dummy-git-dependency", "dummy-git-dependency")
    assert isinstance(result, BuiltRecipe)
    homepage = tomllib.loads(result.text)["metadata"]["homepage"]
    assert homepage == "https://rubygems.org/gems/dummy-git-dependency"
    # Real activerecord document: http homepage, https source_code_uri.
    info = rubygems.parse_gem_document(doc("gems-activerecord"), url="mem://")
    assert info.homepage == "https://github.com/rails/rails/tree/v5.2.2/activerecord"
    # The 2011 schema has no sha: parsed, no checksum to compare.
    old = rubygems.parse_gem_document(doc("gems-rails-v1-2011"), url="mem://")
    assert (old.version, old.sha256, old.homepage) == ("3.0.9", None, None)


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


# ------------------------------------------------------------ failures


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
        _add(archive, "metadata.gz", b"not gzip")
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


# ------------------------------------------------------------ seeding


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


def test_top_gem_name_handles_platforms() -> None:
    version = {
        "full_name": "nokogiri-1.5.0-x86-mingw32",
        "number": "1.5.0",
        "platform": "x86-mingw32",
    }
    assert rubygems.top_gem_name(version) == "nokogiri"
    assert rubygems.top_gem_name({"full_name": "../x-1.0", "number": "1.0"}) is None


def test_lookup(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, doc("minimal-shape-gems-rubocop"), make_gem(RUBOCOP_SPEC))
    assert ADAPTER.lookup is not None
    found = ADAPTER.lookup(http, "rubocop")
    assert (found.executables, found.version) == (("rubocop",), "1.56.0")


# ------------------------------------------------------------ pipeline


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
