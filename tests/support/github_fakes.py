"""GitHub releases served by the fake upstream: saved listings, archives built here, the adapter."""

from __future__ import annotations

import io
import json
import tarfile
import tomllib
from pathlib import Path
from typing import Any

from automation.core.http import HttpClient
from automation.ecosystems import adapter_for
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.recipes import check_recipe_text
from tests.support.fake_upstream import FIXTURES, FakeUpstream

REPOS = json.loads((FIXTURES / "github" / "repos.json").read_text())


SAVED = {
    "integrations/terraform-provider-github": "integrations__terraform-provider-github",
    "github/licensed": "github__licensed",
    "opentable/sous": "opentable__sous",
    "TIBCOSoftware/jasperreports": "TIBCOSoftware__jasperreports",
    "actions/checkout": "actions__checkout",
}


def listing(api_samples_dir: Path, repo: str) -> list[dict[str, Any]]:
    """A saved release listing of ``repo`` from the API samples."""
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
    """Fetch ``repo`` and build its recipe through the GitHub adapter."""
    github = adapter_for("github")
    return github.build(name, github.fetch(http, repo))


def valid(built: BuiltRecipe) -> dict[str, Any]:
    """The built recipe's TOML, after checking it has no error."""
    problems = check_recipe_text(built.text, rel=f"recipes/{built.name[0]}/{built.name}.toml")
    assert [p for p in problems if p.severity == "error"] == []
    return tomllib.loads(built.text)


def tar_gz(files: list[tuple[str, bytes]], dirs: tuple[str, ...] = ()) -> bytes:
    """A gzipped tarball of ``files`` (and empty ``dirs``)."""
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


def release_with(
    upstream: FakeUpstream, archives: dict[str, bytes], extra: tuple[str, ...] = ()
) -> None:
    """Serve release v1.0.0 of ``o/tool`` with ``archives`` (and ``extra`` assets)."""
    assets = [{"name": n, "size": len(d)} for n, d in archives.items()]
    assets += [{"name": n, "size": 1} for n in extra]
    serve(upstream, "o/tool", [{"tag_name": "v1.0.0", "assets": assets}], latest=True)
    for name, data in archives.items():
        upstream.blob(f"/o/tool/releases/download/v1.0.0/{name}", data)


def built_steps(http: HttpClient) -> list[dict[str, Any]]:
    """The steps of the recipe built for ``o/tool``."""
    built = generate(http, "o/tool", "tool")
    assert isinstance(built, BuiltRecipe)
    steps: list[dict[str, Any]] = valid(built)["steps"]
    return steps
