"""Homebrew client: formula documents of several eras, platform tags, names checked first."""

from __future__ import annotations

import pytest

from automation.ecosystems.homebrew import client as source
from automation.ecosystems.homebrew import ghcr
from tests.support.homebrew_fakes import formula_doc


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
