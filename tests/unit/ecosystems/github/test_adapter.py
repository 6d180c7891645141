"""GitHub adapter end to end over a local server: saved real release listings, failure codes,
archive listings, the curated seeding list and curated recipe names (``cli/cli`` is ``gh``)."""

from __future__ import annotations

import copy
import io
import json
import random
import tomllib
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from automation.core import schemas
from automation.core.config import Config, public_endpoints
from automation.core.errors import UnsafeNameError
from automation.core.http import HttpClient, NotFound
from automation.core.layout import RegistryLayout
from automation.ecosystems import seed_sources
from automation.ecosystems.github import adapter
from automation.ecosystems.popularity import PopularityList, Ranked
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.queue import load_queue
from automation.stages.generate import classify_fetch_error
from automation.stages.seed import seed
from tests.support.fake_upstream import FakeUpstream
from tests.support.github_fakes import (
    built_steps,
    generate,
    listing,
    release_with,
    serve,
    tar_gz,
    valid,
)


@pytest.mark.parametrize("latest", [True, False])
def test_terraform_provider_every_platform(
    upstream: FakeUpstream, http: HttpClient, api_samples_dir: Path, latest: bool
) -> None:
    repo = "integrations/terraform-provider-github"
    serve(upstream, repo, listing(api_samples_dir, repo), latest=latest)
    built = generate(http, repo, "terraform-provider-github")
    assert isinstance(built, BuiltRecipe)
    doc = valid(built)
    assert built.version == "6.7.0" and built.source == f"github:{repo}"
    assert doc["version"] == {"github_repo": repo, "tag_prefix": "v"}
    assert doc["metadata"]["homepage"] == "https://www.terraform.io/docs/providers/github/"
    assert "unsupported_platforms" not in doc["metadata"]
    assert doc["steps"] == [
        {
            "action": "github_archive",
            "repo": repo,
            "asset_pattern": "terraform-provider-github_{version}_{os}_{arch}.zip",
            "archive_format": "zip",
            "strip_dirs": 0,
            "binaries": ["terraform-provider-github"],
            "checksum_asset": "terraform-provider-github_{version}_SHA256SUMS",
        }
    ]
    assert doc["verify"]["command"] == "terraform-provider-github --version"
    assert upstream.requests_to("releases\\?per_page") == ([] if latest else upstream.log[2:])


def test_licensed_amd64_only_gets_constraints(
    upstream: FakeUpstream, http: HttpClient, api_samples_dir: Path
) -> None:
    repo = "github/licensed"
    serve(upstream, repo, listing(api_samples_dir, repo), latest=True)
    built = generate(http, repo, "licensed")
    assert isinstance(built, BuiltRecipe)
    doc = valid(built)
    meta = doc["metadata"]
    assert meta["homepage"] == "https://github.com/github/licensed"  # empty upstream homepage
    assert meta["supported_arch"] == ["amd64"]
    assert "linux/arm64/glibc" in meta["unsupported_reason"]
    assert doc["version"] == {"github_repo": repo}  # tag "2.15.2" has no prefix
    assert [s["asset_pattern"] for s in doc["steps"]] == ["licensed-{version}-{os}-x64.tar.gz"]
    assert doc["steps"][0]["strip_dirs"] == 1  # hyphenated <name>-<version>-<target>


def test_sous_and_unusable_listings(
    upstream: FakeUpstream, http: HttpClient, api_samples_dir: Path
) -> None:
    for repo in ("opentable/sous", "TIBCOSoftware/jasperreports", "actions/checkout"):
        serve(upstream, repo, listing(api_samples_dir, repo), latest=False)
    sous = generate(http, "opentable/sous", "sous")
    assert isinstance(sous, BuiltRecipe)
    doc = valid(sous)
    assert doc["steps"][0]["asset_pattern"] == "sous-{os}-amd64_{version}.tar.gz"
    for repo in ("TIBCOSoftware/jasperreports", "actions/checkout"):
        failure = generate(http, repo, repo.split("/")[1].lower())
        assert isinstance(failure, BuildFailure)
        assert (failure.category, failure.subcategory) == ("generation_failed", "asset_not_found")


def test_no_release(upstream: FakeUpstream, http: HttpClient, api_samples_dir: Path) -> None:
    only_pre = copy.deepcopy(listing(api_samples_dir, "github/licensed"))
    for release in only_pre:
        release["prerelease"] = True
    only_pre[0]["draft"], only_pre[0]["prerelease"] = True, False
    serve(upstream, "o/pre", only_pre, latest=False)
    serve(upstream, "o/none", [], latest=False)
    for repo in ("o/pre", "o/none"):
        failure = generate(http, repo, repo.split("/")[1])
        assert isinstance(failure, BuildFailure)
        assert (failure.category, failure.subcategory) == ("recipe_not_found", "no_release")


def test_missing_repository_is_not_found(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.json("/repos/o/gone", {"message": "Not Found"}, status=404)
    with pytest.raises(NotFound) as caught:
        adapter.fetch(http, "o/gone")
    assert classify_fetch_error(caught.value) == ("recipe_not_found", "not_found")


@pytest.mark.parametrize("bad", ["../x", "o/r/extra", "o", "o/..", "-o/r", "o/r x", "o/r\n"])
def test_unsafe_identifiers_make_no_request(http: HttpClient, bad: str) -> None:
    with pytest.raises(UnsafeNameError):
        adapter.fetch(http, bad)


def test_curated_list_is_schema_checked_and_seedable() -> None:
    document = json.loads(adapter.CURATED_FILE.read_text())
    assert schemas.check(document, "github-tools", path="data/github-tools.json") == []
    assert "github" in seed_sources()
    names = [e["name"] for e in document["entries"]]
    assert names[:3] == ["act", "actionlint", "age"]
    popularity = adapter.popularity(None, RegistryLayout.at(Path(".")), 1000)  # type: ignore[arg-type]
    ids = [r.identifier for r in popularity.entries]
    assert len(ids) == len(set(ids)) and ids[0] == "nektos/act"
    assert popularity.entries[0].percentile == 100.0
    bad = copy.deepcopy(document)
    bad["entries"][0]["repo"] = "../evil"
    assert schemas.check(bad, "github-tools", path="x")


def test_lookup_uses_curated_executables(upstream: FakeUpstream, http: HttpClient) -> None:
    release = {
        "tag_name": "v0.1.0",
        "assets": [{"name": f"bottom_{a}-unknown-linux-gnu.tar.gz"} for a in ("x86_64", "aarch64")],
    }
    serve(upstream, "ClementTsang/bottom", [release], latest=True)
    found = adapter.lookup(http, "ClementTsang/bottom")
    assert found.executables == ("btm",) and found.version == "0.1.0"
    serve(upstream, "actions/checkout", [{"tag_name": "v2", "assets": []}], latest=True)
    assert adapter.lookup(http, "actions/checkout").executables == ()


def test_endpoint_override_and_token_header(upstream: FakeUpstream) -> None:
    serve(upstream, "o/tool", [{"tag_name": "v1.0", "assets": []}], latest=True)
    endpoints = dict(public_endpoints(), github=upstream.base)
    config = Config(endpoints=MappingProxyType(endpoints), retries=0)
    seen: list[str | None] = []

    with HttpClient(config, env={"GITHUB_TOKEN": "t0ken"}) as client:
        original = client.session.request

        def spy(method: str, url: str, **kw: Any) -> Any:
            seen.append(kw.get("headers", {}).get("Authorization"))
            return original(method, url, **kw)

        client.session.request = spy  # type: ignore[method-assign]
        adapter.fetch(client, "o/tool")
    assert seen and all(h == "Bearer t0ken" for h in seen)


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return out.getvalue()


def test_flat_zip_and_versioned_flat_tarball_get_zero(
    upstream: FakeUpstream, http_dl: HttpClient
) -> None:
    flat_zip = _zip([("tool", b"ELF"), ("README.md", b"#")])
    flat_tar = tar_gz([("tool", b"ELF"), ("README.md", b"#")])
    # a hyphenated <name>-<version>-<target> tarball reads as wrapped (1); this one is flat
    release_with(
        upstream,
        {
            "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz": flat_tar,
            "tool-1.0.0-aarch64-unknown-linux-gnu.tar.gz": flat_tar,
            "tool-1.0.0-x86_64-apple-darwin.zip": flat_zip,
            "tool-1.0.0-aarch64-apple-darwin.zip": flat_zip,
        },
    )
    steps = built_steps(http_dl)
    assert [(s["archive_format"], s["strip_dirs"], s["binaries"]) for s in steps] == [
        ("tar.gz", 0, ["tool"]),
        ("zip", 0, ["tool"]),
    ]


def test_binary_under_bin_keeps_its_path(upstream: FakeUpstream, http_dl: HttpClient) -> None:
    archive = tar_gz(
        [("tool-1.0.0/bin/tool", b"ELF"), ("tool-1.0.0/share/man/tool.1", b"man")],
        ("tool-1.0.0", "tool-1.0.0/bin"),
    )
    release_with(upstream, {f"tool-1.0.0-linux-{a}.tar.gz": archive for a in ("amd64", "arm64")})
    steps = built_steps(http_dl)
    assert [(s["strip_dirs"], s["binaries"]) for s in steps] == [(1, ["bin/tool"])]


def test_unlistable_archive_falls_back_to_the_naming_rule(
    upstream: FakeUpstream, http_dl: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation.ecosystems.github import archives as archive_listing

    monkeypatch.setattr(archive_listing, "MAX_UNCOMPRESSED", 64 * 1024)
    big = tar_gz([("tool-1.0.0/tool", random.Random(0).randbytes(200 * 1024))], ("tool-1.0.0",))
    release_with(upstream, {"tool_1.0.0_linux_amd64.tar.gz": big}, ("checksums.txt",))
    upstream.json("/o/tool/releases/download/v1.0.0/checksums.txt", {}, status=599)
    steps = built_steps(http_dl)
    assert [(s["strip_dirs"], s["binaries"]) for s in steps] == [(0, ["tool"])]  # flat-name
    assert upstream.requests_to("checksums") == []  # only chosen archives are read


def test_failed_download_falls_back(upstream: FakeUpstream, http_dl: HttpClient) -> None:
    serve(
        upstream,
        "o/tool",
        [{"tag_name": "v1.0.0", "assets": [{"name": "tool-1.0.0-linux-amd64.tar.gz"}]}],
        latest=True,
    )
    upstream.json("/o/tool/releases/download/v1.0.0/tool-1.0.0-linux-amd64.tar.gz", {}, status=404)
    assert [s["strip_dirs"] for s in built_steps(http_dl)] == [1]  # versioned-name


def test_no_downloads_when_only_the_api_is_redirected(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    """A stand-in (or GitHub Enterprise) API with public downloads would mix hosts: no reads."""
    assert not adapter.downloads_enabled(http.config)
    assert adapter.downloads_enabled(Config())
    release_with(upstream, {"tool_1.0.0_linux_amd64.tar.gz": tar_gz([("a/tool", b"x")])})
    assert [s["strip_dirs"] for s in built_steps(http)] == [0]
    assert upstream.requests_to("/releases/download/") == []


def test_download_url_quotes_tag_and_name() -> None:
    url = adapter.download_url(Config(), "o/tool", "tool/v1+2", "tool 1.tar.gz")
    assert url == "https://github.com/o/tool/releases/download/tool%2Fv1%2B2/tool%201.tar.gz"


NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    endpoints = dict(public_endpoints(), github=upstream.base)
    config = Config(endpoints=MappingProxyType(endpoints), retries=0, read_timeout=5)
    with HttpClient(config, env={}) as client:
        yield client


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    (tmp_path / "recipes").mkdir()
    return RegistryLayout.at(tmp_path)


def ranking(repos: list[str]) -> PopularityList:
    entries = tuple(Ranked(repo, 0, i + 1, 100.0 - i) for i, repo in enumerate(repos))
    return PopularityList("github", "curated", "test list", None, 100, entries)


def serve_release(upstream: FakeUpstream, repo: str, binary: str) -> None:
    upstream.json(f"/repos/{repo}", {"full_name": repo, "description": f"{binary} tool"})
    assets = [
        {"name": f"{binary}_1.2.3_{os}_{arch}.tar.gz", "size": 10}
        for os in ("linux", "darwin")
        for arch in ("amd64", "arm64")
    ]
    upstream.json(f"/repos/{repo}/releases/latest", {"tag_name": "v1.2.3", "assets": assets})


def test_curated_entries_carry_the_recipe_name() -> None:
    assert adapter.recipe_name("cli/cli") == "gh"
    assert adapter.recipe_name("smallstep/cli") == "step"
    assert adapter.recipe_name("kubernetes/kubernetes") == "kubectl"
    assert adapter.recipe_name("BurntSushi/ripgrep") == "ripgrep"  # the tool, not its binary rg
    assert adapter.recipe_name("burntsushi/RIPGREP") == "ripgrep"  # GitHub names ignore case
    # a repository listed twice takes the name of its first entry, as it takes its rank
    assert adapter.recipe_name("ahmetb/kubectx") == "kubectx"
    assert adapter.recipe_name("ClementTsang/bottom") == "bottom"


def test_unlisted_repositories_are_named_after_the_repository() -> None:
    assert adapter.recipe_name("someone/Some_Tool") == "some_tool"
    for bad in ("../evil", "cli", "a/b/c", "o/.."):
        with pytest.raises(UnsafeNameError):
            adapter.recipe_name(bad)


def test_seeding_queues_github_tools_under_their_curated_names(
    layout: RegistryLayout, upstream: FakeUpstream, http: HttpClient
) -> None:
    serve_release(upstream, "cli/cli", "gh")
    serve_release(upstream, "smallstep/cli", "step")
    serve_release(upstream, "someone/tool", "tool")
    popularity = ranking(["cli/cli", "smallstep/cli", "someone/tool"])
    report = seed(layout, "github", 3, http, NOW, popularity=popularity, tier1=frozenset())
    assert [(i.name, i.outcome) for i in report.items] == [
        ("gh", "accepted"),
        ("step", "accepted"),
        ("tool", "accepted"),
    ]
    queued = [(e.name, e.source) for e in load_queue(layout.queue).entries]
    assert queued == [
        ("gh", "github:cli/cli"),
        ("step", "github:smallstep/cli"),
        ("tool", "github:someone/tool"),
    ]


def test_an_existing_recipe_under_the_curated_name_is_skipped_without_a_request(
    layout: RegistryLayout, http: HttpClient
) -> None:
    path = layout.recipe_path("gh")
    path.parent.mkdir(parents=True)
    path.write_text('[metadata]\nname = "gh"\n', encoding="utf-8")
    report = seed(
        layout, "github", 1, http, NOW, popularity=ranking(["cli/cli"]), tier1=frozenset()
    )
    assert [(i.name, i.outcome) for i in report.items] == [("gh", "has_recipe")]
    assert report.requests == 0


def _reference_names_by_repo(reference_dir: Path) -> dict[str, set[str]]:
    """``owner/repo`` (lowercased) -> names of the reference recipes installing from it."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted((reference_dir / "recipes").glob("*/*.toml")):
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        repos = {
            step["repo"].lower()
            for step in document.get("steps", [])
            if step.get("action") in ("github_archive", "github_file")
            and isinstance(step.get("repo"), str)
        }
        github_repo = document.get("version", {}).get("github_repo")
        if isinstance(github_repo, str):
            repos.add(github_repo.lower())
        for repo in repos:
            out[repo].add(path.stem)
    return out


def test_seeded_names_match_the_reference_registry(reference_dir: Path) -> None:
    """Every curated repository the reference registry installs from is seeded under the
    reference's recipe name, or under a name the reference already has a recipe for (seeding
    then skips it as ``has_recipe`` instead of adding a second recipe for the same tool)."""
    by_repo = _reference_names_by_repo(reference_dir)
    existing = {p.stem for p in (reference_dir / "recipes").glob("*/*.toml")}
    entries = json.loads(adapter.CURATED_FILE.read_text(encoding="utf-8"))["entries"]
    repos = list(dict.fromkeys(entry["repo"] for entry in entries))
    compared = [repo for repo in repos if repo.lower() in by_repo]
    assert len(compared) >= 60
    wrong = {}
    for repo in compared:
        name = adapter.recipe_name(repo)
        if name not in by_repo[repo.lower()] and name not in existing:
            wrong[repo] = (name, sorted(by_repo[repo.lower()]))
    assert wrong == {}
    assert adapter.recipe_name("cli/cli") in by_repo["cli/cli"]
