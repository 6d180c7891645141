"""GitHub adapter end to end over a local server: saved real release listings, failure codes,
determinism, hostile data, and the curated seeding list."""

from __future__ import annotations

import copy
import io
import json
import random
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from automation.core import schemas
from automation.core.config import Config, load_config, public_endpoints
from automation.core.errors import UnsafeNameError
from automation.core.http import HttpClient, NotFound
from automation.core.layout import RegistryLayout
from automation.ecosystems import adapter_for, seed_sources
from automation.ecosystems.github import adapter
from automation.ecosystems.github import client as source
from automation.ecosystems.github.builder import GithubFacts, build_github
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.recipes import check_recipe_text
from automation.stages.generate import classify_fetch_error
from tests.support.fake_upstream import FIXTURES, FakeUpstream

REPOS = json.loads((FIXTURES / "github" / "repos.json").read_text())
SAVED = {
    "integrations/terraform-provider-github": "integrations__terraform-provider-github",
    "github/licensed": "github__licensed",
    "opentable/sous": "opentable__sous",
    "TIBCOSoftware/jasperreports": "TIBCOSoftware__jasperreports",
    "actions/checkout": "actions__checkout",
}


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    config = load_config(env={"AUTOMATION_ENDPOINT_GITHUB": upstream.base})
    fast = Config(
        endpoints=config.endpoints,
        rate_limits=MappingProxyType({"github": 1000.0}),
        retries=0,
        read_timeout=5,
    )
    with HttpClient(fast, env={}) as client:
        yield client


def listing(api_samples_dir: Path, repo: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(
        (api_samples_dir / "github" / f"{SAVED[repo]}.releases.json").read_text()
    )
    return data


def serve(
    upstream: FakeUpstream, repo: str, releases: list[dict[str, Any]], *, latest: bool
) -> None:
    """The repository document, and the release either at /latest or only in the list."""
    upstream.json(f"/repos/{repo}", REPOS.get(repo, {"full_name": repo, "description": ""}))
    if latest:
        stable = [r for r in releases if not r.get("draft") and not r.get("prerelease")]
        newest = max(stable, key=lambda r: r.get("published_at") or "")
        upstream.json(f"/repos/{repo}/releases/latest", newest)
    else:
        upstream.json(f"/repos/{repo}/releases/latest", {"message": "Not Found"}, status=404)
        upstream.json(f"/repos/{repo}/releases?per_page=100", releases)


def generate(http: HttpClient, repo: str, name: str) -> BuiltRecipe | BuildFailure:
    github = adapter_for("github")
    return github.build(name, github.fetch(http, repo))


def valid(built: BuiltRecipe) -> dict[str, Any]:
    problems = check_recipe_text(built.text, rel=f"recipes/{built.name[0]}/{built.name}.toml")
    assert [p for p in problems if p.severity == "error"] == []
    return tomllib.loads(built.text)


# ------------------------------------------------------------ saved listings


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


# ------------------------------------------------------------ failure codes


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


# ------------------------------------------------------------ determinism and hostile data


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


def test_hostile_tag_is_refused() -> None:
    for tag in ('v1"\n', "../v1", "", "x" * 500):
        with pytest.raises(Exception) as caught:
            source.parse_release({"tag_name": tag, "assets": []})
        assert classify_fetch_error(caught.value) == ("generation_failed", "bad_response")


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


# ------------------------------------------------------------ seeding data


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


# ------------------------------------------------------------ archive listings


@pytest.fixture
def http_dl(upstream: FakeUpstream) -> Iterator[HttpClient]:
    """API and release downloads both on the local server."""
    endpoints = dict(public_endpoints(), github=upstream.base, githubdownload=upstream.base)
    fast = Config(
        endpoints=MappingProxyType(endpoints),
        rate_limits=MappingProxyType({"github": 1000.0, "githubdownload": 1000.0}),
        retries=0,
        read_timeout=5,
    )
    with HttpClient(fast, env={}) as client:
        yield client


def _tar_gz(files: list[tuple[str, bytes]], dirs: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return out.getvalue()


def _release_with(
    upstream: FakeUpstream, archives: dict[str, bytes], extra: tuple[str, ...] = ()
) -> None:
    assets = [{"name": n, "size": len(d)} for n, d in archives.items()]
    assets += [{"name": n, "size": 1} for n in extra]
    serve(upstream, "o/tool", [{"tag_name": "v1.0.0", "assets": assets}], latest=True)
    for name, data in archives.items():
        upstream.blob(f"/o/tool/releases/download/v1.0.0/{name}", data)


def _steps(http: HttpClient) -> list[dict[str, Any]]:
    built = generate(http, "o/tool", "tool")
    assert isinstance(built, BuiltRecipe)
    steps: list[dict[str, Any]] = valid(built)["steps"]
    return steps


def test_listing_finds_a_wrapping_directory_the_name_hides(
    upstream: FakeUpstream, http_dl: HttpClient
) -> None:
    """GoReleaser-style names read as flat (0); this archive wraps its files, so 1."""
    wrapped = _tar_gz(
        [("tool-1.0.0/tool", b"ELF"), ("tool-1.0.0/LICENSE", b"MIT")], ("tool-1.0.0",)
    )
    names = [
        f"tool_1.0.0_{os}_{arch}.tar.gz"
        for os in ("linux", "darwin")
        for arch in ("amd64", "arm64")
    ]
    _release_with(upstream, dict.fromkeys(names, wrapped))
    steps = _steps(http_dl)
    assert [(s["strip_dirs"], s["binaries"]) for s in steps] == [(1, ["tool"])]
    downloads = upstream.requests_to("/releases/download/")
    assert sorted(path.rsplit("/", 1)[-1] for _, path, _ in downloads) == sorted(names)
    assert all(rng is not None and rng.startswith("bytes=") for _, _, rng in downloads)
    plain = build_github("tool", adapter._fetch_release(http_dl, "o/tool"))
    assert isinstance(plain, BuiltRecipe)
    assert [s["strip_dirs"] for s in valid(plain)["steps"]] == [0]  # the naming rule alone


def test_flat_zip_and_versioned_flat_tarball_get_zero(
    upstream: FakeUpstream, http_dl: HttpClient
) -> None:
    flat_zip = _zip([("tool", b"ELF"), ("README.md", b"#")])
    flat_tar = _tar_gz([("tool", b"ELF"), ("README.md", b"#")])
    # a hyphenated <name>-<version>-<target> tarball reads as wrapped (1); this one is flat
    _release_with(
        upstream,
        {
            "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz": flat_tar,
            "tool-1.0.0-aarch64-unknown-linux-gnu.tar.gz": flat_tar,
            "tool-1.0.0-x86_64-apple-darwin.zip": flat_zip,
            "tool-1.0.0-aarch64-apple-darwin.zip": flat_zip,
        },
    )
    steps = _steps(http_dl)
    assert [(s["archive_format"], s["strip_dirs"], s["binaries"]) for s in steps] == [
        ("tar.gz", 0, ["tool"]),
        ("zip", 0, ["tool"]),
    ]


def test_binary_under_bin_keeps_its_path(upstream: FakeUpstream, http_dl: HttpClient) -> None:
    archive = _tar_gz(
        [("tool-1.0.0/bin/tool", b"ELF"), ("tool-1.0.0/share/man/tool.1", b"man")],
        ("tool-1.0.0", "tool-1.0.0/bin"),
    )
    _release_with(upstream, {f"tool-1.0.0-linux-{a}.tar.gz": archive for a in ("amd64", "arm64")})
    steps = _steps(http_dl)
    assert [(s["strip_dirs"], s["binaries"]) for s in steps] == [(1, ["bin/tool"])]


def test_unlistable_archive_falls_back_to_the_naming_rule(
    upstream: FakeUpstream, http_dl: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation.ecosystems.github import archives as archive_listing

    monkeypatch.setattr(archive_listing, "MAX_UNCOMPRESSED", 64 * 1024)
    big = _tar_gz([("tool-1.0.0/tool", random.Random(0).randbytes(200 * 1024))], ("tool-1.0.0",))
    _release_with(upstream, {"tool_1.0.0_linux_amd64.tar.gz": big}, ("checksums.txt",))
    upstream.json("/o/tool/releases/download/v1.0.0/checksums.txt", {}, status=599)
    steps = _steps(http_dl)
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
    assert [s["strip_dirs"] for s in _steps(http_dl)] == [1]  # versioned-name


def test_no_downloads_when_only_the_api_is_redirected(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    """A stand-in (or GitHub Enterprise) API with public downloads would mix hosts: no reads."""
    assert not adapter.downloads_enabled(http.config)
    assert adapter.downloads_enabled(Config())
    _release_with(upstream, {"tool_1.0.0_linux_amd64.tar.gz": _tar_gz([("a/tool", b"x")])})
    assert [s["strip_dirs"] for s in _steps(http)] == [0]
    assert upstream.requests_to("/releases/download/") == []


def test_download_url_quotes_tag_and_name() -> None:
    url = adapter.download_url(Config(), "o/tool", "tool/v1+2", "tool 1.tar.gz")
    assert url == "https://github.com/o/tool/releases/download/tool%2Fv1%2B2/tool%201.tar.gz"
