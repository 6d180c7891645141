"""GitHub's install actions for the recipe installer: ``github_archive`` and ``github_file``
(a release asset, found through the API or the requested version's tag).

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.
``TSUKU_GITHUB_API`` / ``TSUKU_GITHUB_DOWNLOAD`` point at another host (tests, mirrors).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import urllib.parse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.containers import installer as kit
else:  # loaded by the installer core, which registered itself under this name
    kit = sys.modules["registry_automation_installer"]


def _github_release(repo: str, ctx: kit.Context) -> tuple[str, str]:
    """(tag, version) of the requested or latest release."""
    prefix = str((ctx.recipe.get("version") or {}).get("tag_prefix") or "")
    if ctx.requested_version:
        return (prefix or "v") + ctx.requested_version, ctx.requested_version
    api = os.environ.get("TSUKU_GITHUB_API", "https://api.github.com").rstrip("/")
    headers = {"Accept": "application/vnd.github+json"}
    token = os.environ.get("GITHUB_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    release = kit.fetch_json(f"{api}/repos/{repo}/releases/latest", headers=headers)
    tag = str(release.get("tag_name") or "")
    if not tag:
        raise kit.StepFailure(kit.INSTALL_FAILED, "no_version", f"{repo} has no latest release")
    version = tag[len(prefix) :] if prefix and tag.startswith(prefix) else tag.lstrip("v")
    return tag, version


def _checksum_from_asset(url: str, asset: str) -> str | None:
    text = kit.fetch_bytes(url).decode("utf-8", "replace")
    for line in text.splitlines():
        fields = line.replace("*", " ").split()
        if len(fields) >= 2 and fields[-1] == asset and re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
            return fields[0]
    single = text.split()
    if len(single) == 1 and re.fullmatch(r"[0-9a-fA-F]{64}", single[0]):
        return single[0]
    raise kit.StepFailure(kit.INSTALL_FAILED, "checksum_missing", f"no sha256 for {asset} in {url}")


def _github_download(step: dict[str, Any], ctx: kit.Context) -> tuple[str, str]:
    repo = kit.step_field(step, "repo")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise kit.StepFailure(kit.INSTALL_FAILED, "bad_recipe", f"bad repo {repo!r}")
    tag, ctx.version = _github_release(repo, ctx)
    asset = kit.expand(kit.step_field(step, "asset_pattern"), ctx, step)
    if "/" in asset:
        raise kit.StepFailure(kit.INSTALL_FAILED, "bad_recipe", f"asset name {asset!r} has a slash")
    base = os.environ.get("TSUKU_GITHUB_DOWNLOAD", "https://github.com").rstrip("/")
    url = f"{base}/{repo}/releases/download/{urllib.parse.quote(tag)}/{asset}"
    sha = step.get("checksum") or None
    if not sha and step.get("checksum_asset"):
        checksum_asset = kit.expand(str(step["checksum_asset"]), ctx, step)
        sha = _checksum_from_asset(
            f"{base}/{repo}/releases/download/{urllib.parse.quote(tag)}/{checksum_asset}", asset
        )
    path = kit.download(url, os.path.join(ctx.work_dir, asset), sha)
    return path, asset


def github_archive(step: dict[str, Any], ctx: kit.Context) -> None:
    """A release archive, extracted safely; its ``binaries`` linked into bin/."""
    path, _ = _github_download(step, ctx)
    kit.extract_and_link(path, step, ctx)


def github_file(step: dict[str, Any], ctx: kit.Context) -> None:
    """A release asset that is the executable itself."""
    path, asset = _github_download(step, ctx)
    files = os.path.join(ctx.tool_dir, "files")
    os.makedirs(files, exist_ok=True)
    if step.get("binary"):
        pairs = [(asset, str(step["binary"]))]
    else:
        pairs = kit.binary_pairs(step) or [(asset, asset)]
    for _src, dest in pairs:
        if "/" in dest or dest in ("", ".", ".."):
            raise kit.StepFailure(kit.INSTALL_FAILED, "bad_recipe", f"bad binary name {dest!r}")
        target = os.path.join(files, dest)
        shutil.copyfile(path, target)
        os.chmod(target, 0o755)
        ctx.link(target, dest)


ACTIONS = {"github_archive": github_archive, "github_file": github_file}
