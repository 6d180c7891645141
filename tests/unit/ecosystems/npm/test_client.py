"""npm client: packument parsers on saved real responses, fetches from a local server."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient
from automation.ecosystems.npm import client as npm
from tests.support.fake_upstream import FIXTURES, FakeUpstream

NPM = FIXTURES / "npm"


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((NPM / f"{name}.json").read_text())
    return result


def test_string_bin_is_the_unscoped_package_name() -> None:
    package = npm.parse_packument(doc("prettier"))
    assert package.name == "prettier" and package.version == "3.10.1"
    assert package.bin == ("prettier",)
    assert package.homepage == "https://prettier.io"
    assert package.repository == "https://github.com/prettier/prettier"  # "prettier/prettier"
    assert package.published == "2026-11-12T07:06:22+00:00"
    assert package.tarball == "https://registry.npmjs.org/prettier/-/prettier-3.10.1.tgz"


def test_map_bin_is_sorted() -> None:
    package = npm.parse_packument(doc("cowsay"))
    assert package.bin == ("cowsay", "cowthink")
    assert package.description == "cowsay is a configurable talking cow"
    # This registry's documents carry no time.created; the field stays empty, not invented.
    assert package.created is None


def test_scoped_package() -> None:
    package = npm.parse_packument(doc("@angular__cli"))
    assert package.name == "@angular/cli" and package.bin == ("ng",)
    assert npm.package_path("@angular/cli") == "/@angular%2Fcli"
    assert npm.unscoped("@angular/cli") == "cli"
    assert npm.bin_names("@scope/tool", "./bin.js") == (("tool",), ())


def test_no_bin() -> None:
    package = npm.parse_packument(doc("lodash"))
    assert package.bin == () and not package.is_cli
    assert package.homepage == "https://lodash.com/"


def test_typescript() -> None:
    package = npm.parse_packument(doc("typescript"))
    assert package.bin == ("tsc",) and package.version == "7.0.2"


def test_abbreviated_shape_still_has_bin() -> None:
    full = doc("cowsay")
    # npm's install document: per-version bin/dist, no description/homepage/repository/time.
    keep = ("name", "version", "bin", "dist", "dependencies", "engines")
    abbreviated = {
        "name": full["name"],
        "dist-tags": full["dist-tags"],
        "modified": "2024-10-25T03:22:52.681Z",
        "versions": {v: {k: m[k] for k in keep if k in m} for v, m in full["versions"].items()},
    }
    package = npm.parse_packument(abbreviated)
    assert package.bin == ("cowsay", "cowthink")
    assert package.description == "" and package.homepage is None and package.published is None


def test_top_level_fields_are_the_fallback() -> None:
    document = copy.deepcopy(doc("lodash"))
    latest = document["versions"][document["dist-tags"]["latest"]]
    for key in ("homepage", "description", "repository"):
        latest.pop(key, None)
    document["description"] = "top-level description"
    document["repository"] = {"type": "git", "url": "git+ssh://git@github.com/lodash/lodash.git"}
    package = npm.parse_packument(document)
    assert package.description == "top-level description"
    assert package.homepage == "https://github.com/lodash/lodash"


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ({"type": "git", "url": "git+https://github.com/angular/angular-cli.git"},
         "https://github.com/angular/angular-cli"),
        ("git://github.com/o/r.git", "https://github.com/o/r"),
        ("git@github.com:o/r.git", "https://github.com/o/r"),
        ("github:o/r", "https://github.com/o/r"),
        ("gitlab:o/r", "https://gitlab.com/o/r"),
        ("o/r", "https://github.com/o/r"),
        ("https://github.com/o/r/tree/main/packages/x", "https://github.com/o/r/tree/main/packages/x"),
        ("http://example.com/r.git#main", "https://example.com/r"),
        ("file:../local", None),
        ("", None),
        (None, None),
        ({"type": "git"}, None),
    ],
)  # fmt: skip
def test_clean_repository_url(repository: object, expected: str | None) -> None:
    assert npm.clean_repository_url(repository) == expected


def test_unsafe_names_and_bins() -> None:
    for bad in ("../evil", "a%2Fb", "@scope/../x", "a b", "", "@/x"):
        with pytest.raises(UnsafeNameError):
            npm.package_path(bad)
    good, ignored = npm.bin_names("pkg", {"ok": "a.js", "../evil": "b.js", "s p": "c.js", "e": ""})
    # npm links a bin key by its base name, so "../evil" installs as "evil"; spaces never pass.
    assert good == ("evil", "ok") and ignored == ("s p",)


def test_malformed_documents() -> None:
    with pytest.raises(BadResponse):
        npm.parse_packument([])
    with pytest.raises(BadResponse):
        npm.parse_packument({"name": "x", "dist-tags": {}, "versions": {}})
    with pytest.raises(BadResponse):
        npm.parse_packument({"name": "x", "dist-tags": {"latest": "1.0.0"}, "versions": {}})


def test_fetch_scoped_package(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.json("/@angular%2Fcli", doc("@angular__cli"))
    package = npm.fetch_npm_package(http, "@angular/cli")
    assert package.bin == ("ng",)


def test_fetch_abbreviated_sends_the_accept_header(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    accepted: list[str | None] = []

    def handler(request):  # type: ignore[no-untyped-def]
        from tests.support.fake_upstream import Reply

        accepted.append(request.headers.get("Accept"))
        return Reply(200, json.dumps(doc("cowsay")).encode())

    upstream.handler("/cowsay", handler)
    npm.fetch_npm_package(http, "cowsay", abbreviated=True)
    npm.fetch_npm_package(http, "cowsay")
    assert accepted[0] is not None and accepted[0].startswith("application/vnd.npm.install-v1+json")
    assert accepted[1] == "application/json"


def test_fetch_latest_reads_the_version_document(upstream: FakeUpstream, http: HttpClient) -> None:
    latest = json.loads((FIXTURES / "npm" / "latest" / "@angular__cli.json").read_text())
    upstream.json("/@angular%2Fcli/latest", latest)
    found = npm.fetch_npm_latest(http, "@angular/cli")
    assert (found.name, found.bin) == ("@angular/cli", ("ng",))
    assert found.version == latest["version"] and found.manifest["description"]


def test_parse_latest_refuses_another_package_or_no_version() -> None:
    with pytest.raises(BadResponse):
        npm.parse_latest_manifest({"name": "other", "version": "1.0.0"}, "semver")
    with pytest.raises(BadResponse):
        npm.parse_latest_manifest({"name": "semver"}, "semver")
    with pytest.raises(BadResponse):
        npm.parse_latest_manifest([], "semver")
    parsed = npm.parse_latest_manifest({"name": "x", "version": "1.0.0", "bin": "cli.js"}, "x")
    assert parsed.bin == ("x",)


def test_first_release_is_created_else_the_earliest_version_stamp() -> None:
    # This registry's documents have no time.created: the earliest version stamp stands in.
    package = npm.parse_packument(doc("cowsay"))
    stamps = [v for k, v in doc("cowsay")["time"].items() if k not in ("created", "modified")]
    assert package.first_release == min(stamps) == "2024-10-25T03:22:52.681000+00:00"
    with_created = doc("cowsay")
    with_created["time"]["created"] = "2011-05-04T09:00:00.000Z"
    assert npm.parse_packument(with_created).first_release == "2011-05-04T09:00:00.000Z"
    # Stamps compare as instants, not text; unpublished and garbage are not versions.
    times = {
        "modified": "2001-01-01T00:00:00Z",
        "1.0.0": "2020-01-02T00:00:00+05:00",
        "1.0.1": "2020-01-01T22:00:00Z",
        "unpublished": {"time": "2000-01-01T00:00:00Z"},
        "0.0.1": "not a date",
    }
    assert npm.first_published(times) == "2020-01-02T00:00:00+05:00"
    assert npm.first_published({}) is None
