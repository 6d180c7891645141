"""Go's install action for the recipe installer: ``go_install``.

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.

With ``AUTOMATION_ENDPOINT_GOPROXY`` in the action's environment (the kit forwards it from the
host, locally and into the containers), the go command fetches modules from that mirror only
(``GOPROXY=<base>``: no ``direct`` fallback, so nothing leaves for the origin hosts); without it,
from Go's defaults (``proxy.golang.org``, then ``direct``). The checksum database stays on either
way: the kit never sets ``GOSUMDB=off``. Through a mirror the go command asks the mirror first
(``<base>/sumdb/sum.golang.org/supported``: a mirror that relays the database keeps every module
verified against sum.golang.org's key), else sum.golang.org itself. Modules the public database
cannot know (private ones, a test registry's) are exempted by name with Go's own ``GONOSUMDB``
(or ``GOPRIVATE``, which also bypasses the proxy): ``PASS_ENV`` below has the host forward those
variables, so one exemption, not a blanket switch, covers local and container runs.
``GOTOOLCHAIN=local``: the go that the environment has builds the tool; it never downloads another.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.containers import installer as kit
else:  # loaded by the installer core, which registered itself under this name
    kit = sys.modules["registry_automation_installer"]

ENDPOINT = "goproxy"


def go_environment(ctx: kit.Context, base: str | None) -> dict[str, str]:
    """What the go command runs with: its directories below the tool's, and the mirror."""
    env = {
        "GOBIN": os.path.join(ctx.tool_dir, "bin"),
        "GOPATH": os.path.join(ctx.tool_dir, "gopath"),
        "GOFLAGS": "-modcacherw",
        "GOTOOLCHAIN": "local",
    }
    if base is not None:
        env["GOPROXY"] = base
    # Downloaded modules (zips checked against go.sum and the checksum database when fetched,
    # and locked while written) come from the shared download cache; what go builds (GOCACHE)
    # stays the environment's own.
    shared = kit.download_cache(ctx, "go-mod")
    if shared is not None:
        env["GOMODCACHE"] = shared
    return env


def module_version(listing: str, module: str) -> str | None:
    """The module version ``go version -m <binary>`` reports for the binary's main module."""
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "mod" and (module + "/").startswith(fields[1] + "/"):
            version = fields[2]
            return version if re.match(r"v\d", version) else None
    return None


def go_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``go install module@version`` with GOBIN in the tool's directory."""
    module = kit.step_field(step, "module")
    go = kit.require_tool("go", "go_install", ctx, ("version",))  # records go's version
    env = go_environment(ctx, kit.configured_endpoint(ctx, ENDPOINT))
    target = "{}@{}".format(module, ctx.requested_version or "latest")
    kit.run_command([go, "install", target], ctx, what="go install " + target, env=env)
    executables = kit.step_executables(step)
    kit.link_executables(ctx, env["GOBIN"], executables)
    if executables and not ctx.version:
        listing = kit.run_command(
            [go, "version", "-m", os.path.join(env["GOBIN"], executables[0])],
            ctx,
            what="go version -m",
            env=env,
        )
        ctx.version = module_version(listing, module.removesuffix("/..."))


ACTIONS = {"go_install": go_install}
# Needs only go on the user's machine and installs below the throwaway prefix.
LOCAL_ACTIONS = ("go_install",)
# Go's own settings for modules the public checksum database cannot know (private modules, a
# mirror's own): forwarded from the host so local and container runs read them alike.
PASS_ENV = ("GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE")
