"""GitHub recipe names: a curated entry carries its recipe name (``cli/cli`` is ``gh``); a
repository not listed is named after the repository. Checked against the reference registry."""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.errors import UnsafeNameError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems.github import adapter
from automation.ecosystems.popularity import PopularityList, Ranked
from automation.registry.queue import load_queue
from automation.stages.seed import seed
from tests.support.fake_upstream import FakeUpstream

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
