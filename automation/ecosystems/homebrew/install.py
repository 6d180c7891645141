"""Homebrew's install action for the recipe installer: ``homebrew`` (a bottle's keg, unpacked).

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.
``TSUKU_HOMEBREW_API`` points at another formula API (tests, mirrors).
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.containers import installer as kit
else:  # loaded by the installer core, which registered itself under this name
    kit = sys.modules["registry_automation_installer"]


def _bottle_tag(platform: kit.Platform) -> str:
    if platform.os != "linux":
        raise kit.StepFailure(
            kit.UNSUPPORTED, "homebrew", "macOS bottles are not validated in containers"
        )
    return "x86_64_linux" if platform.arch == "amd64" else "arm64_linux"


def homebrew(step: dict[str, Any], ctx: kit.Context) -> None:
    """Download the formula's bottle for this platform and unpack its keg (no relocation of ELF)."""
    formula = kit.step_field(step, "formula")
    if not kit.SAFE_NAME.match(formula):
        raise kit.StepFailure(kit.INSTALL_FAILED, "bad_recipe", f"bad formula name {formula!r}")
    api = os.environ.get("TSUKU_HOMEBREW_API", "https://formulae.brew.sh/api").rstrip("/")
    info = kit.fetch_json(f"{api}/formula/{formula}.json")
    ctx.version = str(((info.get("versions") or {}).get("stable")) or "") or ctx.version
    files = (((info.get("bottle") or {}).get("stable") or {}).get("files")) or {}
    tag = _bottle_tag(ctx.platform)
    bottle = files.get(tag) or files.get("all")
    if not bottle:
        raise kit.StepFailure(kit.INSTALL_FAILED, "no_bottle", f"{formula} has no {tag} bottle")
    url = str(bottle["url"])
    headers: dict[str, str] = {}
    if urllib.parse.urlparse(url).hostname == "ghcr.io":
        token_url = (
            "https://ghcr.io/token?service=ghcr.io&scope=repository:homebrew/core/{}:pull".format(
                formula.replace("@", "/")
            )
        )
        headers["Authorization"] = "Bearer " + str(kit.fetch_json(token_url).get("token") or "")
    path = kit.download(
        url,
        os.path.join(ctx.work_dir, formula + ".bottle.tar.gz"),
        bottle.get("sha256"),
        headers=headers,
    )
    # Bottles hold <formula>/<version>/...: strip both so the keg is the tree root.
    keg = kit.safe_extract(path, os.path.join(ctx.tool_dir, "keg"), "tar", 2, ctx.extract_limit)
    _relocate_text(keg, ctx.prefix)
    ctx.last_tree = keg


def _relocate_text(tree: str, prefix: str) -> None:
    """Replace Homebrew's placeholders in scripts (binaries would need patchelf)."""
    for root, _dirs, files in os.walk(tree):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or os.path.getsize(path) > 4 << 20:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if b"@@HOMEBREW_" not in data or b"\x00" in data:
                continue
            for placeholder in (b"@@HOMEBREW_PREFIX@@", b"@@HOMEBREW_CELLAR@@"):
                data = data.replace(placeholder, prefix.encode())
            with open(path, "wb") as handle:
                handle.write(data)


ACTIONS = {"homebrew": homebrew}
