"""Grow a registry to a target count of recipes: seed -> generate -> validate -> merge, batch
after batch, across ecosystems, resumable after any interruption (``invoke grow``).

A *round* gives each ecosystem still able to grow one batch, in the order given (``--ecosystem
pypi --ecosystem npm`` alternates them). For each batch: when the queue holds fewer selectable
entries of the ecosystem than the batch needs, seeding widens its window (while one batch
validates, the next ecosystem's seeding runs beside it: seeding waits on the network, validation
on the CPU; it ends before the batch merges, as both write the queue); generation, validation
(``local`` first, then the containers) and merge are the pipeline's own stage functions
(:class:`GrowStages`, built from ``automation.stages.pipeline`` and ``merge``; tests inject
fakes). The run stops when ``recipes/`` holds the target, when every ecosystem is exhausted (its
generation selects nothing and seeding finds nothing new), when :data:`IDLE_ROUNDS` rounds in a
row merge nothing, or when a stage is stopped (emergency stop, breaker).

Nothing is redone after an interruption. ``data/grow-state.json`` (schema
``schemas/grow-state.schema.json``, replaced whole at every stage boundary) records the rounds,
each batch with its id and the stage it reached. The batch id is chosen and recorded before
generation starts, so a rerun hands the same id to the stages, which resume it themselves:
generation skips what its log holds, validation what its result lines hold
(``skipped_already_done``), merge finishes or reports an already merged batch. Merged batches
are never revisited.

The state decides nothing a registry file does not also say: recipe counts are read from
``recipes/`` (ecosystem by the queue entry of the same name), pass rates from the batches'
result lines, failure codes from their merge decisions.
"""

from __future__ import annotations

import io
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from automation.core import schemas
from automation.core.atomic import atomic_write_json, registry_lock
from automation.core.errors import DataError, ExitCode, UsageError
from automation.core.jsondata import read_json
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp
from automation.ecosystems import normalise_ecosystem, split_source
from automation.registry.queue import load_queue
from automation.registry.reservation import abandoned_dir
from automation.registry.results import read_results_file
from automation.registry.staging import Staging, new_batch_id

STATE_SCHEMA = "grow-state"
IDLE_ROUNDS = 3  # rounds in a row that merge nothing end the run
LOCAL = "local"
# Batch stages as recorded, in order; "empty": generation selected nothing.
STAGES = ("seeding", "generating", "validating", "merging", "merged", "empty")
DONE_STAGES = frozenset({"merged", "empty", "abandoned"})
TERMINAL = frozenset({"reached", "exhausted", "idle", "stopped"})

Tick = Callable[[str], None]  # one item of a stage done: "generate", "validate <env>"


def state_path(layout: RegistryLayout) -> Path:
    return layout.root / "data" / f"{STATE_SCHEMA}.json"


# --- the stages, injectable --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrowStages:
    """The pipeline's stage functions as grow calls them (tests pass fakes).

    ``seed(layout, ecosystem, limit)`` returns a report with ``accepted`` (a list) and
    ``stopped``; ``generate(layout, ecosystem, batch_size, batch_id, tick)`` a
    ``GenerateReport``-like value (``outcomes``, ``counts``, ``nothing_selected``, ``stopped``);
    ``validate(layout, batch_id, environments, tick)`` a report with ``exit_code``;
    ``merge(layout, batch_id)`` a ``MergeReport``-like value (``decisions``, ``counts``).
    """

    seed: Callable[[RegistryLayout, str, int], Any]
    generate: Callable[[RegistryLayout, str, int, str, Tick], Any]
    validate: Callable[[RegistryLayout, str, Sequence[str], Tick], Any]
    merge: Callable[[RegistryLayout, str], Any]


def pipeline_stages(
    *, jobs: int = 2, installs: int = 1, review_dir: Path | None = None
) -> GrowStages:
    """The real stages: ``seed_registry``, ``run_generate``, ``validate_batch_locally`` /
    ``validate_matrix`` and ``merge_batch`` (imported when called: tests never load them).
    ``installs``: recipes installed side by side in each environment.
    ``review_dir``: each merge writes its batch's review (the pull-request body: every held
    recipe's reasons, results and TOML) to ``<review_dir>/<batch>.md``."""

    def seed(layout: RegistryLayout, ecosystem: str, limit: int) -> Any:
        from automation.stages.seed import seed_registry

        return seed_registry(layout.root, ecosystem, limit)

    def generate(
        layout: RegistryLayout, ecosystem: str, size: int, batch_id: str, tick: Tick
    ) -> Any:
        from automation.stages.pipeline import run_generate

        # New packages before retries of failed ones (most failures repeat: same release).
        return run_generate(
            layout,
            ecosystem,
            batch_size=size,
            batch_id=batch_id,
            progress=lambda _o: tick(""),
            retries_last=True,
        )

    def validate(
        layout: RegistryLayout, batch_id: str, environments: Sequence[str], tick: Tick
    ) -> Any:
        from automation.registry.control import check_allowed_now
        from automation.stages.validate import validate_batch_locally
        from automation.stages.validate_matrix import validate_matrix

        guard = lambda eco: check_allowed_now(layout, eco)  # noqa: E731
        if list(environments) == [LOCAL]:
            return validate_batch_locally(
                layout, batch_id, guard=guard, progress=lambda _line: tick(LOCAL), jobs=installs
            )
        # As ``invoke pipeline``: a package that fails locally is not installed again in every
        # container (its container lines say ``failed_locally``); local and containers overlap.
        # Unlike it, a recipe a gate holds for review whatever the containers say (run_command,
        # no version to verify) is not installed in them either (``held_for_review``): growing
        # spends the machine on recipes that can merge; a reviewer validates a held one.
        return validate_matrix(
            layout,
            batch_id,
            environments,
            jobs=jobs,
            guard=guard,
            on_result=lambda e, _s: tick(e),
            skip_failed_locally=True,
            skip_held=True,
            installs=installs,
        )

    def merge(layout: RegistryLayout, batch_id: str) -> Any:
        from automation.stages.merge import merge_batch

        review = None if review_dir is None else review_dir / f"{batch_id}.md"
        return merge_batch(layout, batch_id, pr_body=review)

    return GrowStages(seed, generate, validate, merge)


# --- what the registry holds -------------------------------------------------------------------


def recipe_counts(layout: RegistryLayout) -> dict[str, int]:
    """Recipes in ``recipes/`` by ecosystem (the queue entry of the same name; ``other`` for a
    recipe without one), plus ``total``."""
    by_name: dict[str, str] = {}
    if layout.queue.exists():
        for entry in load_queue(layout.queue).entries:
            try:
                by_name[entry.name.lower()] = split_source(entry.source)[0]
            except DataError:
                continue
    counts: Counter[str] = Counter()
    for path in layout.recipe_files():
        counts[by_name.get(path.stem.lower(), "other")] += 1
    return {"total": sum(counts.values()), **dict(sorted(counts.items()))}


def selectable(layout: RegistryLayout, ecosystem: str) -> int:
    """Queue entries of ``ecosystem`` a batch may take now (status ``pending``)."""
    if not layout.queue.exists():
        return 0
    return sum(
        1
        for e in load_queue(layout.queue).entries
        if e.status == "pending" and e.source.startswith(f"{ecosystem}:")
    )


def queued(layout: RegistryLayout, ecosystem: str) -> int:
    if not layout.queue.exists():
        return 0
    return sum(1 for e in load_queue(layout.queue).entries if e.source.startswith(f"{ecosystem}:"))


def batch_results(layout: RegistryLayout, batch_id: str) -> dict[str, dict[str, int]]:
    """Per environment, the batch's result lines by status (the last line of each recipe)."""
    out: dict[str, dict[str, int]] = {}
    folder = layout.results_dir / batch_id
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.jsonl")):
        latest: dict[str, str] = {}
        for line in read_results_file(path).lines:
            latest[line.recipe] = line.status
        counts = Counter(latest.values())
        out[path.stem] = {k: counts[k] for k in ("pass", "fail", "skipped")}
    return out


def merged_recipes(layout: RegistryLayout, batch_id: str) -> int:
    """Recipes a merged batch wrote, from its manifest (0 when it has none)."""
    from automation.registry.manifest import load_manifest

    if not layout.batch_manifest(batch_id).exists():
        return 0
    manifest = load_manifest(layout, batch_id)
    return sum(1 for change in manifest.files if change.path.startswith("recipes/"))


def failure_codes(merge_report: Any) -> dict[str, int]:
    """``category/subcategory`` (or the action) of every decision of a merge but merged/skipped."""
    codes: Counter[str] = Counter()
    for decision in getattr(merge_report, "decisions", []):
        if decision.action in ("merged", "skipped"):
            continue
        code = "/".join(p for p in (decision.category, decision.subcategory) if p)
        codes[code or decision.action] += 1
    return dict(sorted(codes.items()))


# --- the state file ----------------------------------------------------------------------------


def load_state(layout: RegistryLayout) -> dict[str, Any] | None:
    """``data/grow-state.json`` checked against its schema; None when there is none."""
    path = state_path(layout)
    if not path.exists():
        return None
    document, problem = read_json(path, str(path))
    if problem is not None:
        raise DataError(problem.message, path=str(path), where=problem.where)
    problems = schemas.check(document, STATE_SCHEMA, path=str(path))
    if problems:
        raise DataError(problems[0].message, path=str(path), where=problems[0].where)
    state: dict[str, Any] = document
    return state


def save_state(layout: RegistryLayout, state: dict[str, Any]) -> None:
    """Check, then replace the state file whole (temp file, fsync, rename)."""
    path = state_path(layout)
    problems = schemas.check(state, STATE_SCHEMA, path=str(path))
    if problems:
        raise DataError(f"refusing to write an invalid grow state: {problems[0]}", path=str(path))
    atomic_write_json(path, state)


def new_state(plan: GrowPlan, counts: Mapping[str, int], stamp: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "status": "running",
        "message": "",
        "target": plan.target,
        "ecosystems": list(plan.ecosystems),
        "environments": list(plan.environments),
        "batch_size": plan.batch_size,
        "started_at": stamp,
        "updated_at": stamp,
        "finished_at": None,
        "seconds": 0.0,
        "before": dict(counts),
        "exhausted": [],
        "rounds": [],
        "history": [],
    }


# --- the plan and the report -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrowPlan:
    """What ``invoke grow`` was asked for, checked."""

    target: int
    ecosystems: tuple[str, ...]
    environments: tuple[str, ...]
    batch_size: int

    @classmethod
    def of(
        cls,
        target: int,
        ecosystems: Sequence[str],
        environments: Sequence[str],
        batch_size: int,
        known: Sequence[str],
    ) -> GrowPlan:
        if target < 1:
            raise UsageError("--target must be at least 1")
        if batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        chosen = tuple(dict.fromkeys(normalise_ecosystem(e) for e in ecosystems))
        if not chosen:
            raise UsageError(f"--ecosystem: give at least one of {', '.join(known)}")
        for eco in chosen:
            if eco not in known:
                raise UsageError(f"--ecosystem must be one of {', '.join(known)}, got {eco!r}")
        envs = list(dict.fromkeys(environments or [LOCAL]))
        envs = envs if LOCAL in envs else [LOCAL, *envs]  # local discovers [verify]: first
        envs.sort(key=lambda e: e != LOCAL)
        return cls(target, chosen, tuple(envs), batch_size)


@dataclass
class GrowReport:
    state: dict[str, Any]
    after: dict[str, int]
    state_file: str
    pass_rate: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.state["status"])

    @property
    def exit_code(self) -> ExitCode:
        if self.status == "stopped":
            return ExitCode.STOPPED
        return ExitCode.OK if self.status == "reached" else ExitCode.PARTIAL

    @property
    def batches(self) -> list[dict[str, Any]]:
        return [b for r in self.state["rounds"] for b in r["batches"]]

    def to_json(self) -> dict[str, Any]:
        before = self.state["before"]
        ecos = sorted({*before, *self.after} - {"total"})
        return {
            "status": self.status,
            "message": self.state["message"],
            "target": self.state["target"],
            "recipes": {
                "before": before,
                "after": self.after,
                "added": {e: self.after.get(e, 0) - before.get(e, 0) for e in [*ecos, "total"]},
            },
            "ecosystems": self.state["ecosystems"],
            "environments": self.state["environments"],
            "rounds": len(self.state["rounds"]),
            "batches": len(self.batches),
            "seconds": round(self.state["seconds"], 1),
            "pass_rate": self.pass_rate,
            "failures_by_code": self.failures,
            "exhausted": self.state["exhausted"],
            "state_file": self.state_file,
            "exit_code": int(self.exit_code),
        }

    def to_text(self) -> str:
        from rich.console import Console
        from rich.table import Table

        doc = self.to_json()
        console = Console(record=True, width=110, file=io.StringIO())
        console.print(f"grow {doc['status']}: {doc['message']}")
        recipes = Table(title="recipes per ecosystem")
        for column in ("ecosystem", "before", "after", "added"):
            recipes.add_column(column, justify="left" if column == "ecosystem" else "right")
        for eco, added in doc["recipes"]["added"].items():
            before, after = (
                doc["recipes"]["before"].get(eco, 0),
                doc["recipes"]["after"].get(eco, 0),
            )
            recipes.add_row(eco, str(before), str(after), f"{added:+d}")
        console.print(recipes)
        console.print(
            f"target {doc['target']}, {doc['rounds']} rounds, {doc['batches']} batches, "
            f"{doc['seconds']:.0f} s"
        )
        if self.pass_rate:
            rates = Table(title="pass rate per environment")
            for column in ("environment", "pass", "fail", "skipped", "rate"):
                rates.add_column(column, justify="left" if column == "environment" else "right")
            for env, row in self.pass_rate.items():
                rates.add_row(
                    env,
                    str(row["pass"]),
                    str(row["fail"]),
                    str(row["skipped"]),
                    f"{row['rate']:.1%}",
                )
            console.print(rates)
        if self.failures:
            codes = Table(title="failures by code")
            codes.add_column("code")
            codes.add_column("recipes", justify="right")
            for code, count in sorted(self.failures.items(), key=lambda kv: (-kv[1], kv[0])):
                codes.add_row(code, str(count))
            console.print(codes)
        return console.export_text().rstrip() + f"\nstate: {self.state_file}"


def summarise(layout: RegistryLayout, state: dict[str, Any]) -> GrowReport:
    """The report of a run from its state and the registry's files."""
    totals: dict[str, Counter[str]] = {}
    failures: Counter[str] = Counter()
    for round_ in state["rounds"]:
        for batch in round_["batches"]:
            for env, counts in batch.get("environments", {}).items():
                totals.setdefault(env, Counter()).update(counts)
            failures.update(batch.get("failures", {}))
    order = [e for e in state["environments"] if e in totals] + sorted(
        set(totals) - set(state["environments"])
    )
    pass_rate = {}
    for env in order:
        c = totals[env]
        judged = c["pass"] + c["fail"]
        pass_rate[env] = {
            "pass": c["pass"],
            "fail": c["fail"],
            "skipped": c["skipped"],
            "rate": round(c["pass"] / judged, 4) if judged else 0.0,
        }
    rel = str(state_path(layout).relative_to(layout.root))
    return GrowReport(state, recipe_counts(layout), rel, pass_rate, dict(sorted(failures.items())))


# --- progress ----------------------------------------------------------------------------------


class Display(Protocol):
    def recipes(self, total: int, target: int) -> None: ...
    def stage(self, label: str, total: int) -> None: ...
    def tick(self, label: str) -> None: ...
    def say(self, text: str) -> None: ...


class PlainDisplay:
    """Plain lines on a stream (stderr not a terminal): one per stage and per batch, with the
    recipe rate and an ETA."""

    def __init__(self, stream: Any = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = clock()
        self.first: int | None = None
        self.counts: Counter[str] = Counter()
        self.totals: dict[str, int] = {}
        self.stage_started: dict[str, float] = {}

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def recipes(self, total: int, target: int) -> None:
        if self.first is None:
            self.first = total
        added = total - self.first
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = added / elapsed * 60
        eta = eta_text((target - total) / (added / elapsed)) if added > 0 else "?"
        self.say(f"grow: {total}/{target} recipes, {rate:.1f}/min, ETA {eta}")

    def stage(self, label: str, total: int) -> None:
        self.counts[label] = 0
        self.totals[label] = total
        self.stage_started[label] = self.clock()
        self.say(f"  {label}: {total} to do")

    def tick(self, label: str) -> None:
        self.counts[label] += 1
        if self.counts[label] == self.totals.get(label):
            took = self.clock() - self.stage_started.get(label, self.clock())
            self.say(f"  {label}: {self.counts[label]} done in {took:.0f} s")


class RichDisplay:
    """rich bars on stderr: the recipes toward the target, one bar per stage of the current
    batch; each with its rate (per minute), elapsed time and ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            Task,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Task) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed * 60:6.1f}/min" if speed else "       -  ")

        self.progress = Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.total_task = self.progress.add_task("recipes", total=None)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RichDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def say(self, text: str) -> None:
        self.progress.console.print(text)

    def recipes(self, total: int, target: int) -> None:
        if self.progress.tasks[0].total is None:
            # The registry's recipes so far are no progress of this run: no rate from them.
            self.progress.reset(self.total_task, total=target, completed=total)
        else:
            self.progress.update(self.total_task, completed=total, total=target)

    def stage(self, label: str, total: int) -> None:
        for old in self.tasks.values():
            self.progress.update(old, visible=False)
        self.tasks[label] = self.progress.add_task(label, total=max(total, 1))

    def tick(self, label: str) -> None:
        task = self.tasks.get(label)
        if task is not None:
            self.progress.advance(task)


class NullDisplay:
    def recipes(self, total: int, target: int) -> None:
        pass

    def stage(self, label: str, total: int) -> None:
        pass

    def tick(self, label: str) -> None:
        pass

    def say(self, text: str) -> None:
        pass


def eta_text(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes = int(seconds // 60)
    return (
        f"{minutes // 60}h{minutes % 60:02d}m"
        if minutes >= 60
        else f"{minutes}m{int(seconds) % 60:02d}s"
    )


@contextmanager
def default_display() -> Iterator[Display]:
    """rich bars when stderr is a terminal, plain lines otherwise."""
    if sys.stderr.isatty():
        with RichDisplay() as display:
            yield display
    else:
        yield PlainDisplay()


# --- the loop ----------------------------------------------------------------------------------


class _Run:
    """One invocation of grow: the state, the clock and the stages."""

    def __init__(
        self,
        layout: RegistryLayout,
        plan: GrowPlan,
        stages: GrowStages,
        display: Display,
        clock: Callable[[], float],
        now: Callable[[], datetime],
        state: dict[str, Any],
    ):
        self.layout, self.plan, self.stages, self.display = layout, plan, stages, display
        self.clock, self.now, self.state = clock, now, state
        self.last = clock()
        # Seeding started while a batch validates (one at a time), and what it returned.
        self.ahead: _SeedAhead | None = None

    def save(self) -> None:
        moment = self.clock()
        self.state["seconds"] = round(self.state["seconds"] + (moment - self.last), 3)
        self.last = moment
        self.state["updated_at"] = format_timestamp(self.now())
        save_state(self.layout, self.state)

    def total(self) -> int:
        return recipe_counts(self.layout)["total"]

    def pass_ratio(self) -> float:
        """Recipes merged per entry generated so far in this run (0.5 before any)."""
        merged = sum(b.get("merged", 0) for r in self.state["rounds"] for b in r["batches"])
        tried = sum(b.get("generated", 0) for r in self.state["rounds"] for b in r["batches"])
        return max(merged / tried, 0.2) if tried else 0.5

    def batch_size(self) -> int:
        remaining = self.plan.target - self.total()
        return max(1, min(self.plan.batch_size, math.ceil(remaining / self.pass_ratio())))

    def finish(self, status: str, message: str) -> None:
        self.finish_ahead()  # what it seeds is the next run's: let it land whole
        self.state["status"], self.state["message"] = status, message
        self.state["finished_at"] = format_timestamp(self.now())
        self.display.say(f"grow: {message}")
        self.save()

    def run_batch(self, round_no: int, batch: dict[str, Any]) -> None:
        """Take ``batch`` from the stage it reached to ``merged`` (or ``empty``)."""
        eco, batch_id = batch["ecosystem"], batch["batch_id"]
        label = f"round {round_no} {eco}"
        if abandoned_dir(self.layout, batch_id).exists():
            # `invoke abandon` released it (say, while this run was stopped): its entries are
            # free again; the round goes on with the next batch.
            batch["stage"], batch["note"] = "abandoned", "abandoned (invoke abandon)"
            batch["finished_at"] = format_timestamp(self.now())
            self.display.say(f"grow: {batch_id} was abandoned; going on without it")
            self.save()
            return
        if batch["stage"] == "seeding":
            self.take_ahead(batch)
            if selectable(self.layout, eco) < batch["size"]:
                self.seed(label, batch)
            batch["stage"] = "generating"
            self.save()
        if batch["stage"] == "generating":
            report = self.generate(label, batch)
            if _selected_nothing(report) and not batch.get("seed_tried"):
                # Pending entries may all be backing off or held: widen seeding once, retry.
                self.seed(label, batch)
                self.save()
                report = self.generate(label, batch)
            if _selected_nothing(report):
                batch["stage"] = "empty"
                batch["note"] = str(report.nothing_selected or report.stopped or "nothing selected")
                batch["finished_at"] = format_timestamp(self.now())
                self.save()
                return
            batch["generated"] = (
                len(report.outcomes) - report.counts["skipped"] + report.skipped_already_done
            )
            batch["stage"] = "validating"
            self.save()
        if batch["stage"] == "validating":
            staged = len(Staging(self.layout, batch_id).generated()) or batch["generated"]
            for env in self.plan.environments:
                self.display.stage(f"{label}: validate {env}", staged)
            self.seed_ahead(round_no, eco)
            report = self.stages.validate(
                self.layout,
                batch_id,
                self.plan.environments,
                lambda env: self.display.tick(f"{label}: validate {env}"),
            )
            if report.exit_code == ExitCode.STOPPED:
                raise _Stopped(f"validation of {batch_id} stopped")
            batch["environments"] = batch_results(self.layout, batch_id)
            batch["stage"] = "merging"
            self.save()
        if batch["stage"] == "merging":
            self.finish_ahead()  # seeding writes the queue too: it ends before the merge does
            self.display.stage(f"{label}: merge", 1)
            report = self.stages.merge(self.layout, batch_id)
            self.display.tick(f"{label}: merge")
            if not getattr(report, "already_merged", False):
                batch["merged"] = report.counts["merged"]
                batch["merge_counts"] = dict(sorted(report.counts.items()))
                batch["failures"] = failure_codes(report)
            elif not batch.get("merge_counts"):
                # Merged by the interrupted run after its last save: its manifest says what.
                batch["merged"] = merged_recipes(self.layout, batch_id)
            batch["stage"] = "merged"
            batch["finished_at"] = format_timestamp(self.now())
            self.save()
        self.display.recipes(self.total(), self.plan.target)

    def seed(self, label: str, batch: dict[str, Any]) -> None:
        """Widen seeding so the queue holds about twice what the batch needs."""
        eco = batch["ecosystem"]
        limit = queued(self.layout, eco) + 2 * batch["size"]
        self.display.stage(f"{label}: seed", 1)
        report = self.stages.seed(self.layout, eco, limit)
        self.display.tick(f"{label}: seed")
        batch["seeded"] = batch.get("seeded", 0) + len(report.accepted)
        batch["seed_tried"] = True
        if report.stopped:
            raise _Stopped(str(report.stopped))

    def seed_ahead(self, round_no: int, eco: str) -> None:
        """Start seeding, in the background, the ecosystem whose batch follows ``eco``'s when
        its queue holds fewer selectable entries than that batch will need."""
        live = [e for e in self.plan.ecosystems if e not in self.state["exhausted"]]
        if eco not in live or self.ahead is not None:
            return
        following = live[(live.index(eco) + 1) % len(live)]
        size = self.batch_size()
        if selectable(self.layout, following) >= size:
            return
        limit = queued(self.layout, following) + 2 * size
        label = f"round {round_no if following != live[0] else round_no + 1} {following}: seed"
        self.display.stage(label, 1)

        def run(ahead: _SeedAhead) -> None:
            try:
                ahead.report = self.stages.seed(self.layout, following, limit)
            except Exception as exc:  # the batch seeds itself and meets it there
                ahead.error = exc
            finally:
                self.display.tick(label)

        ahead = _SeedAhead(following)
        ahead.thread = threading.Thread(target=run, args=(ahead,), name="seed-ahead", daemon=True)
        self.ahead = ahead
        ahead.thread.start()

    def finish_ahead(self) -> None:
        """Wait for seeding started ahead (a merge or a generation must not write the queue
        beside it)."""
        ahead = self.ahead
        if ahead is None or ahead.thread is None or ahead.joined:
            return
        while ahead.thread.is_alive():
            ahead.thread.join(0.5)  # in slices: Ctrl-C still reaches this thread
        ahead.joined = True
        if ahead.error is not None:
            self.display.say(
                f"grow: seeding {ahead.ecosystem} ahead failed ({ahead.error}); "
                "its batch seeds when it starts"
            )

    def take_ahead(self, batch: dict[str, Any]) -> None:
        """Count what seeding ahead added for ``batch``'s ecosystem as this batch's seeding."""
        self.finish_ahead()
        ahead, self.ahead = self.ahead, None  # of another ecosystem: in the queue, nothing to keep
        report = (
            ahead.report if ahead is not None and ahead.ecosystem == batch["ecosystem"] else None
        )
        if report is None or report.stopped:
            return  # failed or stopped: the batch seeds itself (and stops there, if it must)
        batch["seeded"] = batch.get("seeded", 0) + len(report.accepted)
        batch["seed_tried"] = True

    def generate(self, label: str, batch: dict[str, Any]) -> Any:
        self.display.stage(f"{label}: generate", batch["size"])
        report = self.stages.generate(
            self.layout,
            batch["ecosystem"],
            batch["size"],
            batch["batch_id"],
            lambda _l: self.display.tick(f"{label}: generate"),
        )
        if report.stopped and not str(report.stopped).startswith("nothing to do"):
            raise _Stopped(str(report.stopped))
        return report

    def new_batch(self, round_: dict[str, Any], eco: str) -> dict[str, Any]:
        when = self.now()
        # The round keeps two batches started in the same second apart.
        batch_id = f"{new_batch_id(eco, when)}-g{round_['number']}"
        batch = {
            "ecosystem": eco,
            "batch_id": batch_id,
            "stage": "seeding",
            "size": self.batch_size(),
            "seeded": 0,
            "generated": 0,
            "merged": 0,
            "started_at": format_timestamp(when),
            "finished_at": None,
        }
        round_["batches"].append(batch)
        self.save()
        return batch

    def loop(self) -> None:
        state = self.state
        idle = 0
        self.display.recipes(self.total(), self.plan.target)
        while True:
            if self.total() >= self.plan.target:
                return self.finish("reached", f"target of {self.plan.target} recipes reached")
            live = [e for e in self.plan.ecosystems if e not in state["exhausted"]]
            if not live:
                return self.finish(
                    "exhausted", f"sources exhausted: {', '.join(self.plan.ecosystems)} add nothing"
                )
            rounds = state["rounds"]
            if not rounds or _round_done(rounds[-1], live):
                rounds.append({"number": len(rounds) + 1, "batches": []})
                self.save()
            round_ = rounds[-1]
            for eco in live:
                if self.total() >= self.plan.target:
                    break
                mine = [b for b in round_["batches"] if b["ecosystem"] == eco]
                if mine and mine[-1]["stage"] in DONE_STAGES:
                    continue
                batch = mine[-1] if mine else self.new_batch(round_, eco)
                self.run_batch(round_["number"], batch)
                if batch["stage"] == "empty" and batch["seeded"] == 0:
                    state["exhausted"].append(eco)
                    self.display.say(f"grow: {eco} exhausted ({batch.get('note', '')})")
                    self.save()
            merged = sum(b.get("merged", 0) for b in round_["batches"])
            tried = sum(b.get("generated", 0) + b.get("seeded", 0) for b in round_["batches"])
            if self.total() >= self.plan.target:
                continue
            if (
                merged == 0
                and tried == 0
                and all(e in state["exhausted"] for e in self.plan.ecosystems)
            ):
                continue  # the exhausted branch above ends the run with its message
            if merged == 0 and tried == 0:
                return self.finish(
                    "exhausted", f"round {round_['number']} added nothing new: sources exhausted"
                )
            idle = idle + 1 if merged == 0 else 0
            if idle >= IDLE_ROUNDS:
                return self.finish(
                    "idle", f"{IDLE_ROUNDS} rounds in a row merged nothing; stopping"
                )


@dataclass
class _SeedAhead:
    """Seeding of ``ecosystem`` running beside a validation, and what it returned."""

    ecosystem: str
    thread: threading.Thread | None = None
    report: Any = None
    error: Exception | None = None
    joined: bool = False  # waited for (a failure said once)


class _Stopped(Exception):
    """A stage reported a stop (emergency stop, open breaker)."""


def _selected_nothing(report: Any) -> bool:
    return not report.outcomes and not report.skipped_already_done


def _round_done(round_: dict[str, Any], live: Sequence[str]) -> bool:
    done = {b["ecosystem"] for b in round_["batches"] if b["stage"] in DONE_STAGES}
    return all(e in done for e in live)


def grow(
    layout: RegistryLayout,
    plan: GrowPlan,
    *,
    stages: GrowStages | None = None,
    display: Display | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] | None = None,
) -> GrowReport:
    """Grow ``layout``'s registry to ``plan.target`` recipes (see the module doc).

    A state left by an interrupted run is resumed (its plan replaced by this one); a finished
    one goes into ``history`` and a new run starts from the registry as it is.
    """
    from automation.core.timefmt import now as utc_now

    now = now or utc_now
    stages = stages or pipeline_stages()
    display = display or NullDisplay()
    with registry_lock(layout.cache_dir / "locks" / "grow.lock", timeout=0):
        state = load_state(layout)
        counts = recipe_counts(layout)
        stamp = format_timestamp(now())
        if state is None or state["status"] in TERMINAL:
            history = [] if state is None else [*state["history"], _history_entry(state)]
            state = new_state(plan, counts, stamp)
            state["history"] = history
        else:
            display.say(
                f"grow: resuming the run started {state['started_at']} "
                f"({len(state['rounds'])} rounds so far)"
            )
        state.update(
            status="running",
            message="",
            target=plan.target,
            ecosystems=list(plan.ecosystems),
            environments=list(plan.environments),
            batch_size=plan.batch_size,
        )
        run = _Run(layout, plan, stages, display, clock, now, state)
        run.save()
        try:
            run.loop()
        except _Stopped as exc:
            run.finish("stopped", f"stopped: {exc}")
        return summarise(layout, state)


def _history_entry(state: dict[str, Any]) -> dict[str, Any]:
    batches = [b for r in state["rounds"] for b in r["batches"]]
    return {
        "started_at": state["started_at"],
        "finished_at": state["finished_at"],
        "status": state["status"],
        "target": state["target"],
        "before_total": state["before"].get("total", 0),
        "rounds": len(state["rounds"]),
        "batches": len(batches),
        "merged": sum(b.get("merged", 0) for b in batches),
        "seconds": state["seconds"],
    }


def check_environments(environments: Sequence[str]) -> None:
    """Every container environment named exists (``data/environments.json``): checked before
    anything is seeded, not when the first batch reaches validation."""
    from automation.containers.environments import select_environments

    named = [e for e in environments if e not in (LOCAL, "all-local")]
    try:
        select_environments(named)
    except UsageError as exc:
        raise UsageError(f"--env: {exc}") from None


def run_grow(
    root: str | Path,
    *,
    target: int,
    ecosystems: Sequence[str],
    environments: Sequence[str],
    batch_size: int,
    jobs: int = 2,
    installs: int = 1,
    review_dir: Path | None = None,
) -> GrowReport:
    """Front-door entry: the real stages, the display stderr suits."""
    from automation.ecosystems import seed_sources

    plan = GrowPlan.of(target, ecosystems, environments, batch_size, seed_sources())
    check_environments(plan.environments)
    layout = RegistryLayout.at(root)
    with default_display() as display:
        stages = pipeline_stages(jobs=jobs, installs=installs, review_dir=review_dir)
        return grow(layout, plan, stages=stages, display=display)
