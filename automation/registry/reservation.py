"""Reservations: two open batches never select the same queue entry.

A batch's ``data/staging/<batch>/selection.json`` is its reservation. While the batch is *open*,
``generate`` of any other batch skips the entries it lists, both when it selects a new batch and
when it resumes one; the skipped entries and the batch holding each one are in generate's report
(``reserved_skips`` in ``--json``). Shards of one batch share its selection (they partition it),
so a batch never reserves against itself.

A batch is **open** from the moment its ``selection.json`` exists until one of these ends it:

* **merged**: ``data/batches/<batch>.json`` says ``merged``. The queue now records each entry's
  outcome; entries the merge left ``pending`` (not validated, for example) are selectable again.
  A manifest still ``in_progress`` (a merge killed half-way) keeps the batch open: the next
  ``invoke merge`` of it undoes and redoes the merge; ``invoke rollback`` undoes it (the batch is
  then rolled back) and ``invoke abandon`` undoes it and abandons the batch.
* **rolled back**: the manifest says ``rolled_back`` (rollback put the entries back as they were).
* **abandoned**: ``invoke abandon --batch-id ID`` (:func:`abandon_batch`) moves the staging folder
  to ``data/staging/.abandoned/<batch>/``, so the batch can no longer be validated, merged or
  resumed (``generate --batch-id ID`` refuses it), and its entries are free at once. A batch
  whose merge was interrupted has what that merge wrote put back first. It refuses a
  merged batch (``rollback`` is the way back) and a batch whose generation is running. Like
  rollback it is not held back by an emergency stop: it only releases (and undoes an interrupted
  merge), it writes no new registry data.
* **expired**: the selection is older than :data:`RESERVATION_TTL` (24 hours). A batch goes from
  generate to merge in about three hours (the CI jobs' time limits are 60 + 90 + 30 minutes), so a
  reservation that old belongs to a batch somebody forgot or a run that died. Its entries are
  selectable again and every generate says so (``expired_reservations`` in ``--json``, a warning
  in the text) until the batch is merged or abandoned. An expired batch is not touched: resuming
  it skips the entries another open batch has taken meanwhile, but what it already generated
  would be merged a second time, so abandon it rather than merge it.

Both endings exist because each covers what the other cannot: abandon releases at once, by a
deliberate act; the age limit makes sure a forgotten batch never holds entries for good.

Crash safety. The scan of reservations, the choice of entries and the writing of the new
``selection.json`` happen in one critical section under the registry lock, so two generates that
run at once are serialised and the second sees the first's reservation. ``selection.json`` is
written atomically: a generate killed before it exists reserved nothing; killed after, its
reservation is complete and is honoured (a rerun resumes the batch) until it ends as above.
``abandon`` writes ``abandoned.json`` into the staging folder before it moves the folder: killed
in between, the folder already counts as abandoned and a rerun of ``abandon`` finishes the move.

An unreadable ``selection.json`` or manifest of another batch stops generate with a data error
naming the file (exit 3): that batch's entries cannot be known to be free. Fix the file, or
abandon the batch (abandon does not need to read its selection).

Reservations live in the checkout's ``data/staging/`` (which is not committed): they keep apart
the batches of one registry checkout. Across checkouts — hosted CI, where every hourly run starts
from ``main`` and each merged batch waits as a pull request on branch ``batch/<id>`` — the
manifest on such a branch is the reservation: with ``AUTOMATION_RESERVE_FROM_REFS`` set to a ref
prefix (``refs/remotes/origin/batch/``; ``make ci-fetch-batch-branches`` fetches them), every
manifest found on those refs and not yet in this checkout holds the entries it changed
(:func:`branch_reservations`) until its pull request is merged (the manifest is then on ``main``)
or closed (the branch is deleted), and expires after the same 24 hours.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from automation.core.atomic import atomic_write_json, registry_lock
from automation.core.errors import DataError, ExitCode, LockedError, UnsafeNameError, UsageError
from automation.core.jsondata import loads, read_json
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name
from automation.core.process import run_process
from automation.core.timefmt import format_timestamp, parse_timestamp
from automation.core.timefmt import now as utc_now
from automation.registry.manifest import (
    BatchManifest,
    RestorePlan,
    apply_restore,
    load_manifest,
    plan_restore,
    save_manifest,
)
from automation.registry.queue import SELECTABLE_STATUSES
from automation.registry.staging import SelectionRecord, Staging, staging_dir

RESERVATION_TTL = timedelta(hours=24)
BRANCH_REFS_ENV = "AUTOMATION_RESERVE_FROM_REFS"
ABANDONED_DIR = ".abandoned"  # not a valid batch id, so never mistaken for a batch
ABANDON_MARKER = "abandoned.json"
OPEN_STATUS = "in_progress"  # manifest status of a merge that has not finished
CLOSED_STATUSES = ("merged", "rolled_back")
# The kit writes manifests pretty-printed with "status" near the top; a top-level key is the
# only one indented by exactly two spaces (a JSON string holds no raw newline), so reading the
# head of the file is enough. Manifests carry a before-image of the queue (megabytes).
_TOP_LEVEL_STATUS = re.compile(rb'\n  "status": "([a-z_]+)"')
_HEAD_BYTES = 8192


class _Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def status(self) -> str: ...


E = TypeVar("E", bound=_Named)


@dataclass(frozen=True, slots=True)
class ReservedSkip:
    """An entry this run did not take because another open batch holds it."""

    name: str
    source: str
    batch_id: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "source": self.source, "batch_id": self.batch_id}


@dataclass(frozen=True, slots=True)
class Reservations:
    """The reservations of the other batches as seen by one generate (under the registry lock)."""

    open: tuple[SelectionRecord, ...] = ()
    expired: tuple[SelectionRecord, ...] = ()
    ttl: timedelta = RESERVATION_TTL

    def holders(self) -> dict[str, str]:
        """Lowercased entry name -> the open batch holding it (the oldest, should two)."""
        out: dict[str, str] = {}
        for record in sorted(self.open, key=lambda r: (r.selected_at, r.batch_id)):
            for name in record.entries:
                out.setdefault(name.lower(), record.batch_id)
        return out

    def withhold(
        self, entries: Iterable[E], ecosystem: str, plan: Iterable[str] | None = None
    ) -> tuple[list[E], list[ReservedSkip]]:
        """``(entries no open batch holds, skips)`` in queue order.

        Skips are the held entries this run would otherwise have considered: for a new selection
        (``plan`` None) those of ``ecosystem`` that are selectable (pending or failed); when
        resuming a batch, those of its recorded ``plan``.
        """
        holders = self.holders()
        planned = None if plan is None else {name.lower() for name in plan}
        free: list[E] = []
        skipped: list[ReservedSkip] = []
        prefix = f"{ecosystem}:"
        for entry in entries:
            holder = holders.get(entry.name.lower())
            if holder is None:
                free.append(entry)
            elif (
                entry.source.startswith(prefix) and entry.status in SELECTABLE_STATUSES
                if planned is None
                else entry.name.lower() in planned
            ):
                skipped.append(ReservedSkip(entry.name, entry.source, holder))
        return free, skipped

    def expired_json(self) -> list[dict[str, Any]]:
        return [
            {
                "batch_id": r.batch_id,
                "selected_at": format_timestamp(r.selected_at),
                "ttl_hours": self.ttl / timedelta(hours=1),
                "entries": list(r.entries),
            }
            for r in self.expired
        ]

    def warnings(self) -> list[str]:
        hours = f"{self.ttl / timedelta(hours=1):g}h"
        return [
            f"warning: the reservation of batch {r.batch_id} (selected "
            f"{format_timestamp(r.selected_at)}) is older than {hours} and has expired: its "
            f"{len(r.entries)} entries are selectable again; `invoke abandon --batch-id "
            f"{r.batch_id}` retires the batch"
            for r in self.expired
        ]


def abandoned_dir(layout: RegistryLayout, batch_id: str) -> Path:
    """Where ``abandon`` moves a batch's staging folder."""
    return layout.root / "data" / "staging" / ABANDONED_DIR / check_recipe_name(batch_id)


def manifest_status(layout: RegistryLayout, batch_id: str) -> str | None:
    """The status in the batch's manifest, or None when it has none (never merged)."""
    path = layout.batch_manifest(batch_id)
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except FileNotFoundError:
        return None
    match = _TOP_LEVEL_STATUS.search(head)
    status: object = match.group(1).decode() if match else None
    if status is None:  # not the kit's layout: read it all, within the data bounds
        document, problem = read_json(path, str(path))
        if problem is not None:
            raise DataError(f"unreadable batch manifest: {problem.message}", path=str(path))
        status = document.get("status") if isinstance(document, dict) else None
    if status not in (OPEN_STATUS, *CLOSED_STATUSES):
        raise DataError(
            f"status must be one of {OPEN_STATUS}, {', '.join(CLOSED_STATUSES)}; got {status!r}",
            path=str(path),
            where="status",
        )
    assert isinstance(status, str)
    return status


def _check_not_abandoned(layout: RegistryLayout, batch_id: str) -> None:
    if (
        abandoned_dir(layout, batch_id).exists()
        or (staging_dir(layout, batch_id) / ABANDON_MARKER).exists()
    ):
        raise UsageError(
            f"batch {batch_id} was abandoned (data/staging/{ABANDONED_DIR}/{batch_id}/); "
            "generate a new batch instead"
        )


# Manifests read with `git show` are small; a larger answer is refused rather than cut short.
GIT_OUTPUT_LIMIT = 64 << 20


def _git(root: Path, *args: str) -> str:
    done = run_process(
        ["git", "-C", str(root), *args],
        None,
        None,
        120,
        merge_stderr=False,
        output_limit=GIT_OUTPUT_LIMIT,
    )
    if done.missing or done.timed_out:
        reason = "git is not installed" if done.missing else "no answer within 120s"
        raise DataError(f"git {' '.join(args[:2])}: {reason}")
    if done.truncated:
        raise DataError(f"git {' '.join(args)}: more than {GIT_OUTPUT_LIMIT} bytes of output")
    if done.exit_code != 0:
        raise DataError(f"git {' '.join(args)}: {(done.stderr or done.output).strip()[:300]}")
    return done.output


def branch_reservations(layout: RegistryLayout, ref_prefix: str) -> list[SelectionRecord]:
    """Batches merged on other branches (``ref_prefix``, e.g. ``refs/remotes/origin/batch/``)
    whose manifest is not in this checkout yet: each holds the entries its merge changed.

    A manifest that cannot be read stops generate with a data error naming the ref and file, as
    an unreadable local selection does.
    """
    if not ref_prefix.startswith("refs/") or ".." in ref_prefix:
        raise UsageError(f"{BRANCH_REFS_ENV} must be a ref prefix like refs/remotes/origin/batch/")
    records: list[SelectionRecord] = []
    refs = _git(layout.root, "for-each-ref", "--format=%(refname)", ref_prefix).split()
    manifests_dir = str(layout.batches_dir.relative_to(layout.root))
    for ref in sorted(refs):
        listing = _git(layout.root, "ls-tree", "--name-only", f"{ref}", f"{manifests_dir}/")
        for path in sorted(listing.split()):
            batch_id = Path(path).stem
            try:
                check_recipe_name(batch_id)
            except UnsafeNameError:
                continue
            if not path.endswith(".json") or layout.batch_manifest(batch_id).exists():
                continue  # merged into this checkout already: the queue says what happened
            where = f"{ref}:{path}"
            # Another clone's manifest: read within the data bounds like any data file.
            manifest, problem = loads(_git(layout.root, "show", where), where)
            if problem is not None:
                raise DataError(f"unreadable batch manifest: {problem.message}", path=where)
            try:
                entries = tuple(str(change["name"]) for change in manifest["queue_changes"])
                ecosystems = manifest.get("ecosystems") or [""]
                selected_at = parse_timestamp(manifest["created_at"])
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(f"unreadable batch manifest: {exc}", path=where) from None
            records.append(SelectionRecord(batch_id, str(ecosystems[0]), selected_at, entries))
    return records


def scan_reservations(
    layout: RegistryLayout,
    now: datetime,
    *,
    own_batch: str | None = None,
    ttl: timedelta = RESERVATION_TTL,
    branch_refs: str | None = None,
) -> Reservations:
    """Every other batch's reservation: open ones, and expired ones (to warn about).

    Call it under the registry lock, in the same critical section that saves the new selection.
    ``own_batch``: the batch being generated (its shards share its selection, so it is left
    out); raises UsageError when that batch was abandoned.
    """
    if own_batch is not None:
        _check_not_abandoned(layout, own_batch)
    open_: list[SelectionRecord] = []
    expired: list[SelectionRecord] = []
    refs = branch_refs if branch_refs is not None else os.environ.get(BRANCH_REFS_ENV)
    for pending in branch_reservations(layout, refs) if refs else ():
        if pending.batch_id != own_batch:
            (expired if now - pending.selected_at > ttl else open_).append(pending)
    base = layout.root / "data" / "staging"
    if not base.is_dir():
        return Reservations(tuple(open_), tuple(expired), ttl)
    for folder in sorted(base.iterdir(), key=lambda p: p.name):
        try:
            batch_id = check_recipe_name(folder.name)
        except UnsafeNameError:
            continue  # .abandoned, or not a batch folder
        if batch_id == own_batch or not folder.is_dir():
            continue
        staging = Staging(layout, batch_id)
        if not staging.selection_path.exists() or (folder / ABANDON_MARKER).exists():
            continue  # never selected (killed first), or abandoned
        if manifest_status(layout, batch_id) in CLOSED_STATUSES:
            continue
        selection = staging.selection_record()
        assert selection is not None
        (expired if now - selection.selected_at > ttl else open_).append(selection)
    return Reservations(tuple(open_), tuple(expired), ttl)


@dataclass
class AbandonReport:
    batch_id: str
    released: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # files an interrupted merge had written
    moved_to: str = ""
    abandoned_at: str = ""
    already_abandoned: bool = False

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "already_abandoned": self.already_abandoned,
            "abandoned_at": self.abandoned_at,
            "moved_to": self.moved_to,
            "released": self.released,
            "restored": self.restored,
        }

    def to_text(self) -> str:
        if self.already_abandoned:
            return f"batch {self.batch_id} was already abandoned ({self.moved_to})"
        undone = ""
        if self.restored:
            undone = f", {len(self.restored)} files an interrupted merge wrote put back"
        return (
            f"abandoned batch {self.batch_id}: {len(self.released)} entries released{undone}, "
            f"staging moved to {self.moved_to}"
        )


@contextlib.contextmanager
def _generation_locks(layout: RegistryLayout, batch_id: str) -> Iterator[None]:
    """Hold every generation lock of the batch (``<batch>-all`` / ``<batch>-sKofN``), failing
    fast when a generate of it is running: its files must not move under it."""
    pattern = re.compile(rf"^{re.escape(batch_id)}-(?:all|s\d+of\d+)\.lock$")
    folder = layout.cache_dir / "locks"
    paths = sorted(p for p in folder.iterdir() if pattern.match(p.name)) if folder.is_dir() else []
    with contextlib.ExitStack() as stack:
        for path in paths:
            try:
                stack.enter_context(registry_lock(path, timeout=0))
            except LockedError:
                raise LockedError(
                    f"batch {batch_id} is being generated right now ({path.name} is held); "
                    "let that run finish or stop it, then abandon the batch"
                ) from None
        yield


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _planned_undo(
    layout: RegistryLayout, batch_id: str, status: str | None
) -> tuple[BatchManifest, RestorePlan] | None:
    """How to put back what an interrupted merge of the batch wrote (files changed since by
    somebody else stay as found); None when no merge of it is in progress. Reads only: an
    unreadable manifest stops the abandon before its first write."""
    if status != OPEN_STATUS:
        return None
    manifest = load_manifest(layout, batch_id)
    return manifest, plan_restore(layout, manifest)


def _undo(layout: RegistryLayout, undo: tuple[BatchManifest, RestorePlan]) -> list[str]:
    """Apply a planned undo and mark the manifest ``rolled_back``; returns the files put back."""
    manifest, plan = undo
    apply_restore(layout, manifest, plan)
    save_manifest(layout, manifest.with_status("rolled_back"))
    return [step.path for step in plan.steps if step.action != "conflict"]


def _marker_time(marker: Path) -> str | None:
    """``abandoned_at`` of an abandon marker; None when the marker cannot say (unreadable, out of
    the data bounds, or no string there): the time is informational, the move is what counts."""
    document, problem = read_json(marker, str(marker))
    if problem is not None or not isinstance(document, dict):
        return None
    value = document.get("abandoned_at")
    return value if isinstance(value, str) else None


def abandon_batch(
    layout: RegistryLayout,
    batch_id: str,
    *,
    reason: str = "",
    by: str = "",
    now: datetime | None = None,
    lock_wait: float | None = None,
    announce: Callable[[str], None] | None = None,
) -> AbandonReport:
    """Release a staged batch's reservation for good (idempotent; see the module docstring).

    A batch whose merge was interrupted has what that merge wrote put back first (``announce``
    receives the list before any write) and its manifest marked ``rolled_back``."""
    batch_id = check_recipe_name(batch_id)
    report = AbandonReport(batch_id)
    source = staging_dir(layout, batch_id)
    target = abandoned_dir(layout, batch_id)
    report.moved_to = target.relative_to(layout.root).as_posix()
    with registry_lock(layout.lock_file, timeout=lock_wait):
        if target.exists():
            if source.exists():
                raise DataError(
                    f"batch {batch_id} is both staged and abandoned; remove one of the folders",
                    path=str(source),
                )
            report.already_abandoned = True
            marker = target / ABANDON_MARKER
            if marker.exists():
                report.abandoned_at = _marker_time(marker) or ""
            return report
        if not source.is_dir():
            raise UsageError(f"no batch {batch_id!r}: {source} does not exist")
        status = manifest_status(layout, batch_id)
        marker = source / ABANDON_MARKER
        # rolled_back with the marker: a killed abandon of an interrupted merge; finish it.
        if status in CLOSED_STATUSES and not (status == "rolled_back" and marker.exists()):
            raise UsageError(
                f"batch {batch_id} is {status}: its reservation has already ended"
                + (" (`invoke rollback` undoes a merged batch)" if status == "merged" else "")
            )
        with _generation_locks(layout, batch_id):
            undo = _planned_undo(layout, batch_id, status)
            if undo is not None and announce is not None:
                announce(undo[1].to_text())
            try:
                record = Staging(layout, batch_id).selection_record()
            except DataError:
                record = None  # an unreadable selection is exactly what abandon is for
            report.released = list(record.entries) if record else []
            if marker.exists():  # a killed abandon wrote it: keep its time and reason
                report.abandoned_at = _marker_time(marker) or ""
            else:
                report.abandoned_at = format_timestamp(now or utc_now())
                atomic_write_json(
                    marker,
                    {
                        "batch_id": batch_id,
                        "abandoned_at": report.abandoned_at,
                        "by": by,
                        "reason": reason,
                        "released": report.released,
                    },
                )
            if undo is not None:
                report.restored = _undo(layout, undo)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)  # one step: the folder is staged or abandoned, not half
            _fsync_dir(target.parent)
            _fsync_dir(source.parent)
    return report
