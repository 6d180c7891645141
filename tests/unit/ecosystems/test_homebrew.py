"""Homebrew adapter: saved formula JSONs + minimal-shape GHCR documents on a local server,
bottle tarballs built here with tarfile."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import random
import tarfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.http import HttpClient
from automation.core.layout import REPOSITORY_ROOT, RegistryLayout
from automation.ecosystems import adapters, seed_sources
from automation.ecosystems.homebrew import adapter, ghcr
from automation.ecosystems.homebrew import client as source
from automation.ecosystems.homebrew.builder import (
    HomebrewFacts,
    NotedRecipe,
    RegistryView,
    build_homebrew,
    constraints_for,
)
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.recipes import PlatformConstraints, check_recipe_text
from tests.support.fake_upstream import FIXTURES, FakeUpstream, Reply

HOMEBREW = FIXTURES / "homebrew"
GHCR = FIXTURES / "ghcr"
Member = tuple[str, str, str]  # (name, kind: file|exe|dir|sym|hard, link target)


def formula_doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((HOMEBREW / f"{name}.json").read_text())
    return result


def bottle(members: list[Member]) -> bytes:
    """A gzipped tarball with the members in the order given."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            data = b""
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, target
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, target
            else:
                data = b"\x7fELF" if kind == "exe" else b"text"
                info.mode = 0o755 if kind == "exe" else 0o644
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


def keg(formula: str, version: str, *paths: str) -> list[Member]:
    base = f"{formula}/{version}"
    members: list[Member] = [(base, "dir", ""), (f"{base}/bin", "dir", "")]
    for path in paths:
        kind = "exe" if path.startswith("bin/") else "file"
        members.append((f"{base}/{path}", kind, ""))
    members.append((f"{base}/INSTALL_RECEIPT.json", "file", ""))
    return members


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    endpoints = dict(public_endpoints())
    endpoints["homebrew"] = upstream.base
    endpoints["ghcr"] = upstream.base
    config = Config(
        endpoints=MappingProxyType(endpoints), backoff_factor=0.01, retries=1, read_timeout=5
    )
    with HttpClient(config, env={}) as client:
        yield client


def registry(*names: str, mapping: dict[str, str] | None = None) -> RegistryView:
    return RegistryView.build(((n, (n,)) for n in names), mapping or {})


def serve(
    upstream: FakeUpstream,
    document: dict[str, Any],
    blobs: dict[str, bytes],
    *,
    index_tags: list[str] | None = None,
    served: dict[str, bytes] | None = None,
) -> None:
    """The formula JSON (sha256 per tag = the built tarball's), token, index and blobs.

    ``blobs`` maps bottle tag -> tarball; ``served`` overrides the bytes served for a tag.
    """
    document = copy.deepcopy(document)
    name, version = document["name"], document["versions"]["stable"]
    files = document["bottle"]["stable"]["files"]
    digests = {}
    for tag, data in blobs.items():
        digest = hashlib.sha256(data).hexdigest()
        files.setdefault(tag, {"cellar": ":any", "url": "", "sha256": ""})["sha256"] = digest
        digests[tag] = digest
    upstream.json(f"/api/formula/{name}.json", document)
    image = ghcr.image_name(name)
    token = json.loads((GHCR / "minimal-shape-token.json").read_text())
    upstream.json(f"/token?service=ghcr.io&scope=repository:{image}:pull", token)
    template = json.loads((GHCR / "minimal-shape-index.json").read_text())
    entry = template["manifests"][0]
    manifests = []
    for tag in index_tags if index_tags is not None else list(blobs):
        item = copy.deepcopy(entry)
        item["annotations"][ghcr.REF_NAME] = f"{source.parse_formula(document).pkg_version}.{tag}"
        item["annotations"][ghcr.BOTTLE_DIGEST] = digests[tag]
        manifests.append(item)
    index = {**template, "manifests": manifests}
    rebuild = document["bottle"]["stable"].get("rebuild", 0)
    tag_path = ghcr.manifest_tag(source.parse_formula(document).pkg_version, rebuild)
    body = json.dumps(index).encode()

    def manifest(request: Any) -> Reply:
        # ghcr.io answers 401 without the bearer token and 404 without the index media type.
        if request.headers.get("Authorization") != f"Bearer {token['token']}":
            return Reply(401, b"{}")
        if ghcr.INDEX_MEDIA_TYPE not in (request.headers.get("Accept") or ""):
            return Reply(404, b"{}")
        return Reply(200, body, {"Content-Type": ghcr.INDEX_MEDIA_TYPE})

    upstream.handler(f"/v2/{image}/manifests/{tag_path}", manifest)
    for tag, data in blobs.items():
        sent = (served or {}).get(tag, data)
        upstream.blob(f"/v2/{image}/blobs/sha256:{digests[tag]}", sent)
    del version


def ripgrep_bottles(shuffle: int | None = None) -> dict[str, bytes]:
    out = {}
    for tag in ("x86_64_linux", "arm64_ventura", "monterey"):
        # Each platform's bottle differs (a bottle shared by several tags is read once).
        members = keg("ripgrep", "13.0.0", "bin/rg", "share/man/man1/rg.1", f"share/{tag}")
        if shuffle is not None:
            random.Random(shuffle).shuffle(members)
        out[tag] = bottle(members)
    return out


def toml(result: BuiltRecipe | BuildFailure) -> dict[str, Any]:
    assert isinstance(result, BuiltRecipe), result
    problems = check_recipe_text(result.text, rel=f"recipes/{result.name[0]}/{result.name}.toml")
    assert [p for p in problems if p.severity == "error"] == []
    return tomllib.loads(result.text)


def supported(doc: dict[str, Any]) -> frozenset[str]:
    meta = doc["metadata"]
    return PlatformConstraints(
        supported_os=tuple(meta["supported_os"]) if "supported_os" in meta else None,
        supported_arch=tuple(meta["supported_arch"]) if "supported_arch" in meta else None,
        supported_libc=tuple(meta["supported_libc"]) if "supported_libc" in meta else None,
        unsupported_platforms=tuple(meta.get("unsupported_platforms", ())),
    ).supported_platforms()


# ------------------------------------------------------------ pure parts


def test_formula_documents_of_several_eras() -> None:
    rg = source.parse_formula(formula_doc("ripgrep"))
    assert (rg.name, rg.version, rg.pkg_version, rg.rebuild) == ("ripgrep", "13.0.0", "13.0.0", 0)
    assert rg.dependencies == ("pcre2",) and rg.has_bottles and not rg.disabled
    assert "x86_64_linux" in rg.bottles and len(rg.bottles["monterey"].sha256) == 64
    jq = source.parse_formula(formula_doc("jq"))
    assert jq.rebuild == 1 and ghcr.manifest_tag(jq.pkg_version, jq.rebuild) == "1.6-1"
    assert ghcr.ref_names("1.6", 0, 1, "monterey") == ("1.6.monterey.1",)
    assert ghcr.ref_names("6.2.1", 1, 0, "x86_64_linux") == (
        "6.2.1_1.x86_64_linux",
        "6.2.1.x86_64_linux",
    )
    old = source.parse_formula(formula_doc("zstd"))  # has the legacy bottle_disabled key
    assert old.has_bottles and old.version == "1.5.2"
    assert source.parse_formula(formula_doc("postgresql@9.5")).disabled
    es = source.parse_formula(formula_doc("elasticsearch"))
    assert not es.has_bottles and es.bottles == {}
    assert ghcr.image_name("openssl@3") == "homebrew/core/openssl/3"


def test_platform_tags_are_decided_from_the_tags_present() -> None:
    rg = source.parse_formula(formula_doc("ripgrep"))
    assert source.select_platform_tags(rg.bottles) == {
        "linux/amd64": "x86_64_linux",
        "darwin/arm64": "arm64_ventura",
        "darwin/amd64": "monterey",
    }
    tags = {"arm64_linux", "arm64_sonoma", "arm64_sequoia", "sonoma", "ventura", "weird_os"}
    assert source.select_platform_tags(tags) == {
        "linux/arm64": "arm64_linux",
        "darwin/arm64": "arm64_sequoia",
        "darwin/amd64": "sonoma",
    }
    assert set(source.select_platform_tags({"all"}).values()) == {"all"}
    assert source.select_platform_tags({"mojave_or_so"}) == {}


def test_names_are_checked_before_any_request() -> None:
    with pytest.raises(source.TapNameError):
        source.formula_path("hashicorp/tap/terraform")
    for bad in ("..x", "Ripgrep", "", "a b", "a..b", "-x"):
        with pytest.raises(Exception, match="invalid"):
            source.formula_path(bad)
    assert source.formula_path("openssl@3") == "/api/formula/openssl@3.json"


def test_constraints_cover_exactly_the_bottled_glibc_points() -> None:
    fields = constraints_for(["linux/amd64", "darwin/arm64", "darwin/amd64"])
    doc = {"metadata": fields}
    assert supported(doc) == {"linux/amd64/glibc", "darwin/arm64", "darwin/amd64"}
    assert supported({"metadata": constraints_for(["darwin/arm64"])}) == {"darwin/arm64"}


# ------------------------------------------------------------ tool bottles


def test_tool_bottle_ripgrep(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, formula_doc("ripgrep"), ripgrep_bottles())
    facts = adapter.inspect_formula(http, "ripgrep", registry("pcre2"))
    result = build_homebrew("ripgrep", facts)
    doc = toml(result)
    assert doc["steps"] == [
        {"action": "homebrew", "formula": "ripgrep"},
        {"action": "install_binaries", "binaries": ["bin/rg"]},
    ]
    assert doc["verify"] == {"command": "rg --version", "pattern": ""}
    assert doc["metadata"]["runtime_dependencies"] == ["pcre2"]
    assert "type" not in doc["metadata"] and "version" not in doc
    assert supported(doc) == {"linux/amd64/glibc", "darwin/arm64", "darwin/amd64"}
    assert "linux/arm64" in doc["metadata"]["unsupported_reason"]
    assert isinstance(result, NotedRecipe) and result.executables == ("rg",)
    assert any("linux/arm64" in note for note in result.notes)
    # 1 formula + 1 token + 1 index + 3 blobs; the ghcr requests carry the token.
    assert len(upstream.log) == 6


def test_tool_binaries_differing_per_platform_get_when_clauses(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    blobs = {
        "x86_64_linux": bottle(keg("jq", "1.6", "bin/jq")),
        "arm64_monterey": bottle(keg("jq", "1.6", "bin/jq", "bin/jq-mac")),
        "monterey": bottle(keg("jq", "1.6", "bin/jq", "bin/jq-mac")),
    }
    rebuilt = formula_doc("jq")
    rebuilt["bottle"]["stable"]["rebuild"] = 0  # the rebuild naming has its own test
    serve(upstream, rebuilt, blobs)
    doc = toml(build_homebrew("jq", adapter.inspect_formula(http, "jq", registry("oniguruma"))))
    assert doc["steps"] == [
        {"action": "homebrew", "formula": "jq", "when": {"os": ["linux"], "libc": ["glibc"]}},
        {
            "action": "install_binaries",
            "binaries": ["bin/jq"],
            "when": {"os": ["linux"], "libc": ["glibc"]},
        },
        {"action": "homebrew", "formula": "jq", "when": {"os": ["darwin"]}},
        {
            "action": "install_binaries",
            "binaries": ["bin/jq", "bin/jq-mac"],
            "when": {"os": ["darwin"]},
        },
    ]
    assert doc["verify"]["command"] == "jq --version"


def test_rebuilt_bottles_use_the_rebuild_tag_and_ref_names(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    document = formula_doc("jq")
    data = bottle(keg("jq", "1.6", "bin/jq"))
    serve(upstream, document, {"x86_64_linux": data}, index_tags=[])
    image = ghcr.image_name("jq")
    digest = hashlib.sha256(data).hexdigest()
    template = json.loads((GHCR / "minimal-shape-index.json").read_text())
    entry = copy.deepcopy(template["manifests"][0])
    entry["annotations"].update({ghcr.REF_NAME: "1.6.x86_64_linux.1", ghcr.BOTTLE_DIGEST: digest})
    upstream.json(f"/v2/{image}/manifests/1.6-1", {**template, "manifests": [entry]})
    facts = adapter.inspect_formula(http, "jq", registry("oniguruma"))
    assert isinstance(facts, HomebrewFacts)
    assert [(b.platform, b.tag) for b in facts.bottles] == [("linux/amd64", "x86_64_linux")]


def test_determinism_member_order_does_not_matter(upstream: FakeUpstream, http: HttpClient) -> None:
    texts = set()
    for seed in (1, 2, 3):
        upstream.routes.clear()
        upstream.blobs.clear()
        serve(upstream, formula_doc("ripgrep"), ripgrep_bottles(shuffle=seed))
        result = build_homebrew(
            "ripgrep", adapter.inspect_formula(http, "ripgrep", registry("pcre2"))
        )
        assert isinstance(result, BuiltRecipe)
        texts.add(result.text)
    assert len(texts) == 1


# ------------------------------------------------------------ library bottles


def test_library_bottle(upstream: FakeUpstream, http: HttpClient) -> None:
    linux = keg(
        "libpng",
        "1.6.38",
        "lib/libpng16.so.16.38.0",
        "lib/libpng16.a",
        "lib/pkgconfig/libpng16.pc",
        "include/libpng16/png.h",
        "share/man/man5/png.5",
        "lib/cmake/libpng/libpng16.cmake",
    )
    linux.append(("libpng/1.6.38/lib/libpng.so", "sym", "libpng16.so.16.38.0"))
    mac = keg(
        "libpng",
        "1.6.38",
        "lib/libpng16.16.dylib",
        "lib/libpng16.a",
        "lib/pkgconfig/libpng16.pc",
        "include/libpng16/png.h",
    )
    blobs = {"x86_64_linux": bottle(linux), "arm64_monterey": bottle(mac), "monterey": bottle(mac)}
    serve(upstream, formula_doc("libpng"), blobs)
    result = build_homebrew("libpng", adapter.inspect_formula(http, "libpng", registry()))
    doc = toml(result)
    assert doc["metadata"]["type"] == "library"
    assert doc["version"] == {"source": "homebrew", "formula": "libpng"}
    assert "verify" not in doc
    linux_when = {"os": ["linux"], "libc": ["glibc"]}
    assert doc["steps"] == [
        {"action": "homebrew", "formula": "libpng", "when": linux_when},
        {
            "action": "install_binaries",
            "install_mode": "directory",
            "outputs": [
                "lib/libpng.so",
                "lib/libpng16.a",
                "lib/libpng16.so.16.38.0",
                "lib/pkgconfig/libpng16.pc",
                "include/libpng16/png.h",
            ],
            "when": linux_when,
        },
        {"action": "homebrew", "formula": "libpng", "when": {"os": ["darwin"]}},
        {
            "action": "install_binaries",
            "install_mode": "directory",
            "outputs": [
                "lib/libpng16.16.dylib",
                "lib/libpng16.a",
                "lib/pkgconfig/libpng16.pc",
                "include/libpng16/png.h",
            ],
            "when": {"os": ["darwin"]},
        },
    ]
    assert isinstance(result, BuiltRecipe) and result.executables == ()


def test_no_binaries_no_libraries(upstream: FakeUpstream, http: HttpClient) -> None:
    blobs = {"x86_64_linux": bottle(keg("zstd", "1.5.2", "share/doc/README"))}
    serve(upstream, formula_doc("zstd"), blobs)
    result = build_homebrew("zstd", adapter.inspect_formula(http, "zstd", registry()))
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "no_binaries")


# ------------------------------------------------------------ refusals before downloads


def test_disabled_formula(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.file("/api/formula/postgresql@9.5.json", HOMEBREW / "postgresql@9.5.json")
    result = build_homebrew(
        "postgresql-9.5", adapter.inspect_formula(http, "postgresql@9.5", registry())
    )
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "disabled")
    assert "unsupported" in result.message and result.version == "9.5.25"
    assert [p for _, p, _ in upstream.log] == ["/api/formula/postgresql@9.5.json"]


def test_formula_without_bottles(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.file("/api/formula/elasticsearch.json", HOMEBREW / "elasticsearch.json")
    result = build_homebrew(
        "elasticsearch", adapter.inspect_formula(http, "elasticsearch", registry())
    )
    assert isinstance(result, BuildFailure) and result.subcategory == "no_bottles"
    assert len(upstream.log) == 1


def test_tap_name_fails_before_any_request(upstream: FakeUpstream, http: HttpClient) -> None:
    result = build_homebrew("terraform", adapter.fetch(http, "hashicorp/tap/terraform"))
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "tap_name")
    assert upstream.log == []


# ------------------------------------------------------------ dependencies


def test_missing_dependency_blocks_without_downloading(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    upstream.file("/api/formula/ripgrep.json", HOMEBREW / "ripgrep.json")
    result = build_homebrew("ripgrep", adapter.inspect_formula(http, "ripgrep", registry()))
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("missing_dep", "missing_dependency")
    assert result.blocked_by == ("pcre2",)
    assert "recipe pcre2 not found in registry" in result.message
    assert len(upstream.log) == 1  # the formula JSON only


def _write_recipe(root: Path, name: str, extra: str = "") -> None:
    path = root / "recipes" / name[0] / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[metadata]\nname = "{name}"\ndescription = "x"\nhomepage = "https://example.org"\n'
        f"{extra}\n"
        f'[[steps]]\naction = "homebrew"\nformula = "{name}"\n\n'
        f'[verify]\ncommand = "{name} --version"\n'
    )


def test_dependencies_resolve_through_mapping_and_satisfies(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    mapping = REPOSITORY_ROOT / "data" / "dep-mapping.json"
    (tmp_path / "data" / "dep-mapping.json").write_text(mapping.read_text())
    _write_recipe(tmp_path, "sqlite")  # sqlite3 -> sqlite through data/dep-mapping.json
    _write_recipe(tmp_path, "openssl", '\n[metadata.satisfies]\nhomebrew = ["openssl@3"]')
    _write_recipe(tmp_path, "pcre2")
    view = adapter.load_registry_view(RegistryLayout.at(tmp_path))
    document = formula_doc("ripgrep")
    document["dependencies"] = ["pcre2", "sqlite3", "openssl@3"]
    serve(upstream, document, ripgrep_bottles())
    doc = toml(build_homebrew("ripgrep", adapter.inspect_formula(http, "ripgrep", view)))
    assert doc["metadata"]["runtime_dependencies"] == ["openssl", "pcre2", "sqlite"]
    # Without the recipes: blocked on the recipe names the registry needs.
    empty = RegistryView.build((), {"sqlite3": "sqlite"})
    facts = HomebrewFacts(source.parse_formula(document), empty, (), (), inspected=False)
    blocked = build_homebrew("ripgrep", facts)
    assert isinstance(blocked, BuildFailure)
    assert blocked.blocked_by == ("openssl@3", "pcre2", "sqlite")


def test_default_fetch_reads_the_registry_in_the_working_directory(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_recipe(tmp_path, "pcre2")
    monkeypatch.chdir(tmp_path)
    serve(upstream, formula_doc("ripgrep"), ripgrep_bottles())
    result = adapters()["homebrew"].build("ripgrep", adapters()["homebrew"].fetch(http, "ripgrep"))
    assert isinstance(result, BuiltRecipe)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipes"]  # nothing written


# ------------------------------------------------------------ hostile and broken bottles


def test_hostile_members_are_ignored_and_nothing_is_written(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = "ripgrep/13.0.0"
    members = [
        *keg("ripgrep", "13.0.0", "bin/rg"),
        ("/etc/passwd", "file", ""),
        (f"{base}/bin/../../../../etc/cron.d/evil", "exe", ""),
        ("../outside", "exe", ""),
        (f"{base}/bin/passwd", "sym", "/etc/passwd"),
        (f"{base}/bin/up", "sym", "../../../../etc/shadow"),
        (f"{base}/bin/hard", "hard", "/etc/passwd"),
        (f"{base}/bin/rg-link", "sym", "rg"),
        (f"{base}/bin/not-exec", "file", ""),
        (f"{base}/bin/bad name", "exe", ""),
        ("other/1.0/bin/x", "exe", ""),
    ]
    data = bottle(members)
    serve(upstream, formula_doc("ripgrep"), {"x86_64_linux": data})
    facts = adapter.inspect_formula(http, "ripgrep", registry("pcre2"))
    assert isinstance(facts, HomebrewFacts)
    listing = facts.bottles[0].listing
    assert listing.binaries == ("bin/rg", "bin/rg-link")
    assert len(listing.ignored) == 9
    result = build_homebrew("ripgrep", facts)
    assert isinstance(result, NotedRecipe) and any("ignored" in n for n in result.notes)
    assert toml(result)["steps"][1]["binaries"] == ["bin/rg", "bin/rg-link"]
    assert list(tmp_path.iterdir()) == []


def test_too_many_members_is_a_clear_failure(
    upstream: FakeUpstream, http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ghcr, "MAX_MEMBERS", 50)
    members = keg("ripgrep", "13.0.0", "bin/rg") + [
        (f"ripgrep/13.0.0/share/f{i}", "file", "") for i in range(60)
    ]
    serve(upstream, formula_doc("ripgrep"), {"x86_64_linux": bottle(members)})
    result = build_homebrew("ripgrep", adapter.inspect_formula(http, "ripgrep", registry("pcre2")))
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "unsafe_bottle")
    assert "more than 50 members" in result.message


def test_not_a_tarball(upstream: FakeUpstream, http: HttpClient) -> None:
    serve(upstream, formula_doc("ripgrep"), {"x86_64_linux": b"\x1f\x8b garbage"})
    result = build_homebrew("ripgrep", adapter.inspect_formula(http, "ripgrep", registry("pcre2")))
    assert isinstance(result, BuildFailure) and result.subcategory == "bad_bottle"


def test_sha256_mismatch(upstream: FakeUpstream, http: HttpClient) -> None:
    good = bottle(keg("ripgrep", "13.0.0", "bin/rg"))
    evil = bottle(keg("ripgrep", "13.0.0", "bin/rg", "bin/backdoor"))
    serve(upstream, formula_doc("ripgrep"), {"x86_64_linux": good}, served={"x86_64_linux": evil})
    result = build_homebrew("ripgrep", adapter.inspect_formula(http, "ripgrep", registry("pcre2")))
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "checksum_mismatch")


def test_platform_missing_from_the_index_is_left_out(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    serve(upstream, formula_doc("ripgrep"), ripgrep_bottles(), index_tags=["x86_64_linux"])
    facts = adapter.inspect_formula(http, "ripgrep", registry("pcre2"))
    assert isinstance(facts, HomebrewFacts)
    assert {m.platform for m in facts.missing} == {"darwin/arm64", "darwin/amd64", "linux/arm64"}
    doc = toml(build_homebrew("ripgrep", facts))
    assert supported(doc) == {"linux/amd64/glibc"}
    assert len(upstream.requests_to("/blobs/")) == 1


# ------------------------------------------------------------ seeding


def test_popularity_from_install_on_request_analytics(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    upstream.file(source.ANALYTICS_PATH, HOMEBREW / "analytics-install-on-request-30d.json")
    ranked = adapter.popularity(http, RegistryLayout.at(tmp_path), 100)
    assert ranked.ecosystem == "homebrew" and ranked.population == 12818
    assert ranked.as_of == "2021-07-10"
    first = ranked.entries[0]
    assert (first.identifier, first.downloads, first.rank) == ("node", 281421, 1)
    names = {r.identifier for r in ranked.entries}
    assert "heroku/brew/heroku" not in names and "neovim --HEAD" not in names
    assert all("/" not in n and " " not in n for n in names)
    assert any("tap name" in note for note in ranked.notes)
    assert any("option variant" in note for note in ranked.notes)
    assert "homebrew" in seed_sources()


def test_lookup_accepts_only_bottled_enabled_formulae(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    for name in ("ripgrep", "postgresql@9.5", "elasticsearch"):
        upstream.file(f"/api/formula/{name}.json", HOMEBREW / f"{name}.json")
    assert adapter.lookup(http, "ripgrep").executables == ("?",)
    assert adapter.lookup(http, "ripgrep").version == "13.0.0"
    assert adapter.lookup(http, "postgresql@9.5").executables == ()
    assert adapter.lookup(http, "elasticsearch").executables == ()
    with pytest.raises(source.TapNameError):
        adapter.lookup(http, "hashicorp/tap/terraform")
    assert len(upstream.log) == 4


def test_the_registry_checked_is_the_runs_root_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`invoke generate --root R` from another directory checks dependencies against R."""
    from automation.core.config import load_config
    from automation.ecosystems.homebrew.adapter import registry_root_for

    registry = tmp_path / "registry"
    registry.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with HttpClient(load_config(registry, env={}), env={}) as client:
        assert registry_root_for(client) == registry
    with HttpClient(load_config(None, env={}), env={}) as client:
        assert registry_root_for(client) == elsewhere
