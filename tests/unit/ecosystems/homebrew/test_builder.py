"""Homebrew bottle recipes: saved formula JSONs + minimal-shape GHCR documents on a local server,
bottle tarballs built here with tarfile."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from automation.core.http import HttpClient
from automation.core.layout import REPOSITORY_ROOT, RegistryLayout
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
from tests.support.fake_upstream import FakeUpstream
from tests.support.homebrew_fakes import (
    GHCR,
    HOMEBREW,
    bottle,
    formula_doc,
    keg,
    registry,
    ripgrep_bottles,
    serve,
    write_recipe,
)


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


def test_constraints_cover_exactly_the_bottled_glibc_points() -> None:
    fields = constraints_for(["linux/amd64", "darwin/arm64", "darwin/amd64"])
    doc = {"metadata": fields}
    assert supported(doc) == {"linux/amd64/glibc", "darwin/arm64", "darwin/amd64"}
    assert supported({"metadata": constraints_for(["darwin/arm64"])}) == {"darwin/arm64"}


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
    # Marked generated as tsuku marks its own: right after type, before the constraints.
    keys = list(doc["metadata"])
    assert keys[: keys.index("llm_validation") + 1] == [
        "name",
        "description",
        "homepage",
        "type",
        "llm_validation",
    ]
    assert doc["metadata"]["llm_validation"] == "skipped"
    assert "unsupported_platforms" in keys[keys.index("llm_validation") :]
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


def test_dependencies_resolve_through_mapping_and_satisfies(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    mapping = REPOSITORY_ROOT / "data" / "dep-mapping.json"
    (tmp_path / "data" / "dep-mapping.json").write_text(mapping.read_text())
    write_recipe(tmp_path, "sqlite")  # sqlite3 -> sqlite through data/dep-mapping.json
    write_recipe(tmp_path, "openssl", '\n[metadata.satisfies]\nhomebrew = ["openssl@3"]')
    write_recipe(tmp_path, "pcre2")
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
