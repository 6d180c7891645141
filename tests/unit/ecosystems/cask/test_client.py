"""Cask documents: old-schema stanzas ignored, analytics for seeding."""

from __future__ import annotations

from pathlib import Path

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import seed_sources
from automation.ecosystems.cask import adapter
from automation.ecosystems.cask import client as source
from tests.support.cask_fakes import CASK, build, cask_doc, toml
from tests.support.fake_upstream import FakeUpstream


def test_old_schema_uninstall_and_zap_stanzas_are_ignored(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    for token in ("docker", "firefox", "rectangle"):
        doc = toml(build(upstream, http, cask_doc(token)))
        assert doc["steps"][0]["app_name"].endswith(".app")
    artifacts = source.parse_artifacts(cask_doc("docker")["artifacts"])
    assert artifacts.apps == ("Docker.app",) and artifacts.unsupported == ()
    assert artifacts.ignored == ("uninstall/zap", "uninstall/zap")


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
