"""Cask adapter: saved old-schema cask JSONs (and current-schema documents built here) served
from a local server -> ``app_bundle`` recipes or specific failures."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import adapters, seed_sources
from automation.ecosystems.cask import adapter
from automation.ecosystems.cask import client as source
from automation.ecosystems.cask.builder import build_cask
from automation.ecosystems.homebrew.client import TapNameError
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.recipes import check_recipe_text
from tests.support.fake_upstream import FIXTURES, FakeUpstream

CASK = FIXTURES / "cask"


def cask_doc(token: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((CASK / f"{token}.json").read_text())
    return result


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    endpoints = dict(public_endpoints())
    endpoints["homebrew"] = upstream.base
    config = Config(
        endpoints=MappingProxyType(endpoints), backoff_factor=0.01, retries=1, read_timeout=5
    )
    with HttpClient(config, env={}) as client:
        yield client


def build(
    upstream: FakeUpstream, http: HttpClient, document: dict[str, Any], name: str = ""
) -> BuiltRecipe | BuildFailure:
    token = document["token"]
    upstream.json(f"/api/cask/{token}.json", document)
    return adapters()["cask"].build(name or token, adapters()["cask"].fetch(http, token))


def toml(result: BuiltRecipe | BuildFailure) -> dict[str, Any]:
    assert isinstance(result, BuiltRecipe), result
    problems = check_recipe_text(result.text, rel=f"recipes/{result.name[0]}/{result.name}.toml")
    assert [p for p in problems if p.severity == "error"] == []
    return tomllib.loads(result.text)


def test_app_only_cask_iterm2(upstream: FakeUpstream, http: HttpClient) -> None:
    doc = toml(build(upstream, http, cask_doc("iterm2")))
    assert doc["metadata"]["supported_os"] == ["darwin"]
    assert doc["metadata"]["description"] == "iTerm2"  # no desc in the old schema: name[0]
    assert doc["metadata"]["homepage"] == "https://www.iterm2.com/"
    assert doc["version"] == {"source": "cask", "cask": "iterm2"}
    assert doc["steps"] == [
        {
            "action": "app_bundle",
            "url": "{version.url}",  # as in reference recipes/i/iterm2.toml
            "checksum": "{version.checksum}",
            "app_name": "iTerm.app",
            "symlink_applications": True,
        }
    ]
    assert doc["verify"]["command"] == 'test -d "$TSUKU_HOME/apps/iterm2-{version}.app"'
    assert "verify" in doc and doc["verify"]["reason"].startswith("macOS applications")


def test_app_with_binary_visual_studio_code(upstream: FakeUpstream, http: HttpClient) -> None:
    result = build(upstream, http, cask_doc("visual-studio-code"))
    doc = toml(result)
    step = doc["steps"][0]
    assert step["app_name"] == "Visual Studio Code.app"
    assert step["binaries"] == ["Contents/Resources/app/bin/code"]
    assert doc["verify"] == {"command": "code --version", "pattern": ""}
    assert isinstance(result, BuiltRecipe) and result.executables == ("code",)
    assert result.source == "cask:visual-studio-code" and result.version == "1.47.3"


def test_old_schema_uninstall_and_zap_stanzas_are_ignored(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    for token in ("docker", "firefox", "rectangle"):
        doc = toml(build(upstream, http, cask_doc(token)))
        assert doc["steps"][0]["app_name"].endswith(".app")
    artifacts = source.parse_artifacts(cask_doc("docker")["artifacts"])
    assert artifacts.apps == ("Docker.app",) and artifacts.unsupported == ()
    assert artifacts.ignored == ("uninstall/zap", "uninstall/zap")


def test_current_schema_artifacts(upstream: FakeUpstream, http: HttpClient) -> None:
    document = copy.deepcopy(cask_doc("firefox"))
    document["desc"] = "Web browser"
    document["artifacts"] = [
        {"uninstall": [{"quit": "org.mozilla.firefox"}]},
        {"app": ["Firefox.app"]},
        {"binary": ["{{appdir}}/Firefox.app/Contents/MacOS/firefox", {"target": "firefox"}]},
        {"binary": ["$(brew --prefix)/bin/elsewhere"]},
        {"zap": [{"trash": ["~/Library/Caches/Firefox"]}]},
    ]
    result = build(upstream, http, document, name="firefox-browser")
    doc = toml(result)
    assert doc["steps"][0]["binaries"] == ["Contents/MacOS/firefox"]
    assert doc["metadata"]["description"] == "Web browser"
    assert doc["metadata"]["satisfies"] == {"cask": ["firefox"]}
    assert any("elsewhere" in note for note in getattr(result, "notes", ()))


def test_no_check_is_refused(upstream: FakeUpstream, http: HttpClient) -> None:
    for value in ("no_check", ":no_check", "", "abc"):
        document = {**cask_doc("firefox"), "sha256": value}
        result = build(upstream, http, document)
        assert isinstance(result, BuildFailure)
        assert (result.category, result.subcategory) == ("generation_failed", "no_checksum")


@pytest.mark.parametrize(
    "artifacts",
    [
        [["Foo.app"], ["Installer.pkg"]],  # old schema: type read from the suffix
        [{"app": ["Foo.app"]}, {"pkg": ["Installer.pkg"]}],
        [{"installer": [{"manual": "Install Foo.app"}]}],
        [{"app": ["Foo.app"]}, {"preflight": None}],
        [{"manual": "Install Foo.app"}],  # old-schema installer stanza
        [["Foo.prefPane"]],
        [{"app": ["Foo.app"]}, {"somethingnew": ["x"]}],
    ],
)
def test_unsupported_artifacts(
    upstream: FakeUpstream, http: HttpClient, artifacts: list[Any]
) -> None:
    document = {**cask_doc("rectangle"), "artifacts": artifacts}
    result = build(upstream, http, document)
    assert isinstance(result, BuildFailure)
    assert (result.category, result.subcategory) == ("generation_failed", "unsupported_artifact")


def test_binary_only_cask_has_no_bundle(upstream: FakeUpstream, http: HttpClient) -> None:
    document = {**cask_doc("rectangle"), "artifacts": [{"binary": ["tool"]}]}
    result = build(upstream, http, document)
    assert isinstance(result, BuildFailure) and result.subcategory == "unsupported_artifact"
    assert "no .app bundle" in result.message


def test_tap_cask_refused_before_any_request(upstream: FakeUpstream, http: HttpClient) -> None:
    result = build_cask("x", adapter.fetch(http, "homebrew/cask-versions/firefox-nightly"))
    assert isinstance(result, BuildFailure) and result.subcategory == "tap_name"
    assert upstream.log == []
    with pytest.raises(TapNameError):
        source.cask_path("user/tap/x")


def test_seeding_from_cask_analytics(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path
) -> None:
    upstream.file(source.ANALYTICS_PATH, CASK / "minimal-shape-cask-install-30d.json")
    ranked = adapter.popularity(http, RegistryLayout.at(tmp_path), 10)
    assert [r.identifier for r in ranked.entries] == [
        "visual-studio-code",
        "iterm2",
        "docker",
        "firefox",
    ]
    assert ranked.entries[0].downloads == 75040 and ranked.population == 6400
    assert ranked.notes == ("1 tap name entries skipped",)
    assert "cask" in seed_sources()
    for token in ("visual-studio-code", "iterm2"):
        upstream.file(f"/api/cask/{token}.json", CASK / f"{token}.json")
    assert adapter.lookup(http, "visual-studio-code").executables == ("code",)
    assert adapter.lookup(http, "iterm2").executables == ("iTerm.app",)
    upstream.json(
        "/api/cask/nocheck.json", {**cask_doc("iterm2"), "token": "nocheck", "sha256": "no_check"}
    )
    assert adapter.lookup(http, "nocheck").executables == ()


def test_same_document_same_bytes(upstream: FakeUpstream, http: HttpClient) -> None:
    first = build(upstream, http, cask_doc("visual-studio-code"))
    second = build(upstream, http, cask_doc("visual-studio-code"))
    assert isinstance(first, BuiltRecipe) and isinstance(second, BuiltRecipe)
    assert first.text == second.text
