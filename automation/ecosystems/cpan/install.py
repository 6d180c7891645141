"""CPAN's install action for the recipe installer: ``cpan_install``.

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.

cpanm resolves and downloads the distribution the way it does by default (MetaCPAN, then the CPAN
mirrors) unless ``AUTOMATION_ENDPOINT_CPAN`` is set in the installer's environment (the kit
forwards it into the containers): then it reads only that CPAN mirror (``--mirror ...
--mirror-only``: ``modules/02packages.details.txt.gz`` and ``authors/id/...``), as tsuku's
``mirror``/``mirror_only`` parameters do.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.containers import installer as kit
else:  # loaded by the installer core, which registered itself under this name
    kit = sys.modules["registry_automation_installer"]

# The kit's endpoint override for the CPAN mirror (automation.core.config's variable for the
# ``cpan`` endpoint the package declares).
ENDPOINT_VARIABLE = "AUTOMATION_ENDPOINT_CPAN"
# The version part of a release name cpanm records (``1.04``, ``v3.7.0``).
_VERSION = re.compile(r"^v?[0-9][0-9A-Za-z._]{0,63}$")
# Settings of the caller's own Perl setup that would redirect or mix the install (tsuku clears
# every PERL* variable for cpanm as well).
_PERL_SETTINGS = ("PERL5LIB", "PERL_LOCAL_LIB_ROOT", "PERL_MM_OPT", "PERL_MB_OPT", "PERL_CPANM_OPT")


def mirror_args(env: dict[str, str]) -> list[str]:
    """cpanm flags for the configured CPAN mirror; none for cpanm's own defaults."""
    base = env.get(ENDPOINT_VARIABLE, "").strip()
    if not base:
        return []
    return ["--mirror=" + base.rstrip("/") + "/", "--mirror-only"]


def installed_version(local: str, dist: str) -> str | None:
    """The version of distribution ``dist`` cpanm installed into ``local``: the release
    ``<dist>-<version>`` it recorded in ``.meta/<release>/install.json`` below the local lib's
    architecture folder (its ``version`` field is a number there: 1.10 would read 1.1)."""
    lib = os.path.join(local, "lib", "perl5")
    try:
        arches = sorted(os.listdir(lib))
    except OSError:
        return None
    for arch in arches:
        meta = os.path.join(lib, arch, ".meta")
        try:
            entries = sorted(os.listdir(meta))
        except OSError:
            continue
        for entry in entries:
            version = entry[len(dist) + 1 :]
            # "<dist>-Extra-1.0" of another distribution does not continue with a version here
            if not entry.startswith(dist + "-") or not _VERSION.match(version):
                continue
            try:
                with open(os.path.join(meta, entry, "install.json"), encoding="utf-8") as handle:
                    record = json.load(handle)
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("dist") == entry:
                return version
    return None


def tool(name: str, ctx: kit.Context) -> str:
    """``name`` on the PATH the install runs with, not recorded as a runtime (the runtime is
    Perl), or a missing-runtime failure naming it."""
    path = ctx.which(name)
    if path is None:
        raise kit.StepFailure(
            kit.MISSING_RUNTIME, name, f"cpan_install needs {name}, which is not installed"
        )
    return path


def cpan_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``cpanm --local-lib-contained`` the tool's directory; wrappers set PERL5LIB."""
    named = "distribution" in step or "module" not in step
    dist = kit.step_field(step, "distribution") if named else ""
    # tsuku's optional ``module`` names what cpanm installs when it is not the distribution's
    # name with ``::`` (App-Ack -> App::Ack).
    module = kit.step_field(step, "module") if "module" in step else dist.replace("-", "::")
    dist = dist or module.replace("::", "-")
    kit.require_tool("perl", "cpan_install", ctx)  # the runtime: its version is recorded
    cpanm = tool("cpanm", ctx)
    local = os.path.join(ctx.tool_dir, "perl5")
    target = module + ("@" + ctx.requested_version if ctx.requested_version else "")
    env = {name: "" for name in _PERL_SETTINGS}
    env["PERL_CPANM_HOME"] = os.path.join(ctx.work_dir, "cpanm")  # build logs: throwaway
    mirror = mirror_args(ctx.environment())
    kit.run_command(
        [cpanm, "--notest", *mirror, "--local-lib-contained", local, target],
        ctx,
        env=env,
        what="cpanm " + module,
    )
    ctx.version = installed_version(local, dist) or ctx.version
    lib = os.path.join(local, "lib", "perl5")
    for exe in kit.step_executables(step):
        ctx.wrapper(os.path.join(local, "bin", exe), exe, {"PERL5LIB": lib})


ACTIONS = {"cpan_install": cpan_install}
# Needs only Perl and cpanm on the machine and installs below a throwaway prefix.
LOCAL_ACTIONS = ("cpan_install",)
# What cpanm prints when the distribution or the Perl it needs is wrong
# (installer.classify_output).
OUTPUT_CLASSES = (
    (
        "recipe_not_found",
        "package_not_found",
        r"Couldn't find module or a distribution|Finding .* on mirror .* failed",
    ),
    ("install_failed", "runtime_version", r"Perl v?[0-9.]+ required--this is only"),
)
