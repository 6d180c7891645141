"""Generation: queue entries in, staged recipes and structured failures out. Never a crash.

The core loop is pure orchestration over injected parts: ``fetch`` turns a source identifier into
an ``UpstreamPackage`` (the ecosystem adapter, over HTTP), ``build`` turns that into a recipe.

An entry whose recipe is already in the registry is not built: it is logged ``skipped`` with the
reason (``automation.registry.recipes.replacement_refusal``), and merge then marks its queue
entry ``success`` (the registry has its recipe). ``--force NAME`` builds it anyway, to replace a
recipe that is not curated.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from automation.core.errors import DataError, ExitCode, StoppedError, UsageError
from automation.core.layout import RegistryLayout
from automation.ecosystems import build_any, seed_sources
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.popularity import PopularityRecord, load_popularity
from automation.registry.queue import QueueEntry
from automation.registry.recipes import replacement_refusal
from automation.registry.reservation import Reservations, ReservedSkip
from automation.registry.staging import GenerationOutcome, Staging

Fetch = Callable[[str, str], Any]  # (ecosystem, identifier) -> upstream facts
Build = Callable[[str, str, Any], BuiltRecipe | BuildFailure]  # (ecosystem, name, facts)
Guard = Callable[[str], None]  # raises StoppedError when the ecosystem must not proceed


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> ``(2, 4)``; None for no sharding."""
    if not text:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like K/N, got {text!r}") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard {text}: need 1 <= K <= N")
    return k, n


def in_shard(name: str, shard: tuple[int, int] | None) -> bool:
    """Stable split by a hash of the name: the same entry always lands in the same shard."""
    if shard is None:
        return True
    k, n = shard
    digest = int.from_bytes(hashlib.sha256(name.lower().encode()).digest()[:8], "big")
    return digest % n == k - 1


def classify_fetch_error(exc: BaseException) -> tuple[str, str]:
    """Map an adapter exception to (category, subcategory); unknown errors are still specific."""
    category = getattr(exc, "category", None)
    subcategory = getattr(exc, "subcategory", None)
    if isinstance(category, str) and isinstance(subcategory, str):
        return category, subcategory
    name = type(exc).__name__
    table = {
        "NotFound": ("recipe_not_found", "not_found"),
        "RateLimited": ("network_error", "rate_limited"),
        "NetworkError": ("network_error", "connection_error"),
        "UpstreamError": ("network_error", "upstream_unavailable"),
        "BadResponse": ("generation_failed", "bad_response"),
        "ResponseTooLarge": ("generation_failed", "response_too_large"),
        "Timeout": ("network_error", "timeout"),
        "TimedOut": ("network_error", "timeout"),
        "UnsafeNameError": ("generation_failed", "unsafe_name"),
    }
    # The most specific class the table knows (TimedOut before NetworkError).
    for cls in type(exc).__mro__:
        if cls.__name__ in table:
            return table[cls.__name__]
    return "generation_failed", f"unexpected_{name.lower()}"


@dataclass
class GenerateReport:
    batch_id: str
    ecosystem: str
    outcomes: list[GenerationOutcome] = field(default_factory=list)
    skipped_already_done: int = 0
    stopped: str | None = None
    seconds: float = 0.0
    # Entries another open batch holds (automation.registry.reservation), and reservations that
    # expired.
    reserved_skips: list[ReservedSkip] = field(default_factory=list)
    reservations: Reservations = field(default_factory=Reservations)
    # The wall-clock budget (None: none) and the entries it left pending, never started.
    budget_seconds: float | None = None
    left_pending: int = 0
    # Set when the run selected no entry (so it wrote no batch): why, and how to get some.
    nothing_selected: str | None = None
    hint: str | None = None

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def failure_codes(self) -> Counter[str]:
        return Counter(
            f"{o.category}/{o.subcategory}" for o in self.outcomes if o.status == "failed"
        )

    @property
    def attempted(self) -> int:
        """Entries built (generated or failed); not those skipped for an existing recipe."""
        return len(self.outcomes) - self.counts["skipped"]

    @property
    def exit_code(self) -> ExitCode:
        if self.stopped:
            return ExitCode.STOPPED
        return ExitCode.PARTIAL if self.counts["failed"] or self.left_pending else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        rate = self.attempted / self.seconds if self.seconds else 0.0
        return (
            {
                "batch_id": self.batch_id,
                "ecosystem": self.ecosystem,
                "attempted": self.attempted,
                "generated": self.counts["generated"],
                "failed": self.counts["failed"],
                "skipped_recipe_exists": self.counts["skipped"],
                "skipped_already_done": self.skipped_already_done,
                "reserved_skips": [skip.to_json() for skip in self.reserved_skips],
                "expired_reservations": self.reservations.expired_json(),
                "failure_codes": dict(sorted(self.failure_codes.items())),
                "stopped": self.stopped,
                "seconds": round(self.seconds, 3),
                "packages_per_second": round(rate, 2),
                "outcomes": [o.to_json() for o in self.outcomes],
            }
            | self._budget_json()
            | self._nothing_selected_json()
        )

    def _nothing_selected_json(self) -> dict[str, Any]:
        # Only when nothing was selected: a run that generated something writes the same document.
        if self.nothing_selected is None:
            return {}
        return {"nothing_selected": self.nothing_selected, "hint": self.hint}

    def _budget_json(self) -> dict[str, Any]:
        # Only when a budget applied: a run without one writes the same document as before.
        if self.budget_seconds is None:
            return {}
        return {"budget": {"seconds": self.budget_seconds, "left_pending": self.left_pending}}

    def to_text(self) -> str:
        if self.nothing_selected is not None:
            lines = [f"nothing to generate for {self.ecosystem}: {self.nothing_selected}"]
            lines += [f"  {warning}" for warning in self.reservations.warnings()]
            if self.stopped:
                lines.append(f"stopped: {self.stopped}")
            if self.hint:
                lines.append(self.hint)
            return "\n".join(lines)
        skipped = self.counts["skipped"]
        lines = [
            f"batch {self.batch_id} ({self.ecosystem}): {self.attempted} attempted, "
            f"{self.counts['generated']} generated, {self.counts['failed']} failed"
            + (f", {skipped} skipped (recipe exists)" if skipped else "")
            + f" in {self.seconds:.1f}s"
        ]
        if self.skipped_already_done:
            lines.append(
                f"  {self.skipped_already_done} already done in an earlier run of this batch"
            )
        held: dict[str, list[str]] = {}
        for skip in self.reserved_skips:
            held.setdefault(skip.batch_id, []).append(skip.name)
        for holder, names in held.items():
            shown = ", ".join(names[:10]) + (
                f" and {len(names) - 10} more" if len(names) > 10 else ""
            )
            lines.append(f"  {len(names)} skipped, reserved by open batch {holder}: {shown}")
        lines += [f"  {warning}" for warning in self.reservations.warnings()]
        for o in self.outcomes:
            if o.status == "generated":
                detail = ", ".join(o.executables)
            elif o.status == "skipped":
                detail = o.message  # which file, and how to replace it
            else:
                detail = f"{o.category}/{o.subcategory}: {(o.message.splitlines() or [''])[0]}"
            width = 200 if o.status != "skipped" else 400  # the reason is the point: whole
            lines.append(f"  {o.status:9} {o.name:30} {o.source:40} {detail}"[:width])
        if self.left_pending:
            lines.append(
                f"budget of {self.budget_seconds:g} s ran out: {self.left_pending} entries not "
                "started, left pending (rerun with the same --batch-id to continue)"
            )
        if self.stopped:
            lines.append(f"stopped: {self.stopped}")
        return "\n".join(lines)


def _generate_one(
    entry: QueueEntry, fetch: Fetch, build: Build
) -> tuple[GenerationOutcome, str | None]:
    started = time.monotonic()
    ecosystem, identifier = entry.ecosystem, entry.identifier
    try:
        package = fetch(ecosystem, identifier)
    except Exception as exc:
        category, subcategory = classify_fetch_error(exc)
        return GenerationOutcome(
            name=entry.name,
            source=entry.source,
            status="failed",
            category=category,
            subcategory=subcategory,
            message=f"{type(exc).__name__}: {exc}",
            seconds=time.monotonic() - started,
        ), None
    try:
        result = build(ecosystem, entry.name, package)
    except Exception as exc:
        return GenerationOutcome(
            name=entry.name,
            source=entry.source,
            status="failed",
            category="generation_failed",
            subcategory="builder_error",
            message=f"{type(exc).__name__}: {exc}",
            seconds=time.monotonic() - started,
        ), None
    elapsed = time.monotonic() - started
    if isinstance(result, BuildFailure):
        return GenerationOutcome(
            name=entry.name,
            source=entry.source,
            status="failed",
            category=result.category,
            subcategory=result.subcategory,
            message=result.message,
            version=result.version,
            blocked_by=result.blocked_by,
            seconds=elapsed,
        ), None
    return GenerationOutcome(
        name=entry.name,
        source=entry.source,
        status="generated",
        version=result.version,
        executables=result.executables,
        seconds=elapsed,
        first_release=result.first_release,
        downloads=result.downloads,
        downloads_period=result.downloads_period if result.downloads is not None else None,
    ), result.text


def with_seeded_popularity(
    outcome: GenerationOutcome, records: Mapping[str, PopularityRecord]
) -> GenerationOutcome:
    """``outcome`` with the download count seeding recorded for its name and source, when
    there is one: a count over a known period (comparable with the names it may resemble),
    preferred to the registry document's own (often all-time) count."""
    record = records.get(outcome.name.lower())
    if outcome.status != "generated" or record is None or record.source != outcome.source:
        return outcome
    return replace(outcome, downloads=record.downloads, downloads_period=record.period)


def _seeded_popularity(layout: RegistryLayout) -> dict[str, PopularityRecord]:
    # Counts only inform the gates at merge, which say when one is missing: an unreadable file
    # costs the counts, never the batch (check-data and merge name the file).
    try:
        return load_popularity(layout)
    except DataError:
        return {}


def _skipped(entry: QueueEntry, reason: str, forced: bool) -> GenerationOutcome:
    return GenerationOutcome(
        name=entry.name, source=entry.source, status="skipped", message=reason, forced=forced
    )


def generate_entries(
    staging: Staging,
    entries: Sequence[QueueEntry],
    *,
    fetch: Fetch,
    build: Build = build_any,
    guard: Guard = lambda _eco: None,
    workers: int = 8,
    progress: Callable[[GenerationOutcome], None] = lambda _o: None,
    budget_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    force: Collection[str] = (),
) -> GenerateReport:
    """Generate every entry not already logged in this batch; fetches run concurrently.

    Outcomes are logged as each one completes, so a kill at any point loses at most the items in
    flight, and a rerun does only what is missing. ``budget_seconds``: no entry starts once that
    much wall-clock time has passed; those left are counted (``left_pending``), not failed, so
    they stay pending in the queue and a rerun of the batch picks them up. Items in flight
    finish (each request has its own deadline, ``automation.core.http``).

    An entry whose recipe the registry already has is logged ``skipped`` with the reason, not
    built, unless its name is in ``force`` (case-insensitive) and that recipe is not curated;
    a forced outcome is logged ``forced``, which is what lets merge replace the file. A name in
    ``force`` already logged without force (say, skipped) is done again, with it.
    """
    if budget_seconds is not None and budget_seconds <= 0:
        raise UsageError("--budget-seconds must be positive")
    started = clock()
    ecosystem = entries[0].ecosystem if entries else ""
    report = GenerateReport(
        batch_id=staging.batch_id, ecosystem=ecosystem, budget_seconds=budget_seconds
    )
    forced = {name.lower() for name in force}
    logged = {o.name: o for o in staging.outcomes()}
    popularity = _seeded_popularity(staging.layout)

    def done(entry: QueueEntry) -> bool:
        outcome = logged.get(entry.name)
        if outcome is None:
            return False
        return outcome.forced or entry.name.lower() not in forced

    todo = [e for e in entries if not done(e)]
    report.skipped_already_done = len(entries) - len(todo)

    def guarded(entry: QueueEntry) -> tuple[GenerationOutcome, str | None] | None:
        if budget_seconds is not None and clock() - started >= budget_seconds:
            return None  # out of time: not started, left pending
        guard(entry.ecosystem)  # checked before each item: an emergency stop takes effect at once
        is_forced = entry.name.lower() in forced
        refusal = replacement_refusal(staging.layout, entry.name, forced=is_forced)
        if refusal is not None:
            return _skipped(entry, refusal, is_forced), None
        outcome, text = _generate_one(entry, fetch, build)
        outcome = with_seeded_popularity(outcome, popularity)
        return (replace(outcome, forced=True) if is_forced else outcome), text

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(guarded, entry) for entry in todo]
        for future in futures:
            if future.cancelled():
                continue  # never started: the emergency stop came first
            try:
                produced = future.result()
            except StoppedError as exc:
                report.stopped = report.stopped or str(exc)
                for pending in futures:
                    pending.cancel()
                continue
            if produced is None:
                report.left_pending += 1
                continue
            outcome, text = produced
            staging.record(outcome, text)
            report.outcomes.append(outcome)
            progress(outcome)
    report.seconds = clock() - started
    return report


def eligible(entries: Iterable[QueueEntry], ecosystem: str) -> list[QueueEntry]:
    """Pending entries of one ecosystem in queue order (breaker-aware selection lives elsewhere)."""
    return [e for e in entries if e.status == "pending" and e.ecosystem == ecosystem]


def nothing_selected_reason(
    entries: Iterable[QueueEntry], ecosystem: str, max_tier: int, reserved: int
) -> tuple[str, str]:
    """Why a run selected nothing for ``ecosystem``, and what to do about it (both one line).

    An empty queue for the ecosystem is the first-use case: the hint names the seed command with
    the ecosystem's canonical name (the one ``invoke seed --source`` accepts).
    """
    pending = eligible(entries, ecosystem)
    if pending:
        reason = (
            f"{len(pending)} pending {ecosystem} entries, none selectable now "
            f"(tier above --max-tier {max_tier}, backing off after failures"
            + (f", or {reserved} reserved by another open batch)" if reserved else ")")
            + "; no batch was created"
        )
    else:
        reason = f"the queue has no pending {ecosystem} entries; no batch was created"
    if ecosystem in seed_sources():
        hint = f"to queue some, seed first: invoke seed --source {ecosystem}"
    else:
        hint = (
            f"{ecosystem} has no seed source: add entries with "
            f"invoke create --from {ecosystem}:<identifier> or to the queue file by hand"
        )
    return reason, hint
