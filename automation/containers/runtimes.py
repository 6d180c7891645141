"""The language runtimes tsuku installs, provided to every validation environment.

tsuku runs an npm tool on the Node.js its own ``nodejs`` recipe installs and a PyPI tool on the
Python its ``python`` recipe pins, never on a distribution's interpreter. Validation does the
same: each ecosystem that declares a :class:`~automation.core.ecosystem_facts.RuntimePin` has a
``runtime`` module (``automation/ecosystems/<name>/runtime.py``) defining ``PROVIDER``, which
provisions that exact release once into this machine's runtime cache. Local validation puts the
cached ``bin`` folder first on ``PATH``; container validation bind-mounts the cached folder
read-only at the provider's mount point and puts it first on the container's ``PATH``. The
installer records the version it really ran (``node --version``), and the result line carries it
together with the build it came from.

The cache is ``$AUTOMATION_RUNTIMES_DIR`` (default ``~/.cache/registry-automation/runtimes``),
one folder per runtime and version, completed by an atomic rename and marked by a
``provisioned.json`` written last: a crash mid-build leaves nothing that looks ready. One lock
per runtime keeps concurrent runs from building the same thing twice.

``AUTOMATION_RUNTIMES=host`` opts out: validation then uses whatever ``node``/``python3`` the
machine or image has, and the result lines say so (the version really run is still recorded).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from automation.core.atomic import atomic_write_json, registry_lock
from automation.core.config import Config, load_config
from automation.core.ecosystem_facts import (
    EcosystemFacts,
    RuntimePin,
    all_facts,
    facts_for,
    normalise_ecosystem,
    package_of,
    recipe_action_sources,
)
from automation.core.errors import AutomationError, ExitCode, UsageError
from automation.core.jsondata import read_json
from automation.core.report import render

RUNTIMES_DIR_ENV = "AUTOMATION_RUNTIMES_DIR"
RUNTIMES_MODE_ENV = "AUTOMATION_RUNTIMES"
MARKER = "provisioned.json"
MODES = ("provision", "host")

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class RuntimeUnavailable(AutomationError):
    """A pinned runtime could not be provisioned (download, checksum or build failed)."""

    exit_code = ExitCode.STOPPED  # the environment cannot run the ecosystem's tools


@dataclass(frozen=True, slots=True)
class ProvisionedRuntime:
    """One runtime ready in the cache: where it is here and where containers see it.

    ``interpreter`` is the path (relative to the root) of the interpreter that makes virtual
    environments, for runtimes that have one; ``build`` says where the bytes came from.
    """

    name: str
    version: str
    build: str
    host_root: Path
    mount_point: str
    bin_subdir: str = "bin"
    interpreter: str | None = None

    @property
    def host_bin(self) -> Path:
        return self.host_root / self.bin_subdir

    @property
    def container_bin(self) -> str:
        return f"{self.mount_point}/{self.bin_subdir}"

    def host_interpreter(self) -> str | None:
        return str(self.host_root / self.interpreter) if self.interpreter else None

    def container_interpreter(self) -> str | None:
        return f"{self.mount_point}/{self.interpreter}" if self.interpreter else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "host_root": str(self.host_root),
            "mount_point": self.mount_point,
            "interpreter": self.interpreter,
        }


class RuntimeProvider(Protocol):
    """What an ecosystem's ``runtime.PROVIDER`` offers (see the npm and PyPI ones)."""

    mount_point: str
    interpreter: str | None

    def build_description(self, pin: RuntimePin) -> str: ...

    def provision(self, pin: RuntimePin, target: Path, config: Config, log: Log) -> None:
        """Fill the empty folder ``target`` with the runtime (``bin/<pin.name>`` at least)."""

    def installed_version(self, root: Path, pin: RuntimePin) -> str:
        """The version the provisioned runtime reports (runs it); raises RuntimeUnavailable."""


def runtimes_dir(env: dict[str, str] | None = None) -> Path:
    """The runtime cache: ``$AUTOMATION_RUNTIMES_DIR``, else
    ``~/.cache/registry-automation/runtimes``."""
    env = dict(os.environ) if env is None else env
    configured = env.get(RUNTIMES_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = env.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "registry-automation" / "runtimes"


def runtimes_mode(env: dict[str, str] | None = None) -> str:
    """``provision`` (default: tsuku's runtimes) or ``host`` (the machine's own tools)."""
    env = dict(os.environ) if env is None else env
    mode = env.get(RUNTIMES_MODE_ENV, "").strip().lower() or "provision"
    if mode not in MODES:
        raise UsageError(f"{RUNTIMES_MODE_ENV} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def provider_for(facts: EcosystemFacts) -> RuntimeProvider | None:
    """The ecosystem's runtime provider, or None when it pins no runtime."""
    if facts.runtime is None:
        return None
    package = package_of(facts.name)
    if package is None:
        return None
    module = importlib.import_module(f"{package}.runtime")
    provider: RuntimeProvider = module.PROVIDER
    return provider


def _folder(root: Path, pin: RuntimePin) -> Path:
    return root / pin.name / pin.version


def find(facts: EcosystemFacts, root: Path | None = None) -> ProvisionedRuntime | None:
    """The ecosystem's runtime if it is ready in the cache (nothing is downloaded)."""
    pin, provider = facts.runtime, provider_for(facts)
    if pin is None or provider is None:
        return None
    return find_pinned(pin, provider, root)


def find_pinned(
    pin: RuntimePin, provider: RuntimeProvider, root: Path | None = None
) -> ProvisionedRuntime | None:
    """``pin`` if it is ready in the cache (its marker written last), else None."""
    folder = _folder(root or runtimes_dir(), pin)
    marker = folder / MARKER
    if not marker.is_file():
        return None
    recorded, _problem = read_json(marker, str(marker))  # unreadable: the pin's own description
    build = recorded.get("build") if isinstance(recorded, dict) else None
    return ProvisionedRuntime(
        pin.name,
        pin.version,
        str(build or provider.build_description(pin)),
        folder,
        provider.mount_point,
        interpreter=provider.interpreter,
    )


def ensure(
    facts: EcosystemFacts,
    *,
    config: Config | None = None,
    root: Path | None = None,
    log: Log = _stderr,
) -> ProvisionedRuntime | None:
    """The ecosystem's runtime, provisioned into the cache first if it is not there yet."""
    pin, provider = facts.runtime, provider_for(facts)
    if pin is None or provider is None:
        return None
    why = f"{facts.label} tools run on it, as {pin.pinned_by}"
    return ensure_pinned(pin, provider, why, config=config, root=root, log=log)


def ensure_pinned(
    pin: RuntimePin,
    provider: RuntimeProvider,
    why: str,
    *,
    config: Config | None = None,
    root: Path | None = None,
    log: Log = _stderr,
) -> ProvisionedRuntime | None:
    """``pin`` from the cache, provisioned by ``provider`` first if it is not there yet
    (``why``: what the first-use message says it is for)."""
    root = root or runtimes_dir()
    found = find_pinned(pin, provider, root)
    if found is not None:
        return found
    folder = _folder(root, pin)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with registry_lock(folder.parent / ".lock", timeout=3600):
        found = find_pinned(pin, provider, root)  # another run finished it while this one waited
        if found is not None:
            return found
        started = time.monotonic()
        building = folder.parent / f".{pin.version}.partial"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        log(
            f"first use of {pin.name} {pin.version} ({why}): "
            f"{provider.build_description(pin)}; provisioning into {folder}"
        )
        try:
            provider.provision(pin, building, config or load_config(), log)
            seen = provider.installed_version(building, pin)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        if seen != pin.version:
            shutil.rmtree(building, ignore_errors=True)
            raise RuntimeUnavailable(
                f"{pin.name} provisioned from {provider.build_description(pin)} reports "
                f"version {seen!r}, not the pinned {pin.version}"
            )
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(building, folder)
        atomic_write_json(
            folder / MARKER,
            {
                "name": pin.name,
                "version": pin.version,
                "build": provider.build_description(pin),
                "seconds": round(time.monotonic() - started, 1),
            },
        )
        log(f"{pin.name} {pin.version} ready in {time.monotonic() - started:.0f} s")
    return find_pinned(pin, provider, root)


def installer_tool_provider(facts: EcosystemFacts) -> RuntimeProvider | None:
    """The provider of the ecosystem's installer tool (``<package>.<tool name>.PROVIDER``)."""
    package = package_of(facts.name)
    if facts.installer_tool is None or package is None:
        return None
    module = importlib.import_module(f"{package}.{facts.installer_tool.name}")
    provider: RuntimeProvider = module.PROVIDER
    return provider


def ensure_installer_tool(
    facts: EcosystemFacts,
    *,
    config: Config | None = None,
    root: Path | None = None,
    log: Log = _stderr,
) -> ProvisionedRuntime | None:
    """The ecosystem's ``installer_tool``, provisioned on first use; None when the
    ecosystem has none, or when it cannot be provisioned (the install action then uses the
    runtime's own installer, and this says so): a faster installer is never a reason to stop."""
    pin, provider = facts.installer_tool, installer_tool_provider(facts)
    if pin is None or provider is None:
        return None
    why = f"the kit installs {facts.label} packages with it"
    try:
        return ensure_pinned(pin, provider, why, config=config, root=root, log=log)
    except (RuntimeUnavailable, OSError) as exc:
        log(f"{pin.name} {pin.version} is not available ({exc}); installing without it")
        return None


def runtimes_for(
    ecosystems: Iterable[str],
    *,
    config: Config | None = None,
    root: Path | None = None,
    log: Log = _stderr,
    env: dict[str, str] | None = None,
) -> tuple[ProvisionedRuntime, ...]:
    """The pinned runtimes the given ecosystems' tools need, provisioned on first use.

    Empty under ``AUTOMATION_RUNTIMES=host``. Unknown ecosystem names are ignored (a recipe
    whose source has no adapter needs no language runtime of the kit's).
    """
    if runtimes_mode(env) == "host":
        return ()
    found: list[ProvisionedRuntime] = []
    seen: set[str] = set()
    for name in sorted(set(ecosystems)):
        facts = facts_for(name)
        if facts is None or facts.runtime is None or facts.runtime.name in seen:
            continue
        seen.add(facts.runtime.name)
        runtime = ensure(facts, config=config, root=root, log=log)
        if runtime is not None:
            found.append(runtime)
        if facts.installer_tool is not None and installer_tool_wanted(facts, config):
            tool = ensure_installer_tool(facts, config=config, root=root, log=log)
            if tool is not None:
                found.append(tool)
    return tuple(found)


def installer_tool_wanted(facts: EcosystemFacts, config: Config | None) -> bool:
    """Whether validation installs the ecosystem's packages with its installer tool:
    ``[validate] <ecosystem>_installer`` names the tool (the default) or the runtime's own
    installer (``installer_tool.replaces``)."""
    if facts.installer_tool is None:
        return False
    key = f"{facts.name}_installer"
    chosen = (config or load_config()).setting("validate", key)
    if chosen == facts.installer_tool.name:
        return True
    if chosen == facts.installer_tool.replaces:
        return False
    raise UsageError(
        f"[validate] {key} must be {facts.installer_tool.name!r} or "
        f"{facts.installer_tool.replaces!r}, got {chosen!r}"
    )


def tool_path(runtimes: Sequence[ProvisionedRuntime], name: str, *, container: bool) -> str | None:
    """Where the provisioned tool ``name`` (``uv``) runs from: its ``bin/<name>`` on this
    machine or at its mount point in a container; None when it was not provisioned."""
    for runtime in runtimes:
        if runtime.name == name:
            return f"{runtime.container_bin}/{name}" if container else str(runtime.host_bin / name)
    return None


def ecosystems_in(recipes: Iterable[Mapping[str, Any]]) -> set[str]:
    """The ecosystems whose install actions the recipe documents use (their runtimes are needed)."""
    sources = recipe_action_sources()
    found: set[str] = set()
    for recipe in recipes:
        for step in recipe.get("steps") or []:
            if isinstance(step, Mapping) and str(step.get("action")) in sources:
                found.add(sources[str(step.get("action"))][0])
    return found


def host_path(runtimes: Sequence[ProvisionedRuntime], base: str) -> str:
    """``PATH`` for local validation: every runtime's ``bin`` first, then ``base``."""
    return os.pathsep.join([*(str(r.host_bin) for r in runtimes), base])


def container_path(runtimes: Sequence[ProvisionedRuntime], base: str) -> str:
    """``PATH`` inside a container: every mounted runtime's ``bin`` first, then ``base``."""
    return ":".join([*(r.container_bin for r in runtimes), base])


def interpreter(runtimes: Sequence[ProvisionedRuntime], *, container: bool) -> str | None:
    """The interpreter that makes virtual environments, when a runtime provides one."""
    for runtime in runtimes:
        path = runtime.container_interpreter() if container else runtime.host_interpreter()
        if path:
            return path
    return None


def builds_by_name(runtimes: Sequence[ProvisionedRuntime]) -> dict[str, str]:
    """Runtime command name -> the build description (what result lines add to the version)."""
    return {r.name: r.build for r in runtimes}


def annotate(
    recorded: Iterable[Mapping[str, Any]], runtimes: Sequence[ProvisionedRuntime]
) -> list[dict[str, str]]:
    """The installer's runtime records (name, version, path) with the build each came from.

    A runtime the kit did not provide (a distribution's own, or ``AUTOMATION_RUNTIMES=host``)
    is named for what it is: ``host`` / ``image``.
    """
    builds = {r.name: r for r in runtimes}
    out: list[dict[str, str]] = []
    for record in recorded:
        name = str(record.get("name") or "")
        version = str(record.get("version") or "")
        path = str(record.get("path") or "")
        if not name:
            continue
        provided = builds.get(name)
        mine = provided is not None and (
            path.startswith(provided.mount_point) or path.startswith(str(provided.host_root))
        )
        build = provided.build if mine and provided else "not provided by the kit: " + (path or "?")
        out.append({"name": name, "version": version, "build": build})
    return out


# ---- front door: make setup-runtimes -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetupReport:
    """What ``make setup-runtimes`` provisioned (or found ready) in the cache."""

    runtimes: tuple[ProvisionedRuntime, ...]
    root: Path

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {"root": str(self.root), "runtimes": [r.to_json() for r in self.runtimes]}

    def to_text(self) -> str:
        lines = [f"runtime cache: {self.root}"]
        lines += [f"  {r.name} {r.version}: {r.build} ({r.host_root})" for r in self.runtimes]
        return "\n".join(lines)


def _with_runtime() -> tuple[str, ...]:
    return tuple(f.name for f in all_facts() if f.runtime is not None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m automation.containers.runtimes",
        description="Provision the runtimes tsuku installs (pinned Node.js, Python) and the kit's "
        "installer tools (uv).",
    )
    parser.add_argument(
        "--ecosystem",
        action="append",
        default=None,
        help=f"only this ecosystem's runtime (repeatable; default: {', '.join(_with_runtime())})",
    )
    parser.add_argument(
        "--root", default=None, help=f"the runtime cache (default: ${RUNTIMES_DIR_ENV})"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    root = Path(args.root).expanduser() if args.root else runtimes_dir()
    try:
        names = (
            [normalise_ecosystem(n) for n in args.ecosystem]
            if args.ecosystem
            else list(_with_runtime())
        )
        found = runtimes_for(names, root=root, env={RUNTIMES_MODE_ENV: "provision"})
    except AutomationError as exc:
        _stderr(f"error: {exc}")
        return int(exc.exit_code)
    print(render(SetupReport(found, root), as_json=args.json))
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
