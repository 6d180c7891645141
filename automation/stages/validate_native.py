"""Validation in a native environment: ``darwin-arm64`` / ``darwin-x86_64`` on a macOS runner.

No container: the kit's installer (or tsuku) runs on the runner itself, exactly as local validation
does, but the result lines carry the environment's id and platform (``darwin-arm64``), so merge
reads them as that platform's verdicts. Run anywhere else it refuses (exit 2): a darwin verdict
recorded on a Linux machine would admit the recipe on macOS without evidence.

``top`` samples the batch (the macOS budget, :mod:`automation.ops.budget`): only the top-N
recipes by queue priority are validated; the others are listed as deferred and get no line, so
their darwin platform stays untested (the nightly run validates them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automation.containers.environments import Environment, check_native_host
from automation.containers.tsuku import KIT_INSTALLER, Installer
from automation.core.errors import ExitCode, UsageError
from automation.core.hostplatform import host_platform
from automation.core.layout import RegistryLayout
from automation.registry.budget import batch_priorities, sample_top
from automation.registry.results import ResultLine
from automation.stages.validate import ValidateReport, validate_batch_locally
from automation.stages.validate_local import LocalValidator, TsukuValidator


@dataclass(frozen=True, slots=True)
class NativeValidateReport:
    """A native environment's validation, with the recipes its sample deferred."""

    validate: ValidateReport
    deferred: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self.validate.to_json(), "deferred": list(self.deferred)}

    def to_text(self) -> str:
        text = self.validate.to_text()
        if self.deferred:
            text += "\ndeferred by the budget (nightly run): " + ", ".join(self.deferred)
        return text

    @property
    def exit_code(self) -> ExitCode:
        return self.validate.exit_code


def validate_native(
    layout: RegistryLayout,
    batch_id: str,
    env: Environment,
    *,
    top: int | None = None,
    installer: Installer = KIT_INSTALLER,
    guard: Callable[[str], None] = lambda _eco: None,
    progress: Callable[[ResultLine], None] = lambda _line: None,
    host: str | None = None,
    validator: LocalValidator | TsukuValidator | None = None,
) -> NativeValidateReport:
    """Validate ``batch_id`` on this machine as native environment ``env`` (see the module doc).

    ``host`` (default: this machine's platform) must be ``env``'s platform (UsageError);
    ``validator``: as for :func:`validate_batch_locally` (tests bring their own).
    """
    if not env.native:
        raise UsageError(f"{env.id} is a container environment, not a native one")
    check_native_host(env, host or host_platform())
    only: tuple[str, ...] | None = None
    deferred: tuple[str, ...] = ()
    if top is not None:
        if top < 0:
            raise UsageError("--top must be at least 0")
        batch = batch_priorities(layout, batch_id)
        only, deferred = sample_top(batch, top)
    report = validate_batch_locally(
        layout,
        batch_id,
        validator=validator,
        installer=installer,
        guard=guard,
        progress=progress,
        environment=env.id,
        platform=env.platform,
        only=only,
    )
    return NativeValidateReport(report, deferred)
