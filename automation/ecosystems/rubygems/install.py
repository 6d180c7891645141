"""RubyGems' install action for the recipe installer: ``gem_install``.

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.

The gem source is rubygems.org (``gem``'s own default) unless ``AUTOMATION_ENDPOINT_RUBYGEMS``
is set in the installer's environment (the kit forwards it into the containers): then ``gem``
reads only that source (``--clear-sources --source``), the same base URL the kit's adapter reads
the gem documents from. A mirror serves the classic gem index there: ``specs.4.8.gz``,
``latest_specs.4.8.gz``, ``quick/Marshal.4.8/<gem>-<version>.gemspec.rz``,
``gems/<gem>-<version>.gem`` (what ``gem generate_index`` writes).
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

# The kit's endpoint override for RubyGems (automation.core.config: AUTOMATION_ENDPOINT_<NAME>).
ENDPOINT_VARIABLE = "AUTOMATION_ENDPOINT_RUBYGEMS"
# A gemspec file name below <GEM_HOME>/specifications: <gem>-<version>[-<platform>].gemspec
_VERSION = re.compile(r"^([0-9][0-9A-Za-z.]{0,63})(?:-[A-Za-z0-9_.-]+)?\.gemspec$")


def source_args(env: dict[str, str]) -> list[str]:
    """``gem install`` flags for the configured gem source; none for rubygems.org itself.

    The base gets a trailing slash: gem resolves ``specs.4.8.gz`` relative to it, which would
    drop the last path segment of ``http://mirror/rubygems``."""
    base = env.get(ENDPOINT_VARIABLE, "").strip()
    if not base:
        return []
    return ["--clear-sources", "--source=" + base.rstrip("/") + "/"]


def installed_version(home: str, gem_name: str) -> str | None:
    """The version of ``gem_name`` installed into ``home`` (its gemspec's file name)."""
    try:
        names = sorted(os.listdir(os.path.join(home, "specifications")))
    except OSError:
        return None
    prefix = gem_name + "-"
    for name in names:
        if name.startswith(prefix):
            found = _VERSION.match(name[len(prefix) :])
            if found:  # "<gem>-<other>-1.0" of a dependency does not start with a digit here
                return found.group(1)
    return None


def tool(name: str, ctx: kit.Context) -> str:
    """``name`` on the PATH the install runs with, not recorded as a runtime (the runtime is
    Ruby), or a missing-runtime failure naming it."""
    path = ctx.which(name)
    if path is None:
        raise kit.StepFailure(
            kit.MISSING_RUNTIME, name, f"gem_install needs {name}, which is not installed"
        )
    return path


def gem_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``gem install --install-dir`` the tool's directory; wrappers set GEM_HOME/GEM_PATH."""
    gem_name = kit.step_field(step, "gem")
    kit.require_tool("ruby", "gem_install", ctx)  # the runtime: its version is recorded
    gem = tool("gem", ctx)
    home = os.path.join(ctx.tool_dir, "gems")
    args = [
        gem,
        "install",
        "--no-document",
        *source_args(ctx.environment()),
        "--install-dir",
        home,
        "--bindir",
        os.path.join(home, "bin"),
        gem_name,
    ]
    if ctx.requested_version:
        args += ["--version", ctx.requested_version]
    # Only the tool's own directory is a gem path (no user or system gems leak in); the spec
    # cache stays in the throwaway work folder.
    env = {
        "GEM_HOME": home,
        "GEM_PATH": home,
        "GEM_SPEC_CACHE": os.path.join(ctx.work_dir, "gem-specs"),
    }
    kit.run_command(args, ctx, env=env, what="gem install " + gem_name)
    ctx.version = installed_version(home, gem_name) or ctx.version
    for exe in kit.step_executables(step):
        ctx.wrapper(os.path.join(home, "bin", exe), exe, {"GEM_HOME": home, "GEM_PATH": home})


ACTIONS = {"gem_install": gem_install}
# Needs only Ruby on the machine and installs below a throwaway prefix.
LOCAL_ACTIONS = ("gem_install",)
# What gem prints when the gem or the Ruby it needs is wrong (installer.classify_output).
OUTPUT_CLASSES = (
    (
        "recipe_not_found",
        "package_not_found",
        r"Could not find a valid gem|could not find gem .* locally or in a repository",
    ),
    ("install_failed", "runtime_version", r"requires Ruby version"),
    ("install_failed", "build_failed", r"Failed to build gem native extension"),
)
