"""RubyGems' install action for the recipe installer: ``gem_install``.

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


def gem_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``gem install --install-dir`` the tool's directory; wrappers set GEM_HOME/GEM_PATH."""
    gem_name = kit.step_field(step, "gem")
    gem = kit.require_tool("gem", "gem_install", ctx)
    home = os.path.join(ctx.tool_dir, "gems")
    args = [
        gem,
        "install",
        "--no-document",
        "--install-dir",
        home,
        "--bindir",
        os.path.join(home, "bin"),
        gem_name,
    ]
    if ctx.requested_version:
        args += ["--version", ctx.requested_version]
    kit.run_command(args, ctx, what="gem install " + gem_name)
    for exe in kit.step_executables(step):
        ctx.wrapper(os.path.join(home, "bin", exe), exe, {"GEM_HOME": home, "GEM_PATH": home})


ACTIONS = {"gem_install": gem_install}
