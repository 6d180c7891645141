"""The batch stages as run by the front doors: each builds its parts from the registry's
configuration and calls the pure core (``generate``, ``validate``, ``merge``)."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.containers.environments import Environment, load_environments
from automation.containers.tsuku import KIT_INSTALLER, Installer
from automation.core.atomic import atomic_write_text, registry_lock
from automation.core.config import load_config
from automation.core.errors import DataError, ExitCode, UnsafeNameError, UsageError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name
from automation.core.timefmt import format_timestamp, now
from automation.ecosystems import (
    adapter_for,
    build_any,
    fetcher_for,
    normalise_ecosystem,
    split_source,
)
from automation.ecosystems.recipe import BuildFailure
from automation.registry.control import Control, check_allowed_now, load_control, update_control
from automation.registry.queue import QueueEntry, load_queue
from automation.registry.reservation import Reservations, scan_reservations
from automation.registry.staging import GenerationOutcome, Staging, new_batch_id, shard_label
from automation.stages.generate import (
    Fetch,
    GenerateReport,
    generate_entries,
    in_shard,
    nothing_selected_reason,
    parse_shard,
)
from automation.stages.merge import MergeReport, merge_batch
from automation.stages.selection import select_batch
from automation.stages.validate import ValidateReport, validate_batch_locally
from automation.stages.validate_matrix import MatrixReport


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress_printer(verbose: bool) -> Callable[[GenerationOutcome], None]:
    def show(outcome: GenerationOutcome) -> None:
        if verbose:
            detail = (
                outcome.message
                if outcome.status == "skipped"
                else ", ".join(outcome.executables) or f"{outcome.category}/{outcome.subcategory}"
            )
            _say(f"  generate {outcome.status:9} {outcome.name} ({detail})")

    return show


GENERATE_LOCK_WAIT = 60.0  # selection holds the lock for milliseconds: shards queue up, not fail


def run_generate(
    layout: RegistryLayout,
    ecosystem: str,
    *,
    batch_size: int = 10,
    max_tier: int = 3,
    shard: str | None = None,
    batch_id: str | None = None,
    workers: int = 8,
    verbose: bool = False,
    lock_wait: float | None = None,
    fetch: Fetch | None = None,
    budget_seconds: float | None = None,
    force: Sequence[str] = (),
    progress: Callable[[GenerationOutcome], None] | None = None,
    retries_last: bool = False,
) -> GenerateReport:
    """Select entries (stops, breakers, backoff honoured), then generate them into staging.

    ``retries_last`` (``invoke grow``): entries never tried (``pending``) before failed ones
    whose backoff has passed, whatever their queue order (:func:`select_batch`).

    The batch's selection is made once and recorded in ``selection.json``; a rerun and every
    shard (``K/N``: the entries whose name hashes to K) work on that plan, so the shards of one
    batch together are exactly the unsharded batch. Entries reserved by another open batch are
    never taken (``automation.registry.reservation``). ``lock_wait``: seconds to wait for the
    registry
    lock (default :data:`GENERATE_LOCK_WAIT`). ``fetch`` replaces the adapters' HTTP fetch (tests).
    ``budget_seconds`` (default: ``[batch] budget_seconds`` / ``AUTOMATION_BATCH_BUDGET``, else
    none): entries not started when it runs out stay pending (``generate_entries``).

    ``force``: recipe names to build even though the registry has a recipe of that name (which
    merge then replaces, unless it is curated); every other such entry is logged ``skipped``.
    A new batch takes the forced entries first, whatever their status (``success`` included:
    that is what a skipped entry becomes), tier or backoff; a resumed batch must already hold
    them. A forced name without a queue entry of ``ecosystem``, excluded, or held by another
    open batch is a usage error.

    ``progress``: called with each outcome as it is logged (default: a line on stderr when
    ``verbose``).
    """
    ecosystem = normalise_ecosystem(ecosystem)
    adapter_for(ecosystem)  # a clear usage error for an ecosystem without a builder
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    forced = _forced_names(force)
    parsed_shard = parse_shard(shard)
    if parsed_shard is not None and not batch_id:
        raise UsageError("--shard needs --batch-id: every shard of a batch must name the same one")
    when = now()
    batch_id = batch_id or new_batch_id(ecosystem, when)
    staging = Staging(layout, batch_id, parsed_shard)
    wait = GENERATE_LOCK_WAIT if lock_wait is None else lock_wait
    check_allowed_now(layout, ecosystem)  # stopped: exit 5 before anything is written
    # One writer per generation log: a second run of the same shard fails fast (exit 5).
    label = shard_label(parsed_shard) or "all"
    with registry_lock(layout.cache_dir / "locks" / f"{batch_id}-{label}.lock", timeout=0):
        held: str | None = None
        nothing: tuple[str, str] | None = None
        with registry_lock(layout.lock_file, timeout=wait):
            queue = load_queue(layout.queue)
            # Scanned in the critical section that saves the selection (which is the reservation).
            reservations = scan_reservations(layout, when, own_batch=batch_id)
            planned = staging.selection()
            free, reserved_skips = reservations.withhold(queue.entries, ecosystem, planned)
            if planned is None:
                control = load_control(layout.control_file)
                first = _forced_entries(forced, queue.entries, free, reservations, ecosystem)
                rest = [e for e in free if e.name.lower() not in forced]
                room = max(batch_size - len(first), 0)
                selection = select_batch(
                    rest, control, when, room, max_tier, ecosystem, retries_last=retries_last
                )
                planned = [e.name for e in (*first, *selection.entries)]
                if not planned:
                    # First use (or a drained queue): write no batch, say how to get entries.
                    nothing = nothing_selected_reason(
                        queue.entries, ecosystem, max_tier, len(reserved_skips)
                    )
                else:
                    staging.save_selection(ecosystem, planned, format_timestamp(when))
                held = selection.held.get(ecosystem)
                changed = {
                    eco: state
                    for eco, state in selection.control.breakers.items()
                    if state != control.breaker(eco)
                }
                if changed:
                    # Apply only the breaker changes (probe cursors) to the file as it is now:
                    # writing back the whole value read above would undo a stop made meanwhile.
                    def advance(current: Control) -> Control:
                        for eco, state in changed.items():
                            current = current.with_breaker(eco, state)
                        return current

                    update_control(layout, advance)
            else:
                _check_forced_in_plan(forced, planned, batch_id)
            by_name = {e.name.lower(): e for e in free}
            entries = [
                by_name[name.lower()]
                for name in planned
                if name.lower() in by_name and in_shard(name, parsed_shard)
            ]
        if nothing is None:
            staging.touch_log()

        def annotated(report: GenerateReport) -> GenerateReport:
            report.reserved_skips, report.reservations = reserved_skips, reservations
            for warning in reservations.warnings():
                _say(warning)
            return report

        if not entries:
            report = GenerateReport(batch_id=batch_id, ecosystem=ecosystem)
            report.stopped = f"nothing to do: {held}" if held else None
            if nothing is not None:
                report.nothing_selected, report.hint = nothing
            return annotated(report)
        guard = lambda eco: check_allowed_now(layout, eco)  # noqa: E731
        # A shard of N takes 1/N of each endpoint's rate (automation.core.ratelimit).
        config = load_config(layout.root).for_shard(parsed_shard)
        budget = config.batch_budget if budget_seconds is None else budget_seconds
        if fetch is not None:
            return annotated(
                generate_entries(
                    staging,
                    entries,
                    fetch=fetch,
                    build=build_any,
                    guard=guard,
                    workers=workers,
                    progress=progress or _progress_printer(verbose),
                    budget_seconds=budget,
                    force=forced,
                )
            )
        with HttpClient(config) as http:
            return annotated(
                generate_entries(
                    staging,
                    entries,
                    fetch=fetcher_for(http),
                    build=build_any,
                    guard=guard,
                    workers=workers,
                    progress=progress or _progress_printer(verbose),
                    budget_seconds=budget,
                    force=forced,
                )
            )


def _forced_names(names: Sequence[str]) -> frozenset[str]:
    """``--force`` values, lowercased; a value that is no recipe name is a usage error."""
    out = set()
    for name in names:
        try:
            out.add(check_recipe_name(name.strip().lower()))
        except UnsafeNameError as exc:
            raise UsageError(f"--force {name!r}: not a recipe name ({exc})") from None
    return frozenset(out)


def _forced_entries(
    forced: frozenset[str],
    queue: Sequence[QueueEntry],
    free: Sequence[QueueEntry],
    reservations: Reservations,
    ecosystem: str,
) -> list[QueueEntry]:
    """The queue entries ``--force`` names, in queue order; UsageError for one it cannot take."""
    if not forced:
        return []
    entries = {e.name.lower(): e for e in queue}
    free_names = {e.name.lower() for e in free}
    holders = reservations.holders()
    for name in sorted(forced):
        entry = entries.get(name)
        if entry is None or entry.ecosystem != ecosystem:
            raise UsageError(f"--force {name}: the queue has no {ecosystem} entry named {name}")
        if entry.status == "excluded":
            raise UsageError(
                f"--force {name}: its queue entry is excluded (no builder can make it)"
            )
        if name not in free_names:
            raise UsageError(
                f"--force {name}: reserved by open batch {holders.get(name, '?')}; merge or "
                "abandon that batch first"
            )
    return [e for e in queue if e.name.lower() in forced]


def _check_forced_in_plan(forced: frozenset[str], planned: Sequence[str], batch_id: str) -> None:
    """A resumed batch keeps its recorded entries: a forced name must be one of them."""
    missing = sorted(forced - {name.lower() for name in planned})
    if missing:
        raise UsageError(
            f"--force {missing[0]}: not an entry of batch {batch_id} (its entries were chosen "
            f"when it started); start a new batch with --force {missing[0]}"
        )


@dataclass
class CreateReport:
    source: str
    name: str
    output: str | None
    text: str | None
    failure: BuildFailure | None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.failure else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "output": self.output,
            "recipe": self.text,
            "failure": None
            if self.failure is None
            else {
                "category": self.failure.category,
                "subcategory": self.failure.subcategory,
                "message": self.failure.message,
            },
        }

    def to_text(self) -> str:
        if self.failure:
            f = self.failure
            return f"{self.source}: {f.category}/{f.subcategory}: {f.message}"
        where = f"wrote {self.output}\n" if self.output else ""
        return where + (self.text or "")


def run_create(
    layout: RegistryLayout, source: str, *, name: str | None = None, output: str | None = None
) -> CreateReport:
    """Build one recipe outside the queue (how a contributor adds or backfills one tool)."""
    try:
        ecosystem, identifier = split_source(source)
    except DataError as exc:
        raise UsageError(f"--from: {exc.detail} (expected <ecosystem>:<identifier>)") from None
    if name is None:
        from automation.stages.seed import (
            recipe_namer,  # seeding's naming rule (github: curated names)
        )

        name = recipe_namer(ecosystem)(identifier)
    config = load_config(layout.root)
    with HttpClient(config) as http:
        try:
            package = fetcher_for(http)(ecosystem, identifier)
        except UsageError:
            raise
        except Exception as exc:
            from automation.stages.generate import classify_fetch_error

            category, subcategory = classify_fetch_error(exc)
            return CreateReport(
                source, name, None, None, BuildFailure(category, subcategory, str(exc))
            )
    result = build_any(ecosystem, name, package)
    if isinstance(result, BuildFailure):
        return CreateReport(source, name, None, None, result)
    target = None
    if output:
        target = Path(output)
        if target.exists():
            raise UsageError(f"{target} exists; remove it or choose another --output")
        atomic_write_text(target, result.text)
    return CreateReport(source, name, str(target) if target else None, result.text, None)


@dataclass
class PipelineReport:
    ecosystem: str
    seed: Any = None
    generate: GenerateReport | None = None
    validate: ValidateReport | MatrixReport | None = None
    merge: MergeReport | None = None
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        codes = [r.exit_code for r in (self.seed, self.generate, self.validate, self.merge) if r]
        if ExitCode.STOPPED in codes:
            return ExitCode.STOPPED
        return ExitCode.PARTIAL if any(c != ExitCode.OK for c in codes) else ExitCode.OK

    def summary_rows(self) -> list[tuple[str, str]]:
        rows = []
        if self.seed is not None:
            rows.append(("seeded", f"{len(self.seed.accepted)} new queue entries"))
        if self.generate is not None:
            g = self.generate
            skipped = g.counts["skipped"]
            rows.append(
                (
                    "generated",
                    f"{g.counts['generated']} of {g.attempted} ({g.counts['failed']} failed)"
                    + (f", {skipped} skipped: recipe exists" if skipped else ""),
                )
            )
        if self.validate is not None:
            v = self.validate
            rows.append(
                (
                    f"validated ({v.environment})",
                    f"{v.counts['pass']} pass, {v.counts['fail']} fail",
                )
            )
        if self.merge is not None:
            m = self.merge.counts
            rows.append(("merged", ", ".join(f"{n} {k}" for k, n in sorted(m.items())) or "-"))
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "exit_code": int(self.exit_code),
            "stage_seconds": {k: round(v, 2) for k, v in self.stages.items()},
            "seed": self.seed.to_json() if self.seed else None,
            "generate": self.generate.to_json() if self.generate else None,
            "validate": self.validate.to_json() if self.validate else None,
            "merge": self.merge.to_json() if self.merge else None,
        }

    def to_text(self) -> str:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"pipeline {self.ecosystem}")
        table.add_column("stage")
        table.add_column("result")
        table.add_column("seconds", justify="right")
        keys = {"seeded": "seed", "generated": "generate", "merged": "merge"}
        for stage, result in self.summary_rows():
            key = keys.get(stage, "validate")
            table.add_row(stage, result, f"{self.stages.get(key, 0):.1f}")
        console = Console(record=True, width=110, file=io.StringIO())
        console.print(table)
        text = console.export_text()
        if self.generate is not None and self.generate.nothing_selected is not None:
            text += "\n" + self.generate.to_text()
        if self.merge is not None:
            text += "\n" + self.merge.to_text()
        return text


def run_pipeline(
    layout: RegistryLayout,
    ecosystem: str,
    *,
    limit: int = 3,
    environment: str | Sequence[str] = "local",
    seed: bool = True,
    jobs: int = 2,
    force: Sequence[str] = (),
    installer: Installer = KIT_INSTALLER,
    skip_failed_locally: bool = True,
) -> PipelineReport:
    """seed -> generate -> validate -> merge, with progress on stderr and a summary at the end.

    ``environment``: ``local`` (default), container environment ids, or ``all-local``. With
    container environments, ``local`` runs first as well (it discovers the ``[verify]`` pattern
    the containers then check), so merge sees the whole per-environment matrix. ``force``: as
    for :func:`run_generate` (recipes to replace). ``installer``: the kit's own (default) or a
    tsuku binary, in every environment. ``skip_failed_locally`` (default on): a recipe that
    failed locally for a package-level cause is not installed in the containers, whose lines
    say ``skipped``/``failed_locally``.
    """
    ecosystem = normalise_ecosystem(ecosystem)
    environments = _with_local([environment] if isinstance(environment, str) else environment)
    report = PipelineReport(ecosystem)
    if seed:
        from automation.stages.seed import seed_registry

        _say(f"[1/4] seeding {limit} {ecosystem} candidates ...")
        started = time.monotonic()
        report.seed = seed_registry(layout.root, ecosystem, limit)
        report.stages["seed"] = time.monotonic() - started
        if report.seed.stopped:
            return report
    _say(f"[2/4] generating up to {limit} recipes ...")
    started = time.monotonic()
    report.generate = run_generate(layout, ecosystem, batch_size=limit, verbose=True, force=force)
    report.stages["generate"] = time.monotonic() - started
    if not report.generate.outcomes:
        return report
    batch_id = report.generate.batch_id
    _say(f"[3/4] validating batch {batch_id} in {', '.join(environments)} ...")
    started = time.monotonic()
    if environments == ["local"]:
        report.validate = validate_batch_locally(
            layout,
            batch_id,
            installer=installer,
            guard=lambda eco: check_allowed_now(layout, eco),
            progress=lambda line: _say(
                f"  validate {line.status:7} {line.recipe} "
                f"{line.category or ''}/{line.subcategory or ''}"
            ),
        )
    else:
        from automation.stages.validate_matrix import validate_matrix

        report.validate = validate_matrix(
            layout,
            batch_id,
            environments,
            jobs=jobs,
            guard=lambda eco: check_allowed_now(layout, eco),
            progress=_say,
            installer=installer,
            skip_failed_locally=skip_failed_locally,
        )
    report.stages["validate"] = time.monotonic() - started
    _say(f"[4/4] merging batch {batch_id} ...")
    started = time.monotonic()
    report.merge = merge_batch(layout, batch_id)
    report.stages["merge"] = time.monotonic() - started
    return report


def _with_local(environments: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(environments or ["local"]))
    return ids if "local" in ids else ["local", *ids]


def _native_environments(ids: Sequence[str]) -> list[Environment]:
    """The native environments among ``ids`` (``local`` and container ids are not)."""
    if all(i in ("local", "all-local") for i in ids):
        return []
    native = {env.id: env for env in load_environments(native=True) if env.native}
    return [native[i] for i in ids if i in native]


def run_validate(
    layout: RegistryLayout,
    batch_id: str,
    environment: str | Sequence[str],
    *,
    jobs: int = 2,
    installer: Installer = KIT_INSTALLER,
    skip_failed_locally: bool = False,
    top: int | None = None,
) -> Any:
    """``local``: this machine; container ids (or ``all-local``): those environments, side by
    side, ``jobs`` at a time; both may be named (local runs first). ``installer``: the kit's own
    (default) or a tsuku binary. ``skip_failed_locally``: as for :func:`run_pipeline` (off
    here unless asked). A native environment (``darwin-arm64``) is validated alone, on a runner
    of its platform; ``top`` samples its batch (the macOS budget)."""
    environments = [environment] if isinstance(environment, str) else list(environment)
    check_allowed_now(layout, None)  # stopped: exit 5 before an engine is even looked for
    native = _native_environments(environments)
    if native:
        if len(environments) != 1:
            raise UsageError(
                f"{native[0].id} is validated natively, alone on its runner: "
                "name it as the only --env"
            )
        from automation.stages.validate_native import validate_native

        return validate_native(
            layout,
            batch_id,
            native[0],
            top=top,
            installer=installer,
            guard=lambda eco: check_allowed_now(layout, eco),
        )
    if top is not None:
        raise UsageError("--top samples a native environment's batch (darwin-arm64, ...) only")
    if environments in ([], ["local"]):
        return validate_batch_locally(
            layout,
            batch_id,
            installer=installer,
            guard=lambda eco: check_allowed_now(layout, eco),
        )
    from automation.stages.validate_matrix import validate_matrix

    return validate_matrix(
        layout,
        batch_id,
        environments,
        jobs=jobs,
        guard=lambda eco: check_allowed_now(layout, eco),
        progress=_say,
        installer=installer,
        skip_failed_locally=skip_failed_locally,
    )
