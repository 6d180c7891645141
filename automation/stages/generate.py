"""Generation: queue entries in, staged recipes and structured failures out. Never a crash.

The core loop is pure orchestration over injected parts: ``fetch`` turns a source identifier into
an ``UpstreamPackage`` (the ecosystem adapter, over HTTP), ``build`` turns that into a recipe.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from automation.core.errors import ExitCode, StoppedError, UsageError
from automation.ecosystems import build_any, seed_sources
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from automation.registry.queue import QueueEntry
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
    def exit_code(self) -> ExitCode:
        if self.stopped:
            return ExitCode.STOPPED
        return ExitCode.PARTIAL if self.counts["failed"] or self.left_pending else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        rate = len(self.outcomes) / self.seconds if self.seconds else 0.0
        return (
            {
                "batch_id": self.batch_id,
                "ecosystem": self.ecosystem,
                "attempted": len(self.outcomes),
                "generated": self.counts["generated"],
                "failed": self.counts["failed"],
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
        lines = [
            f"batch {self.batch_id} ({self.ecosystem}): {len(self.outcomes)} attempted, "
            f"{self.counts['generated']} generated, {self.counts['failed']} failed "
            f"in {self.seconds:.1f}s"
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
            detail = (
                ", ".join(o.executables)
                if o.status == "generated"
                else (f"{o.category}/{o.subcategory}: {(o.message.splitlines() or [''])[0]}")
            )
            lines.append(f"  {o.status:9} {o.name:30} {o.source:40} {detail}"[:200])
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
    ), result.text


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
) -> GenerateReport:
    """Generate every entry not already logged in this batch; fetches run concurrently.

    Outcomes are logged as each one completes, so a kill at any point loses at most the items in
    flight, and a rerun does only what is missing. ``budget_seconds``: no entry starts once that
    much wall-clock time has passed; those left are counted (``left_pending``), not failed, so
    they stay pending in the queue and a rerun of the batch picks them up. Items in flight
    finish (each request has its own deadline, ``automation.core.http``).
    """
    if budget_seconds is not None and budget_seconds <= 0:
        raise UsageError("--budget-seconds must be positive")
    started = clock()
    ecosystem = entries[0].ecosystem if entries else ""
    report = GenerateReport(
        batch_id=staging.batch_id, ecosystem=ecosystem, budget_seconds=budget_seconds
    )
    done = {o.name for o in staging.outcomes()}
    todo = [e for e in entries if e.name not in done]
    report.skipped_already_done = len(entries) - len(todo)

    def guarded(entry: QueueEntry) -> tuple[GenerationOutcome, str | None] | None:
        if budget_seconds is not None and clock() - started >= budget_seconds:
            return None  # out of time: not started, left pending
        guard(entry.ecosystem)  # checked before each item: an emergency stop takes effect at once
        return _generate_one(entry, fetch, build)

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
