"""RubyGems client: gemspec executables, homepage fallbacks, top-list names."""

from __future__ import annotations

import tomllib

import pytest

from automation.core.http import HttpClient
from automation.ecosystems.recipe import BuiltRecipe
from automation.ecosystems.rubygems import client as rubygems
from tests.support.fake_upstream import FakeUpstream
from tests.support.rubygems_fakes import (
    build,
    doc,
    gemspec,
    make_gem,
    serve,
)


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


def test_top_gem_name_handles_platforms() -> None:
    version = {
        "full_name": "nokogiri-1.5.0-x86-mingw32",
        "number": "1.5.0",
        "platform": "x86-mingw32",
    }
    assert rubygems.top_gem_name(version) == "nokogiri"
    assert rubygems.top_gem_name({"full_name": "../x-1.0", "number": "1.0"}) is None


def test_the_gem_document_gives_downloads() -> None:
    info = rubygems.parse_gem_document(doc("gems-activerecord"), url="mem://")
    assert info.downloads == 169371097  # all versions, all time
    from automation.ecosystems.rubygems.adapter import package_from

    package = package_from(rubygems.Gem(info, ("x",)))
    assert (package.downloads, package.downloads_period) == (169371097, "all time")
    assert package.first_release is None  # the document dates only the current version
