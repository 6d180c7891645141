"""Homebrew adapter: popularity, lookup, and the registry it checks dependencies against."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems import adapters, seed_sources
from automation.ecosystems.homebrew import adapter
from automation.ecosystems.homebrew import client as source
from automation.ecosystems.recipe import BuiltRecipe
from tests.support.fake_upstream import FakeUpstream
from tests.support.homebrew_fakes import (
    HOMEBREW,
    formula_doc,
    ripgrep_bottles,
    serve,
    write_recipe,
)


def test_default_fetch_reads_the_registry_in_the_working_directory(
    upstream: FakeUpstream, http: HttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_recipe(tmp_path, "pcre2")
    monkeypatch.chdir(tmp_path)
    serve(upstream, formula_doc("ripgrep"), ripgrep_bottles())
    result = adapters()["homebrew"].build("ripgrep", adapters()["homebrew"].fetch(http, "ripgrep"))
    assert isinstance(result, BuiltRecipe)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipes"]  # nothing written


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
