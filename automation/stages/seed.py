"""Seeding: add the most popular PyPI/npm command-line tools to the priority queue.

Candidates come in popularity order (``automation.ecosystems.popularity``). A candidate is accepted
when
its newest release ships executables (PyPI: wheel console scripts or ``.data/scripts``; npm:
``bin`` of the latest version), the ecosystem does not judge it a library that happens to ship
a script (``automation.ecosystems.toolness``: outcome ``library_script``, with the signals that
decided it; names in ``data/tier1.json`` are exempt; the rule is in ``docs/SEEDING.md``), and
its recipe name is safe, new to the queue (case-insensitive) and has no recipe yet.

``limit`` is the seeding window, as in tsuku's seeder where ``-limit`` bounds the candidates
taken from the source before existing names are dropped: the run stops once ``limit`` candidates
are accounted for, counting both names accepted now and names already queued or with a recipe.
A rerun over the same ranking therefore adds nothing. Look-ups are bounded by ``max_lookups``.

The recipe name comes from the identifier (``automation.core.names.recipe_name_for``), except for
GitHub, whose repository names often are not the tool's (``cli/cli`` is ``gh``): there the curated
list names it (``automation.ecosystems.github.adapter.recipe_name``).

Priority: 1 when the recipe name is in ``data/tier1.json``; 2 when the rank-based percentile
within the ecosystem is at least 99 (the top 1 %); else 3. The raw numbers go to
``data/queues/popularity.json`` because the queue's eight keys are fixed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from automation.core import schemas
from automation.core.atomic import append_jsonl, atomic_write_json, registry_lock
from automation.core.config import ENV_PREFIX as ENDPOINT_ENV_PREFIX
from automation.core.config import SEED_FAILURES_ENV
from automation.core.errors import AutomationError, DataError, ExitCode, UnsafeNameError, UsageError
from automation.core.http import HttpClient, HttpError
from automation.core.jsondata import read_json
from automation.core.layout import REPOSITORY_ROOT, RegistryLayout
from automation.core.names import recipe_name_for
from automation.core.timefmt import format_timestamp
from automation.ecosystems import Lookup, adapter_for, adapters, seed_sources
from automation.ecosystems.popularity import (
    PopularityList,
    Ranked,
)
from automation.ecosystems.toolness import LIBRARY_SCRIPT, TOOL_THRESHOLD
from automation.registry.disambiguations import audit_dir, audit_filename, read_audit_file
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.stages.disambiguate import Probe, decide, probe_from_popularity, record_decision

TIER1_FILE = REPOSITORY_ROOT / "data" / "tier1.json"
TIER2_PERCENTILE = 99.0
SEEDING_RUNS_FILE = "seeding-runs.jsonl"
# Skip reasons, in report order.
REASONS = (
    "has_recipe",
    "in_queue",
    "duplicate",
    "not_cli",
    LIBRARY_SCRIPT,
    "unsafe_name",
    "fetch_error",
)
TRANSIENT = frozenset({"network_error", "upstream_error", "rate_limited"})
# Look-up verdicts remembered between runs (cache, not registry data): a candidate without
# executables or judged a library is not looked up again for this long, so widening the window
# run after run (``invoke grow``) costs requests for new candidates only.
REMEMBERED = ("not_cli", LIBRARY_SCRIPT)
MEMO_DAYS = 7


def popularity_path(layout: RegistryLayout) -> Path:
    return layout.root / "data" / "queues" / "popularity.json"


def load_tier1(path: Path = TIER1_FILE) -> frozenset[str]:
    """Names in ``data/tier1.json`` (schema-checked)."""
    document, problem = read_json(path, str(path))  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(problem.message, path=str(path), where=problem.where)
    problems = schemas.check(document, "tier1", path=str(path))
    if problems:
        raise DataError(problems[0].message, path=str(path), where=problems[0].where)
    return frozenset(entry["name"] for entry in document["entries"])


def tier_for(name: str, percentile: float, tier1: frozenset[str]) -> int:
    """1 = in the tier-1 list, 2 = top 1 % of its ecosystem, 3 = the rest."""
    if name in tier1:
        return 1
    if percentile >= TIER2_PERCENTILE:
        return 2
    return 3


@dataclass(frozen=True, slots=True)
class SeedItem:
    """The outcome for one examined candidate."""

    identifier: str
    name: str | None
    rank: int
    outcome: str  # "accepted" or one of REASONS
    detail: str = ""
    priority: int | None = None
    executables: tuple[str, ...] = ()
    tool_score: int | None = None  # the ecosystem's tool verdict (``toolness``), when it judges
    signals: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identifier": self.identifier,
            "name": self.name,
            "rank": self.rank,
            "outcome": self.outcome,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.priority is not None:
            out["priority"] = self.priority
        if self.executables:
            out["executables"] = list(self.executables)
        if self.tool_score is not None:
            out["tool_score"] = self.tool_score
            out["signals"] = list(self.signals)
        return out


@dataclass(frozen=True, slots=True)
class GaveUp:
    """Seeding stopped a source: ``failures`` look-ups in a row failed on the network.

    ``endpoint`` is the configured endpoint the last failing request went to (None when its URL
    is under no configured endpoint), ``base`` that endpoint's base URL.
    """

    source: str
    failures: int
    endpoint: str | None
    base: str
    last_error: str
    during: str  # "look-ups" or "the popularity list"

    @property
    def variable(self) -> str | None:
        return None if self.endpoint is None else f"{ENDPOINT_ENV_PREFIX}{self.endpoint.upper()}"

    def message(self) -> str:
        """The one message a maintainer reads: what failed, where, and what to change."""
        what = (
            f"{self.failures} look-ups in a row failed on the network"
            if self.during == "look-ups"
            else "its popularity list could not be fetched"
        )
        where = f"endpoint {self.endpoint} at {self.base}" if self.endpoint else self.base
        fix = (
            f"check that it is reachable from here, or point {self.variable} (or [endpoints] "
            f"{self.endpoint} in automation.toml) at a mirror"
            if self.endpoint
            else "check that it is reachable from here"
        )
        limit = (
            f"; {SEED_FAILURES_ENV} (or [seed] max_network_failures) sets how many failures in "
            "a row stop a source"
            if self.during == "look-ups"
            else ""
        )
        return f"gave up on {self.source}: {what} ({where}; last: {self.last_error}); {fix}{limit}"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "failures": self.failures,
            "endpoint": self.endpoint,
            "base_url": self.base,
            "variable": self.variable,
            "last_error": self.last_error,
            "during": self.during,
        }


def gave_up_on(
    source: str, http: HttpClient, error: HttpError, failures: int, during: str
) -> GaveUp:
    """What to tell about ``error``, the last of ``failures`` network failures of ``source``."""
    endpoint = error.endpoint or http.config.endpoint_for_url(error.url)
    base = http.config.endpoint(endpoint) if endpoint else error.url
    # urllib3's text nests the pool and connection reprs; the errno is what a reader needs.
    cause = re.search(r"\[Errno (-?\d+)\]\s*([^'\")]*)", str(error))
    if cause is None:
        reason = str(error)[:200]
    else:  # urllib3's text may be cut short; the system's words for a positive errno are not
        number = int(cause[1])
        words = os.strerror(number) if number > 0 else cause[2].strip()
        reason = f"[Errno {number}] {words}"
    return GaveUp(source, failures, endpoint, base, f"{error.category}: {reason}", during)


@dataclass
class SeedReport:
    source: str
    limit: int
    run_at: str
    popularity_source: str = ""
    popularity_as_of: str | None = None
    population: int = 0
    items: list[SeedItem] = field(default_factory=list)
    fetch_errors: Counter[str] = field(default_factory=Counter)
    duration: float = 0.0
    requests: int = 0
    stopped: str | None = None
    gave_up: GaveUp | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> list[SeedItem]:
        return [i for i in self.items if i.outcome == "accepted"]

    @property
    def examined(self) -> int:
        return len(self.items)

    @property
    def skipped(self) -> Counter[str]:
        return Counter(i.outcome for i in self.items if i.outcome != "accepted")

    @property
    def exit_code(self) -> ExitCode:
        if self.stopped:
            return ExitCode.STOPPED
        if any(category in TRANSIENT for category in self.fetch_errors):
            return ExitCode.PARTIAL
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        skipped = self.skipped
        return {
            "source": self.source,
            "limit": self.limit,
            "run_at": self.run_at,
            "examined": self.examined,
            "accepted": [i.to_json() for i in self.accepted],
            "skipped": {reason: skipped[reason] for reason in REASONS if skipped[reason]},
            "fetch_errors": dict(sorted(self.fetch_errors.items())),
            "skipped_items": [i.to_json() for i in self.items if i.outcome != "accepted"],
            "duration_seconds": round(self.duration, 3),
            "requests": self.requests,
            "popularity": {
                "source": self.popularity_source,
                "as_of": self.popularity_as_of,
                "population": self.population,
            },
            "stopped": self.stopped,
            "gave_up": None if self.gave_up is None else self.gave_up.to_json(),
            "notes": list(self.notes),
            "exit_code": int(self.exit_code),
        }

    def to_text(self) -> str:
        skipped = self.skipped
        lines = [
            f"seed {self.source}: {len(self.accepted)} added, {self.examined} examined "
            f"(limit {self.limit}) in {self.duration:.1f}s, {self.requests} requests",
            f"popularity: {self.popularity_source} (as of {self.popularity_as_of}, "
            f"{self.population} ranked)",
        ]
        for item in self.accepted:
            exes = ", ".join(item.executables)
            lines.append(
                f"  + {item.name:<24} {self.source}:{item.identifier} priority {item.priority}"
                f" [{exes}]"
            )
        if skipped:
            lines.append(
                "skipped: " + ", ".join(f"{r} {skipped[r]}" for r in REASONS if skipped[r])
            )
        if self.fetch_errors:
            lines.append(
                "fetch errors: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.fetch_errors.items()))
            )
        if self.stopped:
            lines.append(f"STOPPED: {self.stopped}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def recipe_namer(source: str) -> Callable[[str], str]:
    """How seeding ``source`` names a candidate identifier (see the module doc)."""
    adapter = adapters().get(source)
    if adapter is not None and adapter.recipe_name is not None:
        return adapter.recipe_name
    return recipe_name_for


STOP_CHECK_SECONDS = 1.0  # how late seeding may notice an emergency stop or an open breaker


def _stop_checker(layout: RegistryLayout, ecosystem: str) -> Callable[[], None]:
    """``automation.registry.control.check_allowed_now`` when that module exists, else a no-op;
    asked at most once every :data:`STOP_CHECK_SECONDS`."""
    try:
        control = importlib.import_module("automation.registry.control")
    except ImportError:
        return lambda: None
    check: Callable[[RegistryLayout, str], None] | None = getattr(
        control, "check_allowed_now", None
    )
    if check is None:
        return lambda: None
    # Read the control file at most every STOP_CHECK_SECONDS: seeding walks tens of thousands
    # of candidates (most answered from memory), and a read per candidate took minutes.
    last_checked = [-STOP_CHECK_SECONDS]

    def checked() -> None:
        moment = time.monotonic()
        if moment - last_checked[0] >= STOP_CHECK_SECONDS:
            check(layout, ecosystem)
            last_checked[0] = moment

    return checked


def _progress(enabled: bool, limit: int) -> tuple[AbstractContextManager[Any], Callable[..., None]]:
    if not enabled:
        return nullcontext(), lambda **_: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("seeding", total=limit, status="")

    def update(**kw: Any) -> None:
        progress.update(task, **kw)

    return progress, update


def _read_popularity_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    document, problem = read_json(path, str(path))  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(problem.message, path=str(path), where=problem.where)
    problems = schemas.check(document, "popularity", path=str(path))
    if problems:
        raise DataError(problems[0].message, path=str(path), where=problems[0].where)
    entries: dict[str, Any] = document["entries"]
    return entries


def seed(
    layout: RegistryLayout,
    source: str,
    limit: int,
    http: HttpClient,
    now: datetime,
    *,
    popularity: PopularityList | None = None,
    tier1: frozenset[str] | None = None,
    max_lookups: int | None = None,
    progress: bool | None = None,
) -> SeedReport:
    """Seed up to ``limit`` new ``source`` entries into ``layout``'s queue (see module doc)."""
    sources = seed_sources()
    if source not in sources:
        raise UsageError(f"--source must be one of {', '.join(sources)}, got {source!r}")
    if limit < 0:
        raise UsageError("--limit must be >= 0")
    # Deep enough for an ecosystem whose tools are rare among its popular packages (npm:
    # about 1 in 65 of the first 1,000 passes the tool rule, docs/SEEDING.md).
    max_lookups = max_lookups if max_lookups is not None else max(1000, limit * 100)
    started = time.monotonic()
    requests_before = http.requests_made
    report = SeedReport(source=source, limit=limit, run_at=format_timestamp(now))
    tier1 = load_tier1() if tier1 is None else tier1
    check_stop = _stop_checker(layout, source)
    try:
        check_stop()
    except AutomationError as exc:
        report.stopped = str(exc)
        return report
    with registry_lock(layout.lock_file):
        queue = load_queue(layout.queue)
        popularity_doc = _read_popularity_file(popularity_path(layout))
        if popularity is None:
            loader = adapter_for(source).popularity
            assert loader is not None  # seed_sources() only lists adapters that have one
            try:
                popularity = loader(http, layout, max(20_000, max_lookups * 3))
            except HttpError as exc:
                if exc.category not in TRANSIENT:
                    raise
                # Unreachable: one message naming the endpoint; nothing read, nothing written.
                report.gave_up = gave_up_on(source, http, exc, 1, "the popularity list")
                report.stopped = report.gave_up.message()
                report.duration = time.monotonic() - started
                report.requests = http.requests_made - requests_before
                return report
        report.popularity_source = popularity.source
        report.popularity_as_of = popularity.as_of
        report.population = popularity.population
        report.notes.extend(popularity.notes)
        # Names another ecosystem seeded are looked up again and decided, not skipped.
        contested = _contested(layout, queue.by_name(), popularity_doc, source)
        show = progress if progress is not None else sys.stderr.isatty()
        display, update = _progress(show and limit > 0, limit)
        memo = load_memo(layout, source, now)
        with display:
            new_entries = _examine(
                layout,
                {k: e for k, e in queue.by_name().items() if k not in contested},
                popularity,
                http,
                report,
                tier1,
                max_lookups,
                check_stop,
                update,
                memo,
            )
        save_memo(layout, source, memo, report, now)
        new_entries, changed = _disambiguate(
            layout, contested, popularity_doc, popularity, report, new_entries, now
        )
        if new_entries or changed:
            kept = (changed.get(e.name.lower(), e) for e in queue.entries)
            updated = queue.with_entries((*kept, *new_entries))
            save_queue(layout.queue, updated, previous=queue)
            _write_popularity(layout, popularity_doc, popularity, report, now)
            _append_seeding_run(layout, report, len(new_entries))
    report.duration = time.monotonic() - started
    report.requests = http.requests_made - requests_before
    return report


def _contested(
    layout: RegistryLayout,
    queued: dict[str, QueueEntry],
    popularity_doc: dict[str, Any],
    source: str,
) -> dict[str, QueueEntry]:
    """Queued names seeded from another ecosystem: ``source`` may compete for them.

    Only entries whose popularity (``data/queues/popularity.json``) was recorded by seeding are
    contested; curated and already built entries are never re-decided here, nor are names whose
    audit already probed ``source`` (so a rerun changes nothing).
    """
    out = {}
    for key, entry in queued.items():
        known = popularity_doc.get(entry.name)
        if (
            known is None
            or known.get("ecosystem") == source
            or entry.source != f"{known.get('ecosystem')}:{known.get('identifier')}"
            or entry.confidence != "auto"
            or entry.status == "success"
        ):
            continue
        audit_path = audit_dir(layout) / audit_filename(entry.name)[0]
        audit = read_audit_file(audit_path).record if audit_path.is_file() else None
        if audit and any(p.source.startswith(f"{source}:") for p in audit.probe_results):
            continue
        out[key] = entry
    return out


def _disambiguate(
    layout: RegistryLayout,
    contested: dict[str, QueueEntry],
    popularity_doc: dict[str, Any],
    popularity: PopularityList,
    report: SeedReport,
    new_entries: list[QueueEntry],
    now: datetime,
) -> tuple[list[QueueEntry], dict[str, QueueEntry]]:
    """Decide each accepted name that another ecosystem already queued; write its audit.

    Returns the entries still to append and the replaced queue entries (by lowercased name). A
    clear win for the new source replaces the queued one; a clear win for the queued source
    keeps it; a close call keeps the queued source and marks the entry ``requires_manual``.
    """
    if not contested:
        return new_entries, {}
    by_id = {r.identifier: r for r in popularity.entries}
    stamp = format_timestamp(now)
    changed: dict[str, QueueEntry] = {}
    remaining = list(new_entries)
    for index, item in enumerate(report.items):
        existing = contested.get((item.name or "").lower())
        if item.outcome != "accepted" or existing is None:
            continue
        ranked = by_id[item.identifier]
        old = probe_from_popularity(
            popularity_doc[existing.name],
            has_executables=True,  # seeding accepted it for its executables
            disqualified="excluded" if existing.status == "excluded" else None,
        )
        new = Probe(
            report.source,
            item.identifier,
            ranked.percentile,
            ranked.downloads,
            popularity.period,
            has_executables=True,
        )
        decision = decide(existing.name, [old, new])
        record_decision(layout, decision, [old, new], previous_source=existing.source, when=now)
        remaining = [e for e in remaining if e.name != item.name]
        key = existing.name.lower()
        if decision.selected == new.source:
            assert item.priority is not None
            changed[key] = existing.with_changes(
                source=new.source,
                priority=item.priority,
                status="pending",
                disambiguated_at=stamp,
                failure_count=0,
                next_retry_at=None,
            )
            detail = f"replaces {existing.source} ({decision.selection_reason})"
            report.items[index] = replace(item, detail=detail)
        else:
            status = "requires_manual" if decision.requires_manual else existing.status
            changed[key] = existing.with_changes(status=status, disambiguated_at=stamp)
            detail = f"{decision.selection_reason}: kept {existing.source}; {decision.detail}"
            report.items[index] = replace(item, outcome="in_queue", detail=detail)
        report.notes.append(f"disambiguated {existing.name}: {report.items[index].detail}")
    return remaining, changed


def _examine(
    layout: RegistryLayout,
    queued: dict[str, QueueEntry],
    popularity: PopularityList,
    http: HttpClient,
    report: SeedReport,
    tier1: frozenset[str],
    max_lookups: int,
    check_stop: Callable[[], None],
    update: Callable[..., None],
    memo: dict[str, dict[str, str]] | None = None,
) -> list[QueueEntry]:
    source = report.source
    lookup = adapter_for(source).lookup
    assert lookup is not None
    name_for = recipe_namer(source)
    window = max(1, http.config.threads) * 2
    new_entries: list[QueueEntry] = []
    accepted_names: set[str] = set()
    accounted = 0
    lookups = 0
    # Look-ups in a row (in rank order) that failed on the network; at the configured number
    # the source is given up: the rest would fail the same way, each after its retries.
    give_up_after = max(1, http.config.seed_max_network_failures)
    failures_in_row = 0
    pending: deque[tuple[Ranked, str, Future[Lookup] | None, SeedItem | None]] = deque()
    candidates: Iterator[Ranked] = iter(popularity.entries)
    exhausted = False
    in_flight = 0  # entries of `pending` with a look-up (done or not)
    known_ahead = 0  # entries of `pending` that already count (in_queue, has_recipe)

    def prefilter(ranked: Ranked) -> tuple[str, SeedItem | None]:
        try:
            name = name_for(ranked.identifier)
        except UnsafeNameError as exc:
            return "", SeedItem(ranked.identifier, None, ranked.rank, "unsafe_name", exc.detail)
        if name in queued:
            return name, SeedItem(ranked.identifier, name, ranked.rank, "in_queue")
        if layout.recipe_path(name).exists():
            return name, SeedItem(ranked.identifier, name, ranked.rank, "has_recipe")
        known = (memo or {}).get(ranked.identifier)
        if known is not None and not (known["outcome"] == LIBRARY_SCRIPT and name in tier1):
            detail = f"{known['detail']} (look-up of {known['at']} remembered)"
            return name, SeedItem(ranked.identifier, name, ranked.rank, known["outcome"], detail)
        return name, None

    def counts(item: SeedItem | None) -> bool:
        return item is not None and item.outcome in ("in_queue", "has_recipe")

    with ThreadPoolExecutor(max_workers=max(1, http.config.threads)) as pool:
        try:
            while accounted < report.limit:
                # Keep up to `window` look-ups in flight; skips resolve at once. Stop reading
                # candidates once the queued skips already ahead would fill the window.
                while not exhausted:
                    # Counted as entries join and leave `pending` (not summed over it: skips
                    # remembered from earlier runs can queue up thousands ahead of a look-up).
                    if in_flight >= window or accounted + known_ahead >= report.limit:
                        break
                    if lookups >= max_lookups:
                        exhausted = True
                        report.notes.append(f"look-up bound of {max_lookups} reached")
                        break
                    ranked = next(candidates, None)
                    if ranked is None:
                        exhausted = True
                        break
                    check_stop()
                    name, skip = prefilter(ranked)
                    if skip is None:
                        lookups += 1
                        future = pool.submit(lookup, http, ranked.identifier)
                        pending.append((ranked, name, future, None))
                        in_flight += 1
                    else:
                        pending.append((ranked, name, None, skip))
                        known_ahead += counts(skip)
                if not pending:
                    break
                ranked, name, maybe_future, item = pending.popleft()
                in_flight -= maybe_future is not None
                known_ahead -= counts(item)
                if item is None:
                    assert maybe_future is not None
                    item = _judge(
                        ranked,
                        name,
                        maybe_future,
                        report,
                        tier1,
                        accepted_names,
                        http.config.seed_unnamed_min_score,
                    )
                    error = maybe_future.exception() if maybe_future.done() else None
                    if isinstance(error, HttpError) and error.category in TRANSIENT:
                        failures_in_row += 1
                    else:
                        failures_in_row = 0  # the endpoint answered
                    if failures_in_row >= give_up_after and isinstance(error, HttpError):
                        report.items.append(item)
                        report.gave_up = gave_up_on(
                            source, http, error, failures_in_row, "look-ups"
                        )
                        report.stopped = report.gave_up.message()
                        http.abort()  # the look-ups in flight end now, not after retries
                        break
                report.items.append(item)
                if item.outcome in ("accepted", "in_queue", "has_recipe"):
                    accounted += 1
                if item.outcome == "accepted" and item.name:
                    accepted_names.add(item.name)
                    new_entries.append(_entry(source, item))
                update(completed=len(new_entries), status=f"{report.examined} examined")
        except AutomationError as exc:
            if exc.exit_code != ExitCode.STOPPED:
                raise
            report.stopped = str(exc)
        finally:
            for _, _, leftover, _ in pending:
                if leftover is not None:
                    leftover.cancel()
    http.reset_abort()  # every look-up has ended: the client serves its caller again
    return new_entries


def _judge(
    ranked: Ranked,
    name: str,
    future: Future[Lookup],
    report: SeedReport,
    tier1: frozenset[str],
    accepted_names: set[str],
    unnamed_min_score: int = TOOL_THRESHOLD,
) -> SeedItem:
    try:
        found = future.result()
    except UnsafeNameError as exc:
        return SeedItem(ranked.identifier, name, ranked.rank, "unsafe_name", exc.detail)
    except HttpError as exc:
        report.fetch_errors[exc.category] += 1
        return SeedItem(
            ranked.identifier, name, ranked.rank, "fetch_error", f"{exc.category}: {exc}"
        )
    except Exception as exc:  # one bad item never ends the batch
        report.fetch_errors["internal_error"] += 1
        detail = f"internal_error: {type(exc).__name__}: {exc}"
        return SeedItem(ranked.identifier, name, ranked.rank, "fetch_error", detail[:500])
    if not found.executables:
        return SeedItem(ranked.identifier, name, ranked.rank, "not_cli", f"version {found.version}")
    verdict = found.tool
    score = None if verdict is None else verdict.score
    signals = () if verdict is None else tuple(s.label() for s in verdict.signals)
    if verdict is not None and not verdict.queued(unnamed_min_score) and name not in tier1:
        # A library that happens to ship a script: not queued, for a stable, stated reason.
        return SeedItem(
            ranked.identifier,
            name,
            ranked.rank,
            LIBRARY_SCRIPT,
            verdict.explain_refusal(unnamed_min_score),
            executables=found.executables,
            tool_score=score,
            signals=signals,
        )
    if name in accepted_names:
        return SeedItem(ranked.identifier, name, ranked.rank, "duplicate", "name taken in this run")
    priority = tier_for(name, ranked.percentile, tier1)
    return SeedItem(
        ranked.identifier,
        name,
        ranked.rank,
        "accepted",
        "",
        priority,
        found.executables,
        tool_score=score,
        signals=signals,
    )


def memo_path(layout: RegistryLayout, source: str) -> Path:
    return layout.cache_dir / "seeding" / f"{source.replace('.', '')}-lookups.json"


def load_memo(layout: RegistryLayout, source: str, now: datetime) -> dict[str, dict[str, str]]:
    """Remembered ``not_cli``/``library_script`` verdicts younger than :data:`MEMO_DAYS`
    (identifier -> outcome, detail, at); an unreadable file is a cache miss, never an error."""
    path = memo_path(layout, source)
    if not path.is_file():
        return {}
    document, problem = read_json(path, str(path))
    entries = document.get("entries") if problem is None and isinstance(document, dict) else None
    if not isinstance(entries, dict):
        return {}
    oldest = format_timestamp(now - timedelta(days=MEMO_DAYS))
    out: dict[str, dict[str, str]] = {}
    for identifier, value in entries.items():
        if (
            isinstance(value, dict)
            and value.get("outcome") in REMEMBERED
            and isinstance(value.get("detail"), str)
            and isinstance(value.get("at"), str)
            and value["at"] >= oldest  # the kit's timestamps sort as text
        ):
            out[identifier] = {
                "outcome": value["outcome"],
                "detail": value["detail"],
                "at": value["at"],
            }
    return out


def save_memo(
    layout: RegistryLayout,
    source: str,
    memo: dict[str, dict[str, str]],
    report: SeedReport,
    now: datetime,
) -> None:
    """Add this run's fresh ``not_cli``/``library_script`` verdicts to the memo (replaced whole)."""
    stamp = format_timestamp(now)
    fresh = {
        item.identifier: {"outcome": item.outcome, "detail": item.detail, "at": stamp}
        for item in report.items
        if item.outcome in REMEMBERED and "remembered)" not in item.detail
    }
    if not fresh:
        return
    # A cache that cannot be written only costs requests next time.
    with contextlib.suppress(OSError):
        atomic_write_json(memo_path(layout, source), {"entries": {**memo, **fresh}}, pretty=False)


def _entry(source: str, item: SeedItem) -> QueueEntry:
    assert item.name is not None and item.priority is not None
    return QueueEntry(
        name=item.name,
        source=f"{source}:{item.identifier}",
        priority=item.priority,
        status="pending",
        confidence="auto",
        disambiguated_at=None,
        failure_count=0,
        next_retry_at=None,
    )


def _write_popularity(
    layout: RegistryLayout,
    existing: dict[str, Any],
    popularity: PopularityList,
    report: SeedReport,
    now: datetime,
) -> None:
    by_id = {r.identifier: r for r in popularity.entries}
    entries = dict(existing)
    for item in report.accepted:
        ranked = by_id[item.identifier]
        entries[item.name or ""] = {
            "ecosystem": report.source,
            "identifier": item.identifier,
            "downloads": ranked.downloads,
            "rank": ranked.rank,
            "percentile": ranked.percentile,
            "period": popularity.period,
            "source": popularity.source,
            "as_of": popularity.as_of,
        }
    document = {
        "schema_version": 1,
        "updated_at": format_timestamp(now),
        "entries": dict(sorted(entries.items())),
    }
    path = popularity_path(layout)
    problems = schemas.check(document, "popularity", path=str(path))
    if problems:
        raise DataError(f"refusing to write invalid popularity data: {problems[0]}", path=str(path))
    atomic_write_json(path, document)


def _append_seeding_run(layout: RegistryLayout, report: SeedReport, added: int) -> None:
    """One ``seeding-runs.jsonl`` line in tsuku's shape (only runs that changed the queue)."""
    errors = [f"{i.identifier}: {i.detail}" for i in report.items if i.outcome == "fetch_error"]
    record = {
        "run_at": report.run_at,
        "sources_processed": [report.source],
        "sources_failed": [],
        "new_packages": added,
        "stale_refreshed": 0,
        "source_changes": [],
        "curated_skipped": 0,
        "curated_invalid": [],
        "errors": errors[:100],
    }
    path = layout.metrics_dir / SEEDING_RUNS_FILE
    if schemas.check(record, "seeding-run", path=str(path)):
        return  # the metrics owner's schema moved on; the queue is what matters here
    append_jsonl(path, [record])


def seed_registry(
    root: str | Path, source: str, limit: int, *, config_path: str | Path | None = None
) -> SeedReport:
    """Front-door entry: configuration from ``root`` (or ``config_path``), one client, one run."""
    from automation.core.config import load_config
    from automation.core.timefmt import now

    layout = RegistryLayout.at(root)
    config = load_config(layout.root, Path(config_path) if config_path else None)
    with HttpClient(config) as http:
        return seed(layout, source, limit, http, now())
