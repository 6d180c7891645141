"""crates.io's install action for the recipe installer: ``cargo_install``.

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.

With ``AUTOMATION_ENDPOINT_CRATESIO`` in the action's environment (the kit forwards it from the
host, locally and into the containers), cargo is pointed at that mirror by source replacement,
given as ``--config`` flags so no configuration file of the user's is touched::

    [source.crates-io]
    replace-with = "automation-mirror"
    [source.automation-mirror]
    registry = "sparse+<base>/"

The mirror serves a sparse index at its base (``config.json`` with ``dl``/``api``, one file per
crate at the sparse path) next to the crates.io API the kit reads (``/api/v1/crates/<name>``).
cargo checks every downloaded ``.crate`` against the index's ``cksum`` (sha256), mirror or not.
Without the variable the same command reaches crates.io. A cargo older than 1.68 (Debian 12's is
1.65) has sparse registries only behind ``-Z sparse-registry``, which it is given then.
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

ENDPOINT = "cratesio"
MIRROR_SOURCE = "automation-mirror"
# The first cargo with stable sparse registries.
SPARSE_STABLE = (1, 68)


def cargo_version(ctx: kit.Context) -> tuple[int, int] | None:
    """(major, minor) of the cargo the action runs (recorded by ``note_runtime``), if known."""
    for runtime in ctx.runtimes:
        if runtime["name"] == "cargo":
            found = re.match(r"(\d+)\.(\d+)", runtime.get("version") or "")
            if found:
                return int(found.group(1)), int(found.group(2))
    return None


def mirror_flags(base: str | None, version: tuple[int, int] | None) -> list[str]:
    """cargo flags that replace crates.io with the sparse index at ``base`` (none without one)."""
    if base is None:
        return []
    flags = [
        "--config",
        f'source.crates-io.replace-with="{MIRROR_SOURCE}"',
        "--config",
        f'source.{MIRROR_SOURCE}.registry="sparse+{base}/"',
    ]
    if version is not None and version < SPARSE_STABLE:
        flags += ["-Z", "sparse-registry"]
    return flags


def rustup_environment(env: dict[str, str]) -> dict[str, str]:
    """Keep a rustup-managed cargo working under the throwaway ``HOME`` local validation gives
    it: rustup finds its toolchains under the invoking user's home (``RUSTUP_HOME``), not there.
    Nothing changes where ``RUSTUP_HOME`` is set or no ``~/.rustup`` exists (the containers)."""
    if env.get("RUSTUP_HOME"):
        return {}
    own = os.path.join(os.path.expanduser("~"), ".rustup")
    return {"RUSTUP_HOME": own} if os.path.isdir(own) else {}


def installed_version(listing: str, crate: str) -> str | None:
    """The version ``cargo install --list`` reports for ``crate`` (``name v1.2.3:``)."""
    found = re.search(rf"^{re.escape(crate)} v(\S+?):?$", listing, re.MULTILINE)
    return found.group(1) if found else None


def cargo_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """``cargo install --locked --root`` the tool's directory, from crates.io or its mirror."""
    crate = kit.step_field(step, "crate")
    extra = rustup_environment(ctx.environment())
    if extra:  # before cargo first runs (its --version, recorded by require_tool)
        ctx.env = ctx.environment(extra)
    cargo = kit.require_tool("cargo", "cargo_install", ctx)
    base = kit.configured_endpoint(ctx, ENDPOINT)
    args = [cargo, "install", "--locked", "--root", ctx.tool_dir, crate]
    if ctx.requested_version:
        args += ["--version", ctx.requested_version]
    args += mirror_flags(base, cargo_version(ctx))
    kit.run_command(args, ctx, what="cargo install " + crate)
    listing = kit.run_command(
        [cargo, "install", "--list", "--root", ctx.tool_dir], ctx, what="cargo install --list"
    )
    ctx.version = installed_version(listing, crate) or ctx.version
    kit.link_executables(ctx, os.path.join(ctx.tool_dir, "bin"), kit.step_executables(step))


ACTIONS = {"cargo_install": cargo_install}
# Needs only cargo on the user's machine and installs below the throwaway prefix.
LOCAL_ACTIONS = ("cargo_install",)
