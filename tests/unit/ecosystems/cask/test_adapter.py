"""Cask adapter: saved old-schema cask JSONs (and current-schema documents built here) served
from a local server -> ``app_bundle`` recipes or specific failures."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from automation.core.http import HttpClient
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from tests.support.cask_fakes import build, cask_doc, toml
from tests.support.fake_upstream import FakeUpstream


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


def test_same_document_same_bytes(upstream: FakeUpstream, http: HttpClient) -> None:
    first = build(upstream, http, cask_doc("visual-studio-code"))
    second = build(upstream, http, cask_doc("visual-studio-code"))
    assert isinstance(first, BuiltRecipe) and isinstance(second, BuiltRecipe)
    assert first.text == second.text
