"""CPAN's install action for the recipe installer: ``cpan_install``.

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


def cpan_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``cpanm --local-lib-contained`` the tool's directory; wrappers set PERL5LIB."""
    dist = step.get("module") or kit.step_field(step, "distribution")
    module = str(dist).replace("-", "::")
    cpanm = kit.require_tool("cpanm", "cpan_install", ctx)
    kit.require_tool("perl", "cpan_install", ctx)
    local = os.path.join(ctx.tool_dir, "perl5")
    kit.run_command(
        [cpanm, "--notest", "--local-lib-contained", local, module], ctx, what="cpanm " + module
    )
    lib = os.path.join(local, "lib", "perl5")
    for exe in kit.step_executables(step):
        ctx.wrapper(os.path.join(local, "bin", exe), exe, {"PERL5LIB": lib})


ACTIONS = {"cpan_install": cpan_install}
