"""Validate one batch in several environments: this machine (``local``) and containers.

``local`` runs first and alone: it is where a recipe's ``[verify]`` command and pattern are
discovered from what the tool really prints, and written into the staged recipe. The container
environments then check that same recipe, side by side (``jobs`` at a time), and each writes its
own ``data/results/<batch>/<environment>.jsonl``. Merge derives constraints from all of them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automation.containers.tsuku import KIT_INSTALLER, Installer
from automation.core.errors import ExitCode, UsageError
from automation.core.layout import RegistryLayout
from automation.registry.results import ResultLine
from automation.stages.validate import ValidateReport, validate_batch_locally

if TYPE_CHECKING:
    from automation.containers.validate import ReviewGate, ValidationReport, ValidationResult

LOCAL = "local"


@dataclass(frozen=True, slots=True)
class MatrixReport:
    """The local report (if ``local`` was asked for) and the containers' report."""

    batch_id: str
    local: ValidateReport | None
    containers: ValidationReport | None
    seconds: float

    @property
    def environment(self) -> str:
        names = [LOCAL] if self.local is not None else []
        if self.containers is not None:
            names += list(self.containers.environments)
        return ", ".join(names)

    @property
    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for part in (self.local, self.containers):
            if part is not None:
                total.update(part.counts)
        return total

    @property
    def exit_code(self) -> ExitCode:
        codes = [p.exit_code for p in (self.local, self.containers) if p is not None]
        if ExitCode.STOPPED in codes:
            return ExitCode.STOPPED
        return ExitCode.PARTIAL if any(c != ExitCode.OK for c in codes) else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "environments": self.environment.split(", ") if self.environment else [],
            "seconds": round(self.seconds, 2),
            "local": self.local.to_json() if self.local is not None else None,
            "containers": self.containers.to_json() if self.containers is not None else None,
        }

    def to_text(self) -> str:
        parts = [p.to_text() for p in (self.local, self.containers) if p is not None]
        return "\n".join(parts)


def split_environments(environments: Sequence[str]) -> tuple[bool, list[str]]:
    """(whether ``local`` is asked for, the container environment ids in order)."""
    ids = list(dict.fromkeys(environments or [LOCAL]))
    return LOCAL in ids, [e for e in ids if e != LOCAL]


def validate_matrix(
    layout: RegistryLayout,
    batch_id: str,
    environments: Sequence[str],
    *,
    jobs: int = 2,
    guard: Callable[[str], None] = lambda _eco: None,
    progress: Callable[[str], None] = lambda _text: None,
    installer: Installer = KIT_INSTALLER,
    skip_failed_locally: bool = False,
    overlap: bool = True,
    on_result: Callable[[str, str], None] = lambda _env, _status: None,
    skip_held: bool = False,
    installs: int = 1,
) -> MatrixReport:
    """Validate ``batch_id`` in ``local`` (first, if named) and the container environments,
    every one of them with ``installer``. ``on_result(environment, status)`` is called once per
    result (progress bars). ``skip_failed_locally``: a recipe whose local line is
    a package-level failure or a timeout is not installed in the containers; each gets a
    ``skipped``/``failed_locally`` line instead (``validate_batch_in_environments``).

    ``skip_held``: a recipe that passed locally but that a gate decided by the recipe alone
    holds for review (``run_command``; a ``[verify]`` with no version under the registry's
    ``merge.verify = "version"``) is not installed in the containers either: merge would hold
    it whatever they said. Each gets a ``skipped``/``held_for_review`` line instead.

    ``overlap`` (default): the containers start on a recipe as soon as local has written its
    line (and the ``[verify]`` it discovered) instead of after the whole batch: local's one
    process leaves a core idle otherwise. Every recipe is still checked in the containers
    after, and against what, local found.

    ``installs``: recipes installed side by side in each environment (local, and each
    container environment): an install mostly waits on the network, so on a small machine two
    or three at a time finish a batch sooner than one."""
    run_local, container_ids = split_environments(environments)
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if installs < 1:
        raise UsageError("--installs must be at least 1")
    started = time.monotonic()
    review_gate = registry_review_gate(layout) if skip_held and run_local else None
    if run_local and container_ids and overlap:
        return _overlapped(
            layout,
            batch_id,
            container_ids,
            jobs,
            guard,
            progress,
            installer,
            skip_failed_locally,
            on_result,
            review_gate,
            installs,
        )
    local = None
    if run_local:
        local = validate_batch_locally(
            layout,
            batch_id,
            installer=installer,
            guard=guard,
            progress=_local_shower(progress, on_result),
            jobs=installs,
        )
        if local.stopped:
            return MatrixReport(batch_id, local, None, time.monotonic() - started)
    containers = None
    if container_ids:
        from automation.containers.validate import validate_batch_in_environments

        containers = validate_batch_in_environments(
            layout,
            batch_id,
            container_ids,
            jobs=jobs,
            guard=guard,
            progress=_shower(progress, on_result),
            installer=installer,
            skip_failed_locally=skip_failed_locally,
            review_gate=review_gate,
            per_environment=installs,
        )
    return MatrixReport(batch_id, local, containers, time.monotonic() - started)


def registry_review_gate(layout: RegistryLayout) -> ReviewGate:
    """The gates a recipe alone decides (:func:`~automation.stages.gates.recipe_review_reasons`),
    with the registry's own merge settings (``automation.toml``)."""
    from automation.stages.gates import recipe_review_reasons
    from automation.stages.merge import registry_gate_config

    config = registry_gate_config(layout)
    return lambda recipe: recipe_review_reasons(recipe.document, recipe.text, config)


Shown = Callable[[str, str], None]


def _shower(
    progress: Callable[[str], None], on_result: Shown
) -> Callable[[ValidationResult], None]:
    def show(result: ValidationResult) -> None:
        on_result(result.environment, result.status)
        progress(
            f"  validate {result.environment:<13} {result.status:7} {result.recipe} "
            f"{result.category or ''}/{result.subcategory or ''} "
            f"({result.timings.get('wall', 0):.1f}s)"
        )

    return show


def _local_shower(
    progress: Callable[[str], None], on_result: Shown
) -> Callable[[ResultLine], None]:
    def show(line: ResultLine) -> None:
        on_result(LOCAL, line.status)
        progress(
            f"  validate local        {line.status:7} {line.recipe} "
            f"{line.category or ''}/{line.subcategory or ''}"
        )

    return show


def _interruptible_result(future: Future[ValidationReport]) -> ValidationReport:
    """``future.result()``, woken twice a second: a signal delivered to another thread
    (Ctrl-C, SIGTERM) only raises in this one when it runs Python code, not while it sleeps
    in one lock acquisition."""
    while True:
        try:
            return future.result(timeout=0.5)
        except TimeoutError:
            continue


def _overlapped(
    layout: RegistryLayout,
    batch_id: str,
    container_ids: Sequence[str],
    jobs: int,
    guard: Callable[[str], None],
    progress: Callable[[str], None],
    installer: Installer,
    skip_failed_locally: bool,
    on_result: Shown,
    review_gate: ReviewGate | None,
    installs: int = 1,
) -> MatrixReport:
    """Local in this thread, the containers in another, each recipe as soon as local is done
    with it (:class:`~automation.containers.validate.LocalFeed`)."""
    from automation.containers.validate import LocalFeed, validate_batch_in_environments

    started = time.monotonic()
    feed = LocalFeed.of_batch(layout, batch_id, skip_failed_locally=skip_failed_locally)
    stop = threading.Event()
    show_local = _local_shower(progress, on_result)

    def local_progress(line: ResultLine) -> None:
        feed.add(line)
        show_local(line)

    with ThreadPoolExecutor(max_workers=1) as pool:
        containers = pool.submit(
            validate_batch_in_environments,
            layout,
            batch_id,
            container_ids,
            jobs=jobs,
            guard=guard,
            progress=_shower(progress, on_result),
            installer=installer,
            skip_failed_locally=skip_failed_locally,
            wait_for=feed,
            stop=stop,
            review_gate=review_gate,
            per_environment=installs,
        )
        try:
            try:
                local = validate_batch_locally(
                    layout,
                    batch_id,
                    installer=installer,
                    guard=guard,
                    progress=local_progress,
                    jobs=installs,
                )
            finally:
                feed.finish()
            if local.stopped:
                stop.set()
            report = _interruptible_result(containers)
        except BaseException:
            # Ctrl-C (or SIGTERM, which the front door turns into one) or a crash, while local
            # runs or while the containers finish: they end what they run, take no more.
            stop.set()
            raise
    return MatrixReport(batch_id, local, report, time.monotonic() - started)
