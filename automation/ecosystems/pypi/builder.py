"""PyPI's builder: the shared ``pipx_install`` recipe, minus the commands a bare install cannot run.

A console script that imports what only an optional extra installs (``httpx`` needs
``httpx[cli]``, ``dotenv`` needs ``python-dotenv[cli]``) fails when run after ``pip install
<project>``. tsuku's ``pipx_install`` cannot install an extra: its ``package`` parameter is the
bare PyPI project name. The version resolver looks it up at ``/pypi/<package>/json`` and refuses
a name with brackets (internal/version/pypi.go ``isValidPyPIPackageName``), as does the plan's
decomposition (internal/actions/pipx_install.go ``isValidPyPIPackage``). So:

* when the command the recipe verifies (the one matching the project) needs an extra, the build
  fails with ``missing_extra``, naming the extra and the evidence;
* other commands that need an extra (``blackd`` of ``black`` needs ``black[d]``) are left out of
  the recipe's executables: a bare install ships them but they cannot run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from automation.ecosystems.packaged import build_packaged
from automation.ecosystems.pypi.extras import ExtraNeed
from automation.ecosystems.recipe import (
    BuildFailure,
    BuiltRecipe,
    UpstreamPackage,
    safe_executables,
    verify_executable_for,
)

MISSING_EXTRA = "missing_extra"


@dataclass(frozen=True, slots=True)
class PypiUpstream(UpstreamPackage):
    """An ``UpstreamPackage`` with what the wheel says of its scripts' optional extras."""

    script_extras: Mapping[str, ExtraNeed] = field(default_factory=dict)


def _extra_message(package: UpstreamPackage, script: str, need: ExtraNeed) -> str:
    where = f"pypi:{package.identifier} {package.version}: its command {script!r}"
    if not need.extras:
        return (
            f"{where} needs an optional extra this kit cannot name ({need.reason}); "
            "tsuku's pipx_install installs the bare project"
        )
    spec = f"{package.identifier}[{','.join(need.extras)}]"
    plural = "extras" if len(need.extras) > 1 else "extra"
    return (
        f"{where} needs the optional {plural} {', '.join(need.extras)} "
        f"(pip install '{spec}'): {need.reason}; tsuku's pipx_install installs the bare project"
    )


def build_pypi(name: str, package: UpstreamPackage) -> BuiltRecipe | BuildFailure:
    """``build_packaged`` for the project, or ``missing_extra`` when its main command needs an
    extra; commands needing one are left out (pure, deterministic)."""
    needs = package.script_extras if isinstance(package, PypiUpstream) else {}
    executables, _ = safe_executables(package.executables)
    if not needs or not executables:
        return build_packaged(name, package)
    main = verify_executable_for(package.identifier, executables)
    if main in needs:
        first = build_packaged(name, package)  # unsafe names, no executables, runtime first
        if isinstance(first, BuildFailure):
            return first
        return BuildFailure(
            "generation_failed",
            MISSING_EXTRA,
            _extra_message(package, main, needs[main]),
            version=package.version,
        )
    runnable = tuple(e for e in package.executables if e not in needs)
    return build_packaged(name, replace(package, executables=runnable))
