"""npm's install action for the recipe installer: ``npm_install``.

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.containers import installer as kit
else:  # loaded by the installer core, which registered itself under this name
    kit = sys.modules["registry_automation_installer"]


def registry_args(ctx: kit.Context) -> list[str]:
    """npm's ``--registry`` for the kit's npm mirror (``AUTOMATION_ENDPOINT_NPM``), if any."""
    base = kit.configured_endpoint(ctx, "npm")
    return ["--registry", base + "/"] if base else []


def npm_cache_environment(ctx: kit.Context) -> dict[str, str]:
    """``npm_config_cache`` in the shared download cache (``kit.download_cache``), if any.

    npm's cache holds only downloads (registry documents and package tarballs, addressed by
    their integrity digest and written by rename), safe for concurrent npms; what an install
    builds (native addons) lives in the tool's own ``node_modules``.
    """
    shared = kit.download_cache(ctx, "npm")
    return {"npm_config_cache": shared} if shared else {}


def npm_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``npm install --global --prefix`` into the tool's own directory; links its bin entries."""
    package = kit.step_field(step, "package")
    npm = kit.require_tool("npm", "npm_install", ctx)
    kit.require_tool("node", "npm_install", ctx)
    root = os.path.join(ctx.tool_dir, "npm")
    spec = package + ("@" + ctx.requested_version if ctx.requested_version else "")
    kit.run_command(
        [
            npm,
            "install",
            "--global",
            "--prefix",
            root,
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            *registry_args(ctx),
            spec,
        ],
        ctx,
        env=npm_cache_environment(ctx),
        what="npm install " + spec,
    )
    manifest = os.path.join(root, "lib", "node_modules", package, "package.json")
    try:
        with open(manifest, encoding="utf-8") as handle:
            ctx.version = str(json.load(handle).get("version") or "") or ctx.version
    except (OSError, ValueError):
        pass
    kit.link_executables(ctx, os.path.join(root, "bin"), kit.step_executables(step))


ACTIONS = {"npm_install": npm_install}
# Needs only Node.js on the user's machine and installs below a throwaway prefix.
LOCAL_ACTIONS = ("npm_install",)
# What npm prints when the package or its engine is wrong (installer.classify_output).
OUTPUT_CLASSES = (
    (
        "recipe_not_found",
        "package_not_found",
        r"npm (?:ERR!|error) (?:code )?E404|E404|"
        r"is not in (?:the|this) (?:npm )?registry|404 Not Found",
    ),
    ("install_failed", "runtime_version", r"EBADENGINE|engine .* incompatible"),
    ("install_failed", "build_failed", r"gyp ERR"),
)
