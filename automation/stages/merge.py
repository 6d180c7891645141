"""Merge: land what passed validation, record everything the batch changed, update the queue.

Per generated recipe: its result lines give per-platform outcomes; constraints are derived from
them; gates decide between auto-merge and human review. A recipe is merged only when every
environment whose platform its constraints admit passed: a failure the constraint fields cannot
express (one distribution or family of a platform, ``local`` and a container on the same platform)
holds the recipe for review (``held``, queue ``requires_manual``, one reason per failing
environment), like a gate does. An environment gap (a skipped line whose environment lacked a
toolchain or its image: ``environment_gap/...``) is no verdict: it gets a failure record and a
reason (``not validated: debian-12 lacks cargo``), and the recipe is judged on the other
environments alone; with gaps only it is ``not_validated`` and its entry stays as it was
(pending), with no breaker vote. Held recipes are not written to ``recipes/``; their constrained
text and results are in the report and in the pull-request body (``pr_body``). Per generation
failure: a structured failure record and a queue transition (blocked, failed with backoff, or
excluded when no rerun can ever succeed).

A recipe the registry already has is never written over unless the batch's generation logged
that name ``forced`` (``generate --force NAME``), and a curated one never is
(``automation.registry.recipes.replacement_refusal``): such an outcome, and one generation
already skipped for that reason, is decided ``skipped`` with the reason, and its queue entry
becomes ``success`` (the registry has its recipe, so selection leaves it alone). A forced
replacement goes through validation and the gates as an update.

Merge is plan-then-apply. :func:`plan_merge` reads and checks every input (generation log,
results, queue, control file, failure history) and builds every byte it will write — recipes,
failure records, the queue, the metrics record and the batch manifest with each file's before-image
and the digest it will have — without writing anything: a bad input stops the merge before the
first byte (exit 2 or 3). :func:`apply_merge` only writes, in a crash-safe order: the manifest
(``in_progress``) first, then the files, then the manifest as ``merged``. A merge killed half-way
is undone by the next merge (each file holding what this batch wrote goes back to its
before-image; a file changed since by somebody else is left as found) and redone; ``invoke
rollback`` or ``invoke abandon`` of the batch undoes it instead.
"""

from __future__ import annotations

import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automation.core.atomic import atomic_write_bytes, dumps_json, registry_lock
from automation.core.config import load_config
from automation.core.errors import DataError, ExitCode, StoppedError, UsageError
from automation.core.hostplatform import host_platform
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp, parse_timestamp
from automation.core.timefmt import now as utc_now
from automation.learn.blockers import IdentityIndex, PackageBlockers, RecipeIdentity
from automation.learn.requeue import backoff
from automation.ops.maintenance import (
    ENVIRONMENT as MAINTENANCE_ENVIRONMENT,
)
from automation.ops.maintenance import (
    failure_groups,
    merge_owned_dirs,
    plan_exclusions,
    sweep_temp_files,
)
from automation.registry import manifest as mf
from automation.registry.breaker import BreakerConfig
from automation.registry.constraints import (
    AdmittedFailure,
    UntestedPolicy,
    admitted_failures,
    apply_constraints,
    combine_environment_outcomes,
    derive_constraints,
    tested_where,
)
from automation.registry.control import (
    Control,
    check_allowed_now,
    load_control,
    record_batch_outcomes,
    sweep_control_temp,
    update_control,
)
from automation.registry.failure_codes import (
    ENVIRONMENT_GAP,
    HELD_FOR_REVIEW,
    gap_subject,
    is_environment_gap,
    queue_status,
    queue_transition,
)
from automation.registry.failures import (
    FailureRecord,
    NewFailure,
    cap_message,
    failure_file_bytes,
    next_failure_path,
    scan_failure_text,
)
from automation.registry.metrics import (
    GenerationCounts,
    MetricsRecord,
    PlatformCounts,
    checked_metrics_document,
)
from automation.registry.popularity import PopularityRecord, load_popularity
from automation.registry.queue import Queue, QueueEntry, load_queue, queue_file_bytes
from automation.registry.recipes import (
    dump_recipe,
    load_recipe_text,
    read_recipe_identity,
    recipe_identity_from_text,
    replacement_refusal,
)
from automation.registry.results import ResultLine, current_results
from automation.registry.staging import GenerationOutcome, Staging, check_batch_id
from automation.stages.gates import (
    Candidate,
    GateConfig,
    GateContext,
    NameFacts,
    RankedName,
    evaluate_gates,
)
from automation.stages.pr_body import (
    complete_body_path,
    tested_text,
    write_merge_outputs,
    write_pr_body,
)

# A result's message as reports show it: head and tail of the tool's output (the error is usually
# at the end), short enough for a pull-request body to carry several environments.
MESSAGE_EXCERPT = 1200


@dataclass
class RecipeDecision:
    name: str
    source: str
    action: str  # merged | held | failed | blocked | excluded | not_validated | skipped
    reasons: list[str] = field(default_factory=list)
    category: str = ""
    subcategory: str = ""
    constraints: dict[str, Any] = field(default_factory=dict)
    platforms: dict[str, str] = field(default_factory=dict)
    # Per environment: status, code, version, message excerpt (see :func:`result_summary`).
    results: list[dict[str, Any]] = field(default_factory=list)
    recipe_path: str = ""  # where it would land, root-relative
    recipe_text: str = ""  # the constrained text a held recipe would be merged with
    # What was tested where: per point, outcome, environments and admission (tested_where).
    tested: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "action": self.action,
            "reasons": self.reasons,
            "category": self.category,
            "subcategory": self.subcategory,
            "constraints": self.constraints,
            "platforms": self.platforms,
        }
        if self.tested:
            out["tested"] = self.tested
        if self.action == "held":  # what a reviewer needs: nothing of it is in recipes/
            out["results"] = self.results
            out["recipe_path"] = self.recipe_path
            out["recipe_toml"] = self.recipe_text
        return out


@dataclass
class MergeReport:
    batch_id: str
    decisions: list[RecipeDecision] = field(default_factory=list)
    already_merged: bool = False
    resumed_partial: bool = False
    requeued: list[str] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)  # "name: status/subcategory"
    seconds: float = 0.0
    # Files an interrupted run of this merge had recorded that somebody changed since: left as
    # found (never overwritten with a stale before-image) and planned over as they are now.
    kept_as_found: list[str] = field(default_factory=list)
    # Where ``--pr-body`` wrote the pull-request body: {"path", "complete", "shortened"}.
    pr_body: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> Counter[str]:
        return Counter(d.action for d in self.decisions)

    @property
    def exit_code(self) -> ExitCode:
        bad = self.counts["failed"] + self.counts["blocked"] + self.counts["excluded"]
        return ExitCode.PARTIAL if bad else ExitCode.OK

    @property
    def auto_merge(self) -> bool:
        """The batch's pull request may merge itself: something merged and every recipe passed
        the gates (none held for review)."""
        return not self.already_merged and self.counts["merged"] > 0 and not self.counts["held"]

    def to_json(self) -> dict[str, Any]:
        out = {
            "batch_id": self.batch_id,
            "already_merged": self.already_merged,
            "resumed_partial": self.resumed_partial,
            "counts": dict(sorted(self.counts.items())),
            "auto_merge": self.auto_merge,
            "requeued": self.requeued,
            "impossible": self.impossible,
            "seconds": round(self.seconds, 3),
            "decisions": [d.to_json() for d in self.decisions],
        }
        if self.kept_as_found:  # only after a resumed merge found changed files
            out["kept_as_found"] = self.kept_as_found
        if self.pr_body:
            out["pr_body"] = self.pr_body
        return out

    def to_text(self) -> str:
        """Markdown, one table row per recipe (the pull-request body, with held recipes' text and
        results, is :func:`automation.stages.pr_body.render_pr_body`)."""
        if self.already_merged:
            return f"batch {self.batch_id} was already merged: nothing to do"
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        lines = [f"## Batch {self.batch_id}", "", counts or "nothing to merge", ""]
        if self.decisions:
            lines += ["| recipe | source | result | why |", "|---|---|---|---|"]
            for d in self.decisions:
                why = "; ".join(d.reasons) or (
                    f"{d.category}/{d.subcategory}" if d.category else ""
                )
                why = why.replace("|", "\\|").replace("\n", " ")[:300]
                lines.append(f"| {d.name} | {d.source} | {d.action} | {why} |")
            tested = [f"- {d.name}: {tested_text(d.tested)}" for d in self.decisions if d.tested]
            if tested:
                lines += ["", "Tested where (platform: outcome (environments), admitted or not):"]
                lines += tested
        if self.requeued:
            lines += ["", "Re-queued now that their blockers landed: " + ", ".join(self.requeued)]
        if self.kept_as_found:
            lines += ["", "Changed since the interrupted merge, kept as found: "]
            lines[-1] += ", ".join(self.kept_as_found)
        if self.pr_body:
            shortened = " (shortened)" if self.pr_body["shortened"] else ""
            lines += ["", f"Pull-request body: {self.pr_body['path']}{shortened}; complete: "]
            lines[-1] += str(self.pr_body["complete"])
        return "\n".join(lines)


def registry_gate_config(layout: RegistryLayout) -> GateConfig:
    """The gates as the registry's ``automation.toml`` sets them (``[merge] verify``)."""
    return GateConfig(require_version_verify=load_config(layout.root).merge_verify == "version")


def untested_policy(layout: RegistryLayout) -> UntestedPolicy:
    """The registry's untested platforms policy (``automation.toml`` ``[platforms] untested``,
    ``AUTOMATION_UNTESTED_PLATFORMS``; default ``exclude``)."""
    return "admit" if load_config(layout.root).untested_platforms == "admit" else "exclude"


def _status_for_generation_failure(outcome: GenerationOutcome) -> str:
    """Queue status from the failure-code table (``automation.registry.failure_codes``)."""
    transition = queue_transition(outcome.category, outcome.subcategory, outcome.blocked_by)
    return queue_status(transition)


def _failed(entry: QueueEntry, when: datetime) -> QueueEntry:
    count = entry.failure_count + 1
    return entry.with_changes(
        status="failed", failure_count=count, next_retry_at=format_timestamp(when + backoff(count))
    )


VOTED_KEY = "voted_batches"  # breaker extra: batches whose votes landed (idempotent rerun)
VOTED_KEEP = 20


def _voted(control: Control, ecosystem: str, batch_id: str) -> bool:
    return batch_id in (control.breaker(ecosystem).extra.get(VOTED_KEY) or ())


def _mark_voted(control: Control, ecosystem: str, batch_id: str) -> Control:
    state = control.breaker(ecosystem)
    done = [b for b in (state.extra.get(VOTED_KEY) or ()) if b != batch_id]
    extra = {**state.extra, VOTED_KEY: [*done, batch_id][-VOTED_KEEP:]}
    return control.with_breaker(ecosystem, replace(state, extra=extra))


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileWrite:
    """One file the merge writes: its root-relative path and its whole new content.

    Appended files (the metrics record) are new per batch, so their content is the whole line.
    """

    path: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ItemStep:
    """One generation outcome, in apply order: an emergency stop of its ecosystem halts the
    apply there; ``recipe`` is the recipe it lands, if any."""

    name: str
    ecosystem: str
    recipe: FileWrite | None = None


@dataclass(frozen=True)
class MergePlan:
    """Everything one merge will write, decided and checked before the first write.

    ``manifest`` is None when there is nothing to apply (the batch is already merged); otherwise
    it is the ``in_progress`` manifest holding every file's before-image and planned digest.
    """

    batch_id: str
    report: MergeReport
    when: datetime
    breaker_config: BreakerConfig
    manifest: mf.BatchManifest | None = None
    items: tuple[ItemStep, ...] = ()
    records: tuple[FileWrite, ...] = ()  # failure files, then the queue
    votes: tuple[tuple[str, tuple[bool, ...]], ...] = ()  # per ecosystem, in outcome order
    metrics: FileWrite | None = None

    @property
    def writes(self) -> tuple[FileWrite, ...]:
        """Every file write, in apply order."""
        recipes = tuple(item.recipe for item in self.items if item.recipe is not None)
        return recipes + self.records + ((self.metrics,) if self.metrics else ())


@dataclass
class _Decisions:
    """What the per-outcome loop decided (private scratch of :func:`plan_merge`)."""

    decisions: list[RecipeDecision] = field(default_factory=list)
    new_entries: dict[str, QueueEntry] = field(default_factory=dict)
    failures: dict[tuple[str, str], list[NewFailure]] = field(
        default_factory=lambda: defaultdict(list)
    )
    votes: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    items: list[ItemStep] = field(default_factory=list)
    merged_texts: dict[str, str] = field(default_factory=dict)  # recipe name -> final text


def _rel(layout: RegistryLayout, path: Path) -> str:
    return path.resolve().relative_to(layout.root.resolve()).as_posix()


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _checked_staging(layout: RegistryLayout, batch_id: str, allow_missing_shards: bool) -> Staging:
    """The batch's staging, refusing (exit 2) a malformed id, an unknown batch, missing shards."""
    check_batch_id(batch_id)
    staging = Staging(layout, batch_id)
    if not staging.exists():
        raise UsageError(f"no batch {batch_id!r}: {staging.dir} has no generation log")
    missing = staging.missing_shards()
    if missing and not allow_missing_shards:
        raise UsageError(
            f"batch {batch_id}: shard(s) {', '.join(missing)} have not reported; merge once "
            "every shard's staging is in place"
        )
    return staging


def _manifest_status(layout: RegistryLayout, batch_id: str) -> str | None:
    if not layout.batch_manifest(batch_id).exists():
        return None
    return mf.load_manifest(layout, batch_id).status


def _refuse_closed_or_interrupted(batch_id: str, status: str | None, undone: bool) -> None:
    if status == "rolled_back":
        raise UsageError(f"batch {batch_id} was rolled back; generate a new batch")
    if status == "in_progress" and not undone:
        raise UsageError(
            f"a merge of batch {batch_id} was interrupted: `invoke merge --batch-id {batch_id}` "
            f"undoes and redoes it, `invoke rollback --batch-id {batch_id}` undoes it"
        )


def _generation_failure(
    outcome: GenerationOutcome,
    entry: QueueEntry | None,
    ecosystem: str,
    batch_id: str,
    when: datetime,
    out: _Decisions,
) -> None:
    decision = RecipeDecision(outcome.name, outcome.source, _status_for_generation_failure(outcome))
    decision.category, decision.subcategory = outcome.category, outcome.subcategory
    out.failures[(ecosystem, host_platform())].append(
        NewFailure(
            name=outcome.name,
            package_id=outcome.source,
            category=outcome.category,
            subcategory=outcome.subcategory,
            message=outcome.message,
            blocked_by=outcome.blocked_by,
            batch_id=batch_id,
        )
    )
    if outcome.category == "network_error" or decision.action == "failed":
        out.votes[ecosystem].append(False)
    if entry is not None:
        out.new_entries[entry.name.lower()] = (
            _failed(entry, when)
            if decision.action == "failed"
            else entry.with_changes(status=decision.action)
        )
    out.decisions.append(decision)


def _recipe_exists(
    outcome: GenerationOutcome,
    entry: QueueEntry | None,
    reason: str,
    out: _Decisions,
    *,
    still_there: bool = True,
) -> None:
    """An outcome not landed because the registry has the recipe: ``skipped``, the queue entry
    ``success`` (what it would be had this batch merged it), no failure record, no vote.

    ``still_there`` False: generation skipped it, but the file has gone since; the entry is left
    as it is, for a later batch to build."""
    decision = RecipeDecision(outcome.name, outcome.source, "skipped", reasons=[reason])
    out.decisions.append(decision)
    if not still_there:
        decision.reasons.append(
            "since generation the registry no longer holds it back (the file is gone or changed): "
            "entry left as it was, for a later batch"
        )
        return
    if entry is not None:
        settled = entry.with_changes(status="success", failure_count=0, next_retry_at=None)
        if settled != entry:
            out.new_entries[entry.name.lower()] = settled


def _validation_failures(
    outcome: GenerationOutcome, lines: list[ResultLine], ecosystem: str, batch_id: str
) -> list[tuple[str, NewFailure]]:
    """One failure record per failing result line, keyed by its platform."""
    return [
        (
            line.platform,
            NewFailure(
                name=outcome.name,
                package_id=outcome.source,
                category=line.category or "install_failed",
                subcategory=line.subcategory or "unclassified",
                message=line.message,
                exit_code=line.exit_code,
                batch_id=batch_id,
            ),
        )
        for line in lines
        if line.status == "fail"
    ]


def _environment_gaps(
    outcome: GenerationOutcome,
    lines: list[ResultLine],
    ecosystem: str,
    batch_id: str,
    out: _Decisions,
) -> list[str]:
    """Record each environment gap (a toolchain or image the environment lacked) as a failure
    record with its own code, and return one reason per gap for the report.

    A gap is no verdict: it never becomes a constraint, never holds the recipe, never moves
    the queue entry and never votes in the breaker (the callers leave it out of all four)."""
    reasons = []
    for line in lines:
        if not is_environment_gap(line.status, line.subcategory):
            continue
        out.failures[(ecosystem, line.platform)].append(
            NewFailure(
                name=outcome.name,
                package_id=outcome.source,
                category=ENVIRONMENT_GAP,
                subcategory=line.subcategory or "missing_toolchain",
                message=line.message,
                exit_code=line.exit_code,
                batch_id=batch_id,
            )
        )
        missing = gap_subject(line.message) or "what the install needs"
        reasons.append(f"not validated: {line.environment} lacks {missing}")
    return reasons


def _first_line(message: str, limit: int = 200) -> str:
    line = next((ln.strip() for ln in message.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def result_summary(line: ResultLine) -> dict[str, Any]:
    """One environment's result as the report and the pull-request body show it."""
    return {
        "environment": line.environment,
        "platform": line.platform,
        "status": line.status,
        "category": line.category,
        "subcategory": line.subcategory,
        "version": line.version,
        "message": cap_message(line.message.strip(), MESSAGE_EXCERPT),
    }


def _admitted_failure_reason(failure: AdmittedFailure, line: ResultLine) -> str:
    """Why a recipe is held: an environment failed on a platform its constraints admit."""
    code = f"{line.category or 'install_failed'}/{line.subcategory or 'unclassified'}"
    where = f"{failure.platform}, admitted by its constraints"
    if failure.passed:
        where += f": {', '.join(failure.passed)} passed there"
    reason = f"{failure.environment} failed on {where} ({code})"
    first = _first_line(line.message)
    return f"{reason}: {first}" if first else reason


def _timestamp_or_none(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        return None  # an unreadable date is an unknown one: the gates say it is missing


def gate_facts(
    popularity: Mapping[str, PopularityRecord], outcomes: Sequence[GenerationOutcome]
) -> dict[str, NameFacts]:
    """What the gates know of each name: seeding's download count (and its period) for every
    queued name, and this batch's generation log (first release, count) for its own."""
    facts = {
        name: NameFacts(downloads=r.downloads, downloads_period=r.period, source=r.source)
        for name, r in popularity.items()
    }
    for outcome in outcomes:
        if outcome.status != "generated":
            continue
        key = outcome.name.lower()
        known = facts.get(key, NameFacts())
        logged = outcome.downloads is not None
        facts[key] = NameFacts(
            first_release=_timestamp_or_none(outcome.first_release) or known.first_release,
            downloads=outcome.downloads if logged else known.downloads,
            downloads_period=outcome.downloads_period if logged else known.downloads_period,
            source=outcome.source,
        )
    return facts


def _gate(
    outcome: GenerationOutcome, final_text: str, context: GateContext
) -> tuple[bool, list[str]]:
    known = context.facts.get(outcome.name.lower(), NameFacts())
    if known.source != outcome.source:
        known = NameFacts()  # another package of that name: its data says nothing of this one
    logged = outcome.downloads is not None  # else seeding's count, when it has one
    gate = evaluate_gates(
        Candidate(
            name=outcome.name,
            source=outcome.source,
            recipe=tomllib.loads(final_text),
            recipe_text=final_text,
            first_release=_timestamp_or_none(outcome.first_release) or known.first_release,
            downloads=outcome.downloads if logged else known.downloads,
            downloads_period=outcome.downloads_period if logged else known.downloads_period,
            is_new=outcome.name not in context.existing_recipes,
        ),
        context,
    )
    return gate.auto_merge, list(gate.reasons)


def _generated(
    layout: RegistryLayout,
    staging: Staging,
    outcome: GenerationOutcome,
    entry: QueueEntry | None,
    lines: list[ResultLine],
    context: GateContext,
    batch_id: str,
    out: _Decisions,
    untested: UntestedPolicy = "exclude",
) -> FileWrite | None:
    """Decide a generated recipe (not validated, failed, held or merged); its write if merged."""
    ecosystem = outcome.source.split(":", 1)[0]
    decision = RecipeDecision(outcome.name, outcome.source, "")
    out.decisions.append(decision)
    decision.platforms = {ln.environment: ln.status for ln in lines}
    decision.results = [result_summary(ln) for ln in lines]
    every_line = [(ln.environment, ln.platform, ln.status) for ln in lines]
    gaps = [ln for ln in lines if is_environment_gap(ln.status, ln.subcategory)]
    gap_reasons = _environment_gaps(outcome, gaps, ecosystem, batch_id, out)
    # Judged only on the environments that really ran it: a gap says nothing of the platform,
    # nor does an environment that left a recipe held for review untried (held below).
    deferred = [ln.environment for ln in lines if ln.subcategory == HELD_FOR_REVIEW]
    lines = [ln for ln in lines if ln not in gaps and ln.subcategory != HELD_FOR_REVIEW]
    if not lines or all(ln.status == "skipped" for ln in lines):
        decision.action = "not_validated"
        if gaps:
            # Held for an environment that has what it needs: the entry is left as it was
            # (pending), no failure counted, no breaker vote.
            decision.category = ENVIRONMENT_GAP
            decision.subcategory = gaps[0].subcategory or ""
            decision.reasons += gap_reasons
        else:
            decision.reasons.append("no validation result for this batch: run validate first")
        return None
    records = [(ln.environment, ln.platform, ln.status) for ln in lines]
    # The fold's own reasons are not kept: every environment it folds away is named below.
    outcomes_by_platform, _ = combine_environment_outcomes(records)
    constraint = derive_constraints(outcomes_by_platform, untested=untested)
    decision.tested = tested_where(every_line, constraint)
    failing = _validation_failures(outcome, lines, ecosystem, batch_id)
    for platform, failure in failing:
        out.failures[(ecosystem, platform)].append(failure)
    if constraint.excluded:
        first = failing[0][1] if failing else None
        decision.action = "failed"
        decision.category = first.category if first else ""
        decision.subcategory = first.subcategory if first else ""
        decision.reasons += list(constraint.reasons) + gap_reasons
        out.votes[ecosystem].append(False)
        if entry is not None:
            out.new_entries[entry.name.lower()] = _failed(entry, context.now)
        return None
    out.votes[ecosystem].append(True)
    staged = staging.recipe_path(outcome.name)
    try:
        staged_text = staged.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the staged recipe: {exc}", path=str(staged)) from None
    doc = load_recipe_text(staged_text, path=str(staged))
    apply_constraints(doc, constraint)
    final_text = dump_recipe(doc)
    target = layout.recipe_path(outcome.name)
    decision.constraints = constraint.fields.as_metadata()
    # The merge rule: merged only when every environment on an admitted platform passed.
    by_environment = {ln.environment: ln for ln in lines}
    unexpressed = [
        _admitted_failure_reason(failure, by_environment[failure.environment])
        for failure in admitted_failures(records, constraint)
    ]
    decision.reasons += list(constraint.reasons) + gap_reasons
    auto_merge, gate_reasons = _gate(outcome, final_text, context)
    if deferred:  # whatever the gates say now: it was never installed there
        gate_reasons.append(
            f"not validated in {', '.join(deferred)} (held for review after local validation): "
            "validate it there before merging it"
        )
    if unexpressed or not auto_merge or deferred:
        decision.action = "held"
        decision.reasons = unexpressed + gate_reasons + decision.reasons
        decision.recipe_path = _rel(layout, target)
        decision.recipe_text = final_text
        if entry is not None:
            out.new_entries[entry.name.lower()] = entry.with_changes(status="requires_manual")
        return None
    decision.action = "merged"
    out.merged_texts[outcome.name] = final_text
    if entry is not None:
        out.new_entries[entry.name.lower()] = entry.with_changes(
            status="success", failure_count=0, next_retry_at=None
        )
    return FileWrite(_rel(layout, target), final_text.encode("utf-8"))


def _decide_outcomes(
    layout: RegistryLayout,
    staging: Staging,
    outcomes: Sequence[GenerationOutcome],
    results: Mapping[tuple[str, str], ResultLine],
    queue: Queue,
    context: GateContext,
    batch_id: str,
    untested: UntestedPolicy = "exclude",
) -> _Decisions:
    """Decide every logged outcome, in log order (reads only: staged and registry recipes)."""
    by_recipe: dict[str, list[ResultLine]] = defaultdict(list)
    for (recipe_name, _env), line in sorted(results.items()):
        by_recipe[recipe_name].append(line)
    entries = {e.name.lower(): e for e in queue.entries}
    out = _Decisions()
    for outcome in outcomes:
        ecosystem = outcome.source.split(":", 1)[0]
        entry = entries.get(outcome.name.lower())
        recipe: FileWrite | None = None
        # Checked again here: the registry may have changed since generation.
        refusal = (
            replacement_refusal(layout, outcome.name, forced=outcome.forced)
            if outcome.status in ("generated", "skipped")
            else None
        )
        if outcome.status == "skipped":
            still_there = refusal is not None
            _recipe_exists(outcome, entry, outcome.message, out, still_there=still_there)
        elif refusal is not None:
            _recipe_exists(outcome, entry, refusal, out)
        elif outcome.status == "failed":
            _generation_failure(outcome, entry, ecosystem, batch_id, context.now, out)
        else:
            lines = by_recipe.get(outcome.name, [])
            recipe = _generated(
                layout, staging, outcome, entry, lines, context, batch_id, out, untested
            )
        out.items.append(ItemStep(outcome.name, ecosystem, recipe))
    return out


def _exclude_impossible(
    queue: Queue, batch_id: str, decided: _Decisions, report: MergeReport
) -> None:
    """Entries no rerun can ever build leave the selectable statuses, reason recorded."""
    impossible = plan_exclusions(
        [e for e in queue.entries if e.name.lower() not in decided.new_entries]
    )
    for item in impossible:
        decided.new_entries[item.entry.name.lower()] = item.updated
        report.impossible.append(
            f"{item.entry.name}: {item.reason.status}/{item.reason.subcategory}"
        )
    for eco, items in failure_groups(impossible, batch_id).items():
        decided.failures[(eco, MAINTENANCE_ENVIRONMENT)].extend(items)


def _failure_writes(
    layout: RegistryLayout, failures: Mapping[tuple[str, str], list[NewFailure]], when: datetime
) -> tuple[FileWrite, ...]:
    """One schema-checked failure file per (ecosystem, environment), each under a free name."""
    taken: list[Path] = []
    writes = []
    for (ecosystem, environment), items in sorted(failures.items()):
        path = next_failure_path(layout, ecosystem, when, taken=taken)
        taken.append(path)
        data = failure_file_bytes(ecosystem, environment, items, when)
        writes.append(FileWrite(_rel(layout, path), data))
    return tuple(writes)


def _failure_records(writes: Sequence[FileWrite]) -> list[FailureRecord]:
    """The planned failure files as the failure index will read them."""
    records = []
    for write in writes:
        scan = scan_failure_text(write.data.decode("utf-8"), rel=write.path)
        if scan.problems:
            raise DataError(f"planned failure record unreadable: {scan.problems[0]}")
        records += [FailureRecord(write.path, line, *fields) for line, fields in scan.rows]
    return records


# --- requeue after the merge, decided in the plan ---------------------------------------------


def _decided_later(a: PackageBlockers, b: PackageBlockers) -> bool:
    """Whether ``a``'s deciding record comes after ``b``'s (``blockers.current_blockers``'
    order: timestamp, then file, then line)."""

    def key(blockers: PackageBlockers) -> tuple[datetime, str, int]:
        file, _, line = blockers.evidence.rpartition(":")
        try:
            when = parse_timestamp(blockers.timestamp)
        except ValueError:
            when = datetime.min.replace(tzinfo=UTC)
        return (when, file, int(line) if line.isdigit() else 0)

    return key(a) > key(b)


def _blockers_after(
    layout: RegistryLayout, queue: Queue, new_records: Sequence[FailureRecord]
) -> dict[str, PackageBlockers]:
    """Each entry's current blockers once this batch's failure records are written: the history
    on disk (through the failure index), with a newer record of this batch deciding instead."""
    from automation.learn.blockers import current_blockers
    from automation.learn.failure_index import indexed_current_blockers, open_index

    with open_index(layout) as (conn, _stats):
        combined = dict(indexed_current_blockers(conn, queue).by_entry)
    for name, fresh in current_blockers(new_records, queue).by_entry.items():
        known = combined.get(name)
        if known is None or _decided_later(fresh, known):
            combined[name] = fresh
    return combined


def _identities_after(
    layout: RegistryLayout, recipe_writes: Sequence[FileWrite]
) -> list[RecipeIdentity]:
    """Recipe identities once this batch's recipes are written (those replace files on disk)."""
    planned = {write.path: write for write in recipe_writes}
    found = []
    for path in layout.recipe_files():
        if _rel(layout, path) in planned:
            continue
        try:
            found.append(read_recipe_identity(path))
        except DataError:
            continue  # unreadable: satisfies nothing (as ``read_recipe_identities`` does)
    for write in planned.values():
        found.append(recipe_identity_from_text(write.data.decode("utf-8"), path=write.path))
    return [
        RecipeIdentity.build(
            f.name,
            source=f.source,
            satisfies=f.satisfies,
            kind="library" if f.is_library else "tool",
        )
        for f in found
    ]


def _requeue_after(
    layout: RegistryLayout,
    queue: Queue,
    recipe_writes: Sequence[FileWrite],
    new_records: Sequence[FailureRecord],
    merged: Sequence[str],
    when: datetime,
) -> tuple[Queue, list[str]]:
    """``requeue_for_merged`` as it would decide right after this batch's writes."""
    from automation.learn.gaps import read_dep_mapping
    from automation.learn.requeue import plan_requeue

    identities = IdentityIndex(
        tuple(_identities_after(layout, recipe_writes)), read_dep_mapping(layout)
    )
    planned = plan_requeue(
        queue,
        _blockers_after(layout, queue, new_records),
        identities,
        now=when,
        merged=sorted({m.lower() for m in merged}),
    )
    return planned.queue, sorted(c.name for c in planned.changes)


# --- the remaining records ----------------------------------------------------------------------


def _queue_write(
    layout: RegistryLayout, before: Queue, before_bytes: bytes | None, after: Queue
) -> FileWrite | None:
    """The queue file, re-stamped, when its entries change (or it does not exist yet)."""
    if before.entries == after.entries and before_bytes is not None:
        return None
    rel = _rel(layout, layout.queue)
    stamped = replace(after, updated_at=format_timestamp(utc_now()))
    return FileWrite(rel, queue_file_bytes(stamped, rel=rel))


def _voter(
    votes: tuple[tuple[str, tuple[bool, ...]], ...],
    batch_id: str,
    when: datetime,
    config: BreakerConfig,
) -> Callable[[Control], Control]:
    """The control-file change: one breaker vote per outcome, once per batch, the trip decided
    on the batch as a whole."""

    def vote(control: Control) -> Control:
        for eco, results_of_eco in votes:
            if _voted(control, eco, batch_id):
                continue  # landed before this run was killed: never count a vote twice
            control = record_batch_outcomes(control, eco, results_of_eco, when, config)
            control = _mark_voted(control, eco, batch_id)
        return control

    return vote


def _metrics_write(
    layout: RegistryLayout,
    batch_id: str,
    outcomes: Sequence[GenerationOutcome],
    results: Mapping[tuple[str, str], ResultLine],
    report: MergeReport,
    when: datetime,
    seconds: float,
) -> FileWrite:
    """The batch's SLI record (schema-checked), a new ``batch-runs-<batch>.jsonl``.

    Entries skipped because the registry has their recipe were not attempted: they count as
    ``generation.skipped`` only, so they never dilute the generation rate."""
    skipped = sum(1 for o in outcomes if o.status == "skipped")
    outcomes = [o for o in outcomes if o.status != "skipped"]
    per_env: dict[str, Counter[str]] = defaultdict(Counter)
    for line in results.values():
        per_env[line.platform][line.status] += 1
    platforms = tuple(
        PlatformCounts(bucket, c["pass"] + c["fail"], c["pass"], c["fail"])
        for bucket, c in sorted(per_env.items())
    )
    ecosystems = Counter(o.source.split(":", 1)[0] for o in outcomes)
    counts = report.counts
    record = MetricsRecord(
        batch_id=batch_id,
        ecosystems=tuple(sorted(ecosystems.items())),
        total=len(outcomes),
        generated=sum(1 for o in outcomes if o.status == "generated"),
        platforms=platforms,
        merged=counts["merged"],
        excluded=counts["excluded"] + counts["held"],
        constrained=sum(1 for d in report.decisions if d.action == "merged" and d.constraints),
        timestamp=format_timestamp(when),
        duration_seconds=round(seconds, 3),
        generation=GenerationCounts(
            attempted=len(outcomes),
            succeeded=sum(1 for o in outcomes if o.status == "generated"),
            failed=sum(1 for o in outcomes if o.status == "failed" and not o.blocked_by),
            blocked=sum(1 for o in outcomes if o.blocked_by),
            skipped=skipped,
        ),
    )
    path = layout.metrics_dir / f"batch-runs-{batch_id}.jsonl"
    if path.exists():
        raise DataError("metrics for this batch already exist", path=str(path))
    document = checked_metrics_document(record, path)
    return FileWrite(_rel(layout, path), (dumps_json(document, pretty=False) + "\n").encode())


def _planned_manifest(
    layout: RegistryLayout,
    batch_id: str,
    ecosystems: list[str],
    queue_file: tuple[bytes | None, FileWrite | None],
    writes: Sequence[FileWrite],
    queue_changes: Sequence[tuple[QueueEntry, QueueEntry]],
) -> mf.BatchManifest:
    """The ``in_progress`` manifest: each file's before-image (read now) and planned digest.

    The queue comes first, recorded even when unchanged (rollback restores its entries)."""
    queue_before, queue_write = queue_file
    queue_rel = _rel(layout, layout.queue)
    changes = [
        mf.planned_change(
            layout, queue_rel, queue_before, queue_write.data if queue_write else queue_before
        )
    ]
    for write in writes:
        if write.path != queue_rel:
            before = _read_bytes(layout.root / write.path)
            changes.append(mf.planned_change(layout, write.path, before, write.data))
    manifest = replace(mf.new_manifest(batch_id, ecosystems), files=tuple(changes))
    for entry_before, entry_after in queue_changes:
        manifest = mf.record_queue_change(manifest, entry_before, entry_after)
    mf.check_manifest(layout, manifest)
    return manifest


# --- plan, apply, merge -----------------------------------------------------------------------


def plan_merge(
    layout: RegistryLayout,
    batch_id: str,
    *,
    now: datetime | None = None,
    gate_config: GateConfig | None = None,
    breaker_config: BreakerConfig | None = None,
    requeue: bool = True,
    allow_missing_shards: bool = False,
    interrupted_undone: bool = False,
    started: float | None = None,
    untested: UntestedPolicy | None = None,
) -> MergePlan:
    """Decide everything a merge of ``batch_id`` writes, without writing (reads only).

    Every input is read and checked and every record built and schema-checked here, so a bad
    input raises UsageError (exit 2) or DataError (exit 3) before the first byte is written.
    ``interrupted_undone``: the caller has undone an interrupted merge of this batch (otherwise
    its ``in_progress`` manifest is refused). ``started`` (``time.monotonic()``) times the
    metrics record from there. ``untested``: the untested platforms policy (default: the
    registry's ``automation.toml`` ``[platforms] untested``, else ``exclude``).
    """
    started = time.monotonic() if started is None else started
    when = now or utc_now()
    config = breaker_config or BreakerConfig()
    staging = _checked_staging(layout, batch_id, allow_missing_shards)
    report = MergeReport(batch_id)
    status = _manifest_status(layout, batch_id)
    _refuse_closed_or_interrupted(batch_id, status, interrupted_undone)
    if status == "merged":
        report.already_merged = True
        return MergePlan(batch_id, report, when, config)
    outcomes = staging.outcomes()
    queue = load_queue(layout.queue)
    queue_before = _read_bytes(layout.queue)  # under the registry lock: the bytes just checked
    results = current_results(layout, batch_id)
    context = GateContext(
        now=when,
        existing_recipes=frozenset(p.stem for p in layout.recipe_files()),
        queue=[RankedName(e.name, e.source) for e in queue.entries],
        config=gate_config or registry_gate_config(layout),
        facts=gate_facts(load_popularity(layout), outcomes),
    )
    policy = untested or untested_policy(layout)
    decided = _decide_outcomes(layout, staging, outcomes, results, queue, context, batch_id, policy)
    report.decisions = decided.decisions
    _exclude_impossible(queue, batch_id, decided, report)
    failure_writes = _failure_writes(layout, decided.failures, when)
    failure_records = _failure_records(failure_writes)
    transitioned = queue.with_entries(
        decided.new_entries.get(e.name.lower(), e) for e in queue.entries
    )
    queue_changes = [
        (e, decided.new_entries[e.name.lower()])
        for e in queue.entries
        if e.name.lower() in decided.new_entries
    ]
    recipe_writes = [item.recipe for item in decided.items if item.recipe is not None]
    final_queue = transitioned
    if requeue and decided.merged_texts:
        final_queue, report.requeued = _requeue_after(
            layout, transitioned, recipe_writes, failure_records, list(decided.merged_texts), when
        )
    queue_write = _queue_write(layout, queue, queue_before, final_queue)
    votes = tuple((eco, tuple(v)) for eco, v in sorted(decided.votes.items()))
    if votes:  # an unreadable control file stops the merge here, not after the writes
        _voter(votes, batch_id, when, config)(load_control(layout.control_file))
    metrics = _metrics_write(
        layout, batch_id, outcomes, results, report, when, time.monotonic() - started
    )
    records = (*failure_writes, *((queue_write,) if queue_write else ()))
    manifest = _planned_manifest(
        layout,
        batch_id,
        sorted({o.source.split(":", 1)[0] for o in outcomes}),
        (queue_before, queue_write),
        [*recipe_writes, *records, metrics],
        queue_changes,
    )
    return MergePlan(
        batch_id,
        report,
        when,
        config,
        manifest=manifest,
        items=tuple(decided.items),
        records=records,
        votes=votes,
        metrics=metrics,
    )


def _write_file(layout: RegistryLayout, write: FileWrite) -> None:
    _, absolute = mf.safe_rel_path(layout, write.path)
    atomic_write_bytes(absolute, write.data)


def _undo_applied(layout: RegistryLayout, manifest: mf.BatchManifest) -> list[str]:
    """Put back every file holding what this batch wrote; returns the files left as found
    because somebody changed them since (never overwritten with a stale before-image)."""
    plan = mf.plan_restore(layout, manifest)
    mf.apply_restore(layout, manifest, plan)
    return plan.paths("conflict")


def _stop_if_asked(layout: RegistryLayout, ecosystem: str, manifest: mf.BatchManifest) -> None:
    """Emergency stop before each item: put back what this run wrote, then stop (exit 5)."""
    try:
        check_allowed_now(layout, ecosystem)
    except StoppedError:
        _undo_applied(layout, manifest)
        raise


def apply_merge(layout: RegistryLayout, plan: MergePlan) -> MergeReport:
    """Write what ``plan`` decided, crash-safe: the ``in_progress`` manifest (before-images and
    planned digests) first, then recipes, failure records, the queue, breaker votes, metrics,
    and last the manifest as ``merged``. Call under the registry lock."""
    if plan.manifest is None:
        return plan.report
    manifest = mf.save_manifest(layout, plan.manifest)
    for item in plan.items:
        _stop_if_asked(layout, item.ecosystem, manifest)
        if item.recipe is not None:
            _write_file(layout, item.recipe)
    for write in plan.records:
        _write_file(layout, write)
    # The control file is not part of the batch: breaker votes are observations, and a
    # rollback must never undo an emergency stop set meanwhile.
    if plan.votes:
        update_control(layout, _voter(plan.votes, plan.batch_id, plan.when, plan.breaker_config))
    if plan.metrics is not None:
        _write_file(layout, plan.metrics)
    mf.save_manifest(layout, manifest.with_status("merged"))
    return plan.report


def _undo_interrupted(layout: RegistryLayout, batch_id: str) -> list[str] | None:
    """Undo a merge of this batch that was killed mid-apply; None when there was none."""
    if not layout.batch_manifest(batch_id).exists():
        return None
    manifest = mf.load_manifest(layout, batch_id)
    return _undo_applied(layout, manifest) if manifest.status == "in_progress" else None


def merge_batch(
    layout: RegistryLayout,
    batch_id: str,
    *,
    now: datetime | None = None,
    gate_config: GateConfig | None = None,
    breaker_config: BreakerConfig | None = None,
    requeue: bool = True,
    lock_wait: float | None = None,
    allow_missing_shards: bool = False,
    pr_body: Path | None = None,
    github_output: Path | None = None,
    untested: UntestedPolicy | None = None,
) -> MergeReport:
    """Merge one batch (idempotent: a merged batch is not merged twice): lock, plan, apply.

    A sharded batch merges once every shard's generation log is in place (their union, in
    selection order, so arrival order does not matter). ``lock_wait``: seconds to wait for the
    registry lock (default: fail fast, or ``AUTOMATION_LOCK_WAIT``). A merge of this batch that
    was interrupted is undone first and redone. ``pr_body``: once the merge is applied, write the
    batch's pull-request body there (and the complete one beside it, see
    :func:`automation.stages.pr_body.write_pr_body`). ``github_output``: append ``auto_merge=``
    and ``merged=`` for the workflow (:func:`automation.stages.pr_body.write_merge_outputs`).
    """
    started = time.monotonic()
    _checked_staging(layout, batch_id, allow_missing_shards)
    check_allowed_now(layout, None)
    with registry_lock(layout.lock_file, timeout=lock_wait):
        # Only lock holders write these directories: a temp file there is a killed writer's.
        sweep_temp_files(merge_owned_dirs(layout))
        sweep_control_temp(layout)
        kept = _undo_interrupted(layout, batch_id)
        plan = plan_merge(
            layout,
            batch_id,
            now=now,
            gate_config=gate_config,
            breaker_config=breaker_config,
            requeue=requeue,
            allow_missing_shards=allow_missing_shards,
            interrupted_undone=kept is not None,
            started=started,
            untested=untested,
        )
        report = apply_merge(layout, plan)
    if kept is not None:
        report.resumed_partial = True
        report.kept_as_found = kept
    report.seconds = time.monotonic() - started
    if pr_body is not None:
        body = write_pr_body(report.to_json(), pr_body)
        report.pr_body = {
            "path": str(pr_body),
            "complete": str(complete_body_path(pr_body)),
            "shortened": body.truncated,
        }
    if github_output is not None:
        write_merge_outputs(report.to_json(), github_output)
    return report
