"""crates.io's install action for the recipe installer: ``cargo_install``.

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.containers import installer as kit
else:  # loaded by the installer core, which registered itself under this name
    kit = sys.modules["registry_automation_installer"]


def cargo_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``cargo install --locked --root`` the tool's directory."""
    crate = kit.step_field(step, "crate")
    cargo = kit.require_tool("cargo", "cargo_install", ctx)
    args = [cargo, "install", "--locked", "--root", ctx.tool_dir, crate]
    if ctx.requested_version:
        args += ["--version", ctx.requested_version]
    kit.run_command(args, ctx, what="cargo install " + crate)
    kit.link_executables(ctx, os.path.join(ctx.tool_dir, "bin"), kit.step_executables(step))


ACTIONS = {"cargo_install": cargo_install}
