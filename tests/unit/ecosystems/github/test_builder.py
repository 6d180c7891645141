"""GitHub recipe builder: determinism, hostile names and fields, platform splits."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from automation.core.http import HttpClient
from automation.ecosystems.github import adapter
from automation.ecosystems.github import client as source
from automation.ecosystems.github.builder import GithubFacts, build_github
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from tests.support.fake_upstream import FakeUpstream
from tests.support.github_fakes import (
    built_steps,
    listing,
    release_with,
    tar_gz,
    valid,
)


def _facts(assets: list[dict[str, Any]], **release: Any) -> GithubFacts:
    document = {"tag_name": "v1.0.0", "published_at": "2024-01-01T00:00:00Z", "assets": assets}
    document.update(release)
    info = source.parse_repo({"full_name": "o/tool", "description": "A tool", "homepage": None})
    return GithubFacts(source.GithubProject("o/tool", info, source.parse_release(document)))


def test_same_listing_any_order_same_bytes(api_samples_dir: Path) -> None:
    assets = listing(api_samples_dir, "integrations/terraform-provider-github")[0]["assets"]
    texts = set()
    for seed in range(10):
        shuffled = list(assets)
        random.Random(seed).shuffle(shuffled)
        built = build_github("tool", _facts(shuffled))
        assert isinstance(built, BuiltRecipe)
        texts.add(built.text)
    assert len(texts) == 1


def test_hostile_names_never_reach_toml() -> None:
    hostile = [
        "../../tool-linux-amd64.tar.gz",
        'tool"]\n[metadata]\nname="evil"-linux-amd64.tar.gz',
        "tool-linux-amd64.tar.gz\n",
        "tool-{version}-linux-arm64.tar.gz",
        "x" * 100_000 + "-linux-amd64.tar.gz",
        "tool-linux-amd64.tar.gz",
    ]
    facts = _facts([{"name": n, "size": 1} for n in hostile] + [{"name": 7}, "junk"])
    assert facts.project.release is not None
    assert [a.name for a in facts.project.release.assets] == ["tool-linux-amd64.tar.gz"]
    built = build_github("tool", facts)
    assert isinstance(built, BuiltRecipe)
    doc = valid(built)
    assert doc["metadata"]["name"] == "tool"
    assert "evil" not in built.text and ".." not in built.text
    assert doc["steps"][0]["asset_pattern"] == "tool-linux-amd64.tar.gz"


def test_hostile_repo_fields_are_escaped() -> None:
    info = source.parse_repo(
        {"description": 'evil"\n[metadata]\nname = "x"', "homepage": "javascript:alert(1)"}
    )
    release = source.parse_release(
        {"tag_name": "v2.0", "assets": [{"name": "tool_2.0_linux_amd64.tar.gz"}]}
    )
    built = build_github("tool", GithubFacts(source.GithubProject("o/tool", info, release)))
    assert isinstance(built, BuiltRecipe)
    doc = valid(built)
    assert doc["metadata"]["homepage"] == "https://github.com/o/tool"
    assert "\n" not in doc["metadata"]["description"]


def test_ten_thousand_assets_is_a_clear_failure() -> None:
    assets = [{"name": f"tool-{i}-linux-amd64.tar.gz", "size": 1} for i in range(10_000)]
    failure = build_github("tool", _facts(assets))
    assert isinstance(failure, BuildFailure)
    assert (failure.category, failure.subcategory) == ("generation_failed", "too_many_assets")


def test_unsafe_recipe_name() -> None:
    failure = build_github("../x", _facts([{"name": "tool-linux-amd64"}]))
    assert isinstance(failure, BuildFailure) and failure.subcategory == "unsafe_name"


def test_universal_darwin_and_musl_split() -> None:
    names = [
        "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz",
        "tool-1.0.0-x86_64-unknown-linux-musl.tar.gz",
        "tool-1.0.0-aarch64-unknown-linux-gnu.tar.gz",
        "tool-1.0.0-aarch64-unknown-linux-musl.tar.gz",
        "tool-1.0.0-universal-apple-darwin.tar.gz",
        "tool-1.0.0-universal-apple-darwin.tar.gz.sha256",
    ]
    built = build_github("tool", _facts([{"name": n} for n in names]))
    assert isinstance(built, BuiltRecipe)
    doc = valid(built)
    assert "supported_os" not in doc["metadata"]
    whens = [s.get("when") for s in doc["steps"]]
    # libc is only evaluated on linux, so a musl-only clause also names the OS
    assert whens == [
        {"os": ["linux"], "libc": ["glibc"]},
        {"os": ["linux"], "libc": ["musl"]},
        {"os": ["darwin"]},
    ]
    # within one OS the OS text stays literal; only the architecture varies
    assert doc["steps"][0]["asset_pattern"] == "tool-{version}-{arch}-unknown-linux-gnu.tar.gz"
    assert doc["steps"][0]["arch_mapping"] == {"amd64": "x86_64", "arm64": "aarch64"}
    assert doc["steps"][2]["asset_pattern"] == "tool-{version}-universal-apple-darwin.tar.gz"
    assert doc["steps"][2]["checksum_asset"].endswith(".tar.gz.sha256")


def test_cargo_dist_release_strips_the_archive_directory() -> None:
    """The release's other assets reach the layout rules: cargo-dist's manifest and installer
    mark ``<app>-<target>.tar.gz`` as wrapped in ``<app>-<target>/``; without them it is flat."""
    archives = [f"tool-{a}-unknown-linux-gnu.tar.gz" for a in ("x86_64", "aarch64")]
    markers = ["dist-manifest.json", "tool-installer.sh"]
    built = build_github("tool", _facts([{"name": n} for n in archives + markers]))
    assert isinstance(built, BuiltRecipe)
    assert [s["strip_dirs"] for s in valid(built)["steps"]] == [1]
    plain = build_github("tool", _facts([{"name": n} for n in archives]))
    assert isinstance(plain, BuiltRecipe)
    assert [s["strip_dirs"] for s in valid(plain)["steps"]] == [0]


def test_listing_finds_a_wrapping_directory_the_name_hides(
    upstream: FakeUpstream, http_dl: HttpClient
) -> None:
    """GoReleaser-style names read as flat (0); this archive wraps its files, so 1."""
    wrapped = tar_gz([("tool-1.0.0/tool", b"ELF"), ("tool-1.0.0/LICENSE", b"MIT")], ("tool-1.0.0",))
    names = [
        f"tool_1.0.0_{os}_{arch}.tar.gz"
        for os in ("linux", "darwin")
        for arch in ("amd64", "arm64")
    ]
    release_with(upstream, dict.fromkeys(names, wrapped))
    steps = built_steps(http_dl)
    assert [(s["strip_dirs"], s["binaries"]) for s in steps] == [(1, ["tool"])]
    downloads = upstream.requests_to("/releases/download/")
    assert sorted(path.rsplit("/", 1)[-1] for _, path, _ in downloads) == sorted(names)
    assert all(rng is not None and rng.startswith("bytes=") for _, _, rng in downloads)
    plain = build_github("tool", adapter._fetch_release(http_dl, "o/tool"))
    assert isinstance(plain, BuiltRecipe)
    assert [s["strip_dirs"] for s in valid(plain)["steps"]] == [0]  # the naming rule alone
