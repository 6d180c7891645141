"""Validation in a native environment: ``darwin-arm64`` / ``darwin-x86_64`` on a macOS runner.

No container: the kit's installer (or tsuku) runs on the runner itself, exactly as local validation
does, but the result lines carry the environment's id and platform (``darwin-arm64``), so merge
reads them as that platform's verdicts. Run anywhere else it refuses (exit 2): a darwin verdict
recorded on a Linux machine would admit the recipe on macOS without evidence.

``top`` samples the batch (the macOS budget, :mod:`automation.ops.budget`): only the top-N
recipes by queue priority are validated; the others are listed as deferred and get no line, so
their darwin platform stays untested (under the ``exclude`` policy the merge leaves it out of the
recipe's constraints).

The nightly run (``macos-nightly.yml``, :func:`validate_deferred`) takes those up: every recipe of
the registry that the environment never gave a verdict on and whose constraints leave its
platform out, highest priority first, as many as the budget pays for; a pass adds the platform to
the recipe's constraints (``invoke constrain``'s rule: the other platforms keep their admission).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.containers.environments import Environment, check_native_host
from automation.containers.runtimes import ecosystems_in, runtimes_for
from automation.containers.tsuku import KIT_INSTALLER, Installer
from automation.core.atomic import registry_lock
from automation.core.errors import ExitCode, StoppedError, UsageError
from automation.core.hostplatform import host_platform
from automation.core.layout import RegistryLayout
from automation.core.timefmt import now as utc_now
from automation.registry.budget import batch_priorities, sample_top
from automation.registry.constraints import (
    ConstraintFields,
    admitted_points,
    constrain_recipe_file,
    parse_platform,
)
from automation.registry.failures import iter_failures
from automation.registry.queue import load_queue
from automation.registry.recipes import load_recipe
from automation.registry.results import (
    ResultLine,
    read_results_file,
    results_files,
    write_result_lines,
)
from automation.stages.validate import ValidateReport, validate_batch_locally
from automation.stages.validate import _line_from_local as line_from_result
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


# --- the nightly run: recipes whose native platform the budget deferred -------------------------


@dataclass(frozen=True, slots=True)
class DeferredReport:
    """``invoke validate-deferred``: what the nightly run validated natively and admitted."""

    environment: str
    batch_id: str
    candidates: int
    lines: tuple[ResultLine, ...] = ()
    admitted: tuple[str, ...] = ()  # recipes whose constraints now admit the platform
    stopped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "batch_id": self.batch_id,
            "candidates": self.candidates,
            "validated": len(self.lines),
            "left": self.candidates - len(self.lines),
            "admitted": list(self.admitted),
            "results": [line.to_json() for line in self.lines],
            "stopped": self.stopped,
        }

    def to_text(self) -> str:
        lines = [
            f"{self.environment}: {len(self.lines)} of {self.candidates} deferred recipes "
            f"validated ({self.batch_id}); now admitted: {', '.join(self.admitted) or 'none'}"
        ]
        lines += [
            f"  {line.status:7} {line.recipe} {line.category or ''}/{line.subcategory or ''}"
            for line in self.lines
        ]
        if self.stopped:
            lines.append(f"stopped: {self.stopped}")
        return "\n".join(lines)

    @property
    def exit_code(self) -> ExitCode:
        if self.stopped:
            return ExitCode.STOPPED
        return (
            ExitCode.PARTIAL if any(line.status == "fail" for line in self.lines) else ExitCode.OK
        )


def deferred_candidates(layout: RegistryLayout, env: Environment) -> list[tuple[str, Path]]:
    """Recipes of the registry ``env`` never gave a verdict on and whose constraints leave its
    platform out: no result line of ``env`` in any ``data/results/*/<env>.jsonl`` and no failure
    record on its platform. Highest queue priority first (then by name)."""
    point = parse_platform(env.platform).point
    seen = {
        line.recipe
        for path in results_files(layout)
        if path.stem == env.id
        for line in read_results_file(path).lines
    }
    seen |= {r.name for r in iter_failures(layout) if r.environment in (env.id, env.platform)}
    priorities = {e.name.lower(): e.priority for e in load_queue(layout.queue).entries}
    found = []
    for path in layout.recipe_files():
        metadata = load_recipe(path).toml.get("metadata") or {}
        name = str(metadata.get("name") or path.stem)
        if name in seen or point in admitted_points(ConstraintFields.from_metadata(metadata)):
            continue
        found.append((priorities.get(name.lower(), 99), name, path))
    return [(name, path) for _, name, path in sorted(found)]


def validate_deferred(
    layout: RegistryLayout,
    env: Environment,
    *,
    limit: int,
    validator: LocalValidator | TsukuValidator | None = None,
    guard: Callable[[], None] = lambda: None,
    host: str | None = None,
    now: datetime | None = None,
) -> DeferredReport:
    """Validate up to ``limit`` of :func:`deferred_candidates` on this machine as ``env``, each
    result line into ``data/results/<date>-nightly/<env>.jsonl``; a pass is applied to the
    recipe with :func:`automation.registry.constraints.constrain_recipe_file` (its other
    platforms keep their admission, the tested one is admitted), a failure leaves it excluded
    and is not tried again. ``guard`` runs before each recipe (the emergency stop)."""
    if not env.native:
        raise UsageError(f"{env.id} is a container environment, not a native one")
    if limit < 0:
        raise UsageError("--limit must be at least 0")
    check_native_host(env, host or host_platform())
    batch_id = f"{(now or utc_now()).date().isoformat()}-nightly"
    results_path = layout.results_file(batch_id, env.id)
    with registry_lock(layout.lock_file):
        candidates = deferred_candidates(layout, env)
        chosen = candidates[:limit]
        texts = {name: path.read_text(encoding="utf-8") for name, path in chosen}
        if validator is None:
            documents = [tomllib.loads(text) for text in texts.values()]
            validator = LocalValidator(runtimes=runtimes_for(ecosystems_in(documents)))
        lines: list[ResultLine] = []
        admitted: list[str] = []
        for name, path in chosen:
            document = tomllib.loads(texts[name])
            try:
                guard()
            except StoppedError as exc:
                return DeferredReport(
                    env.id, batch_id, len(candidates), tuple(lines), tuple(admitted), str(exc)
                )
            result = validator.validate(document, texts[name])
            line = line_from_result(
                name, env.id, env.platform, batch_id, result, validator.installer.result_field
            )
            write_result_lines(results_path, [line])
            lines.append(line)
            if line.status == "pass" and constrain_recipe_file(path, [results_path]).changed:
                admitted.append(name)
    return DeferredReport(env.id, batch_id, len(candidates), tuple(lines), tuple(admitted))
