"""Go's install action for the recipe installer: ``go_install``.

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


def go_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``go install module@version`` with GOBIN in the tool's directory."""
    module = kit.step_field(step, "module")
    go = kit.require_tool("go", "go_install", ctx)
    gobin = os.path.join(ctx.tool_dir, "bin")
    target = "{}@{}".format(module, ctx.requested_version or "latest")
    kit.run_command(
        [go, "install", target],
        ctx,
        what="go install " + target,
        env={
            "GOBIN": gobin,
            "GOPATH": os.path.join(ctx.tool_dir, "gopath"),
            "GOFLAGS": "-modcacherw",
        },
    )
    kit.link_executables(ctx, gobin, kit.step_executables(step))


ACTIONS = {"go_install": go_install}
