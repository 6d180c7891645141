"""A SQLite index of ``data/failures/*.jsonl``, rebuilt incrementally (a cache, never the truth).

The JSONL files in git stay the source of truth; the index lives in
``<root>/.cache/automation/failures.sqlite`` and is refreshed before every read:

* a file whose size and mtime (ns) match the stored ones is not opened;
* a file whose stat changed is hashed (sha256); same hash → only the stat is updated;
* a new or changed file has its rows replaced; a removed file has its rows dropped.

A corrupt or other-version database is deleted and rebuilt. A root whose cache location is not
writable (e.g. the read-only reference snapshot, ``dr-xr-xr-x`` even for root) gets an in-memory
index instead, so reading a registry never writes into it. ``AUTOMATION_CACHE_DIR`` moves the
cache elsewhere (one database per registry root).

Scale: a cold build of a million records (about 200 MB of JSONL) reads and checks the files in
worker processes (one per CPU) while this process inserts; records are narrow rows keyed by an
integer "who" (package id, name, ecosystem), so the per-entry questions of the blocker analysis
are integer GROUP BYs (``bench/`` measures it against a bare parse + GROUP BY).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import multiprocessing
import os
import sqlite3
import stat
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.ecosystem_facts import normalise_ecosystem
from automation.core.errors import DataError
from automation.core.layout import RegistryLayout
from automation.core.parallel import can_fork
from automation.core.report import Problem
from automation.core.timefmt import parse_timestamp
from automation.learn import blockers as bl
from automation.registry.failures import (
    FailureLines,
    FailureRecord,
    failure_files,
    scan_failure_text,
)
from automation.registry.queue import Queue, QueueEntry

SCHEMA_VERSION = 4  # 4: narrow records keyed by a hashed subject (who), sortable timestamps
INDEX_NAME = "failures.sqlite"
CACHE_ENV = "AUTOMATION_CACHE_DIR"

_SCHEMA = """
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL UNIQUE,  -- path relative to the registry root
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    lines INTEGER NOT NULL,
    problems INTEGER NOT NULL,
    first_id INTEGER NOT NULL,  -- the file's records are ids first_id .. last_id
    last_id INTEGER NOT NULL
);
-- One row per record, narrow and without secondary indexes: a cold build inserts a million of
-- them, and every query is a full scan or a range by id.
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL,
    subject_id INTEGER NOT NULL, -- hash of (shape, package_id, name, ecosystem): GROUP BY key
    shape TEXT NOT NULL,
    package_id TEXT,
    name TEXT NOT NULL,
    ecosystem TEXT,
    line INTEGER NOT NULL,
    seq INTEGER NOT NULL,        -- position within the line (envelopes hold many failures)
    environment TEXT NOT NULL,
    category TEXT NOT NULL,
    raw_category TEXT,           -- NULL when equal to category
    subcategory TEXT,
    exit_code INTEGER,
    timestamp TEXT NOT NULL,
    ts_key TEXT NOT NULL,        -- the timestamp as sortable naive-UTC text; '' when unparsable
    blocked_by TEXT              -- dependency names joined by newlines (names have no spaces)
);
CREATE TABLE problems (
    file_id INTEGER NOT NULL,
    place TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX problems_file ON problems(file_id);

"""
PARALLEL_MIN_FILES = 64  # fewer changed files than this are read in-process
PARALLEL_MIN_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What one refresh did."""

    location: str  # database path, or ":memory:"
    persisted: bool
    files: int
    files_read: int
    files_unchanged: int  # stat matched, or stat changed but the hash did not
    files_removed: int
    records: int
    problems: int
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            "location": self.location,
            "persisted": self.persisted,
            "files": self.files,
            "files_read": self.files_read,
            "files_unchanged": self.files_unchanged,
            "files_removed": self.files_removed,
            "records": self.records,
            "problems": self.problems,
            "seconds": round(self.seconds, 3),
        }


def _writable_dir(path: Path) -> bool:
    """The nearest existing ancestor is writable by us and not marked read-only by its mode."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    try:
        mode = probe.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(probe, os.W_OK)


def default_index_path(layout: RegistryLayout) -> Path | None:
    """Where this registry's index lives; None when only an in-memory index is possible."""
    override = os.environ.get(CACHE_ENV)
    if override:
        digest = hashlib.sha256(str(layout.root).encode("utf-8")).hexdigest()[:16]
        path = Path(override) / digest / INDEX_NAME
    else:
        path = layout.cache_dir / INDEX_NAME
    return path if _writable_dir(path.parent) else None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _connect(location: str) -> sqlite3.Connection:
    conn = sqlite3.connect(location)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _tune(conn: sqlite3.Connection) -> None:
    """A cache: transactions stay atomic (WAL); durability across power loss is not needed (a
    damaged database is rebuilt from the files)."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -65536")


def _open(path: Path | None) -> sqlite3.Connection:
    """Open (creating or rebuilding as needed) an index database with the current schema."""
    if path is None:
        conn = _connect(":memory:")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return conn
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):
        conn = _connect(str(path))
        try:
            _tune(conn)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                conn.execute("SELECT 1 FROM files LIMIT 1")
                return conn
            if version == 0 and not conn.execute("SELECT name FROM sqlite_master").fetchall():
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.commit()
                return conn
        except sqlite3.DatabaseError:
            if attempt:
                raise
        conn.close()
        # A cache of another version, or corrupt: start over.
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
    raise AssertionError("unreachable")  # pragma: no cover


def sort_key(timestamp: str, memo: dict[str, str]) -> str:
    """``timestamp`` as naive-UTC ISO text with microseconds (sorts as time); '' if unparsable.

    Ties and precision are those of ``automation.core.timefmt.parse_timestamp``, so SQL ordering by
    (ts_key, file, line, seq) is the order ``blockers.current_blockers`` uses.
    """
    key = memo.get(timestamp)
    if key is None:
        try:
            when = parse_timestamp(timestamp)
        except ValueError:
            key = ""
        else:
            key = when.replace(tzinfo=None).isoformat(timespec="microseconds")
        memo[timestamp] = key
    return key


def _delete_file(conn: sqlite3.Connection, file_id: int, first: int, last: int) -> None:
    conn.execute("DELETE FROM records WHERE id BETWEEN ? AND ?", (first, last))
    conn.execute("DELETE FROM problems WHERE file_id = ?", (file_id,))
    conn.execute("DELETE FROM files WHERE id = ?", (file_id,))


Subject = tuple[str, str | None, str, str | None]  # shape, package_id, name, ecosystem


def subject_id(subject: Subject) -> int:
    """A subject's id: 63 bits of its hash, so worker processes agree without coordinating.

    Only a GROUP BY key: the subject's fields are stored in every row, and a collision (about 1
    in 10^8 at a million subjects) is detected by ``indexed_current_blockers``.
    """
    digest = hashlib.blake2b(json.dumps(subject).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass(frozen=True, slots=True)
class _FileScan:
    """One failure file read, hashed, checked and turned into rows (in a worker process when
    parallel, so the process writing the database only inserts)."""

    rel: str
    size: int
    mtime_ns: int
    sha256: str
    lines: int
    problems: tuple[Problem, ...]
    # (subject_id, shape, package_id, name, ecosystem, line, seq, environment, category,
    #  raw_category or None, subcategory, exit_code, timestamp, ts_key, blocked_by joined by
    #  newlines or None)
    rows: list[tuple[Any, ...]]


def _scan_file(path: str, rel: str) -> _FileScan:
    """Read a failure file once: its stat, hash and checked records (runs in worker processes)."""
    file = Path(path)
    st = file.stat()
    data = file.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lines = FailureLines()
        lines.problems.append(Problem(rel, "", f"cannot read: {exc}"))
    else:
        lines = scan_failure_text(text, rel=rel)
    memo: dict[str, str] = {}
    ids: dict[Subject, int] = {}
    rows = []
    previous_line = -1
    seq = 0
    for lineno, f in lines.rows:
        seq = seq + 1 if lineno == previous_line else 0
        previous_line = lineno
        subject = (f[0], f[2], f[1], f[3])
        sid = ids.get(subject)
        if sid is None:
            sid = ids[subject] = subject_id(subject)
        ts_key = sort_key(f[11], memo)
        rows.append(
            (sid, f[0], f[2], f[1], f[3], lineno, seq, f[4], f[5], None if f[6] == f[5] else f[6],
             f[7], f[10], f[11], ts_key, "\n".join(f[8]) if f[8] else None)
        )  # fmt: skip
    return _FileScan(
        rel, st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest(), lines.lines,
        tuple(lines.problems), rows,
    )  # fmt: skip


def _build_shard(jobs: list[tuple[str, str]], shard: str) -> None:
    """Index ``jobs`` into a fresh database at ``shard`` (runs in a worker process: each worker
    writes its own file, so parsing *and* inserting use every core; the refresh then copies the
    shards in with one SQL statement per table)."""
    conn = sqlite3.connect(shard)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # a scratch file: deleted if anything fails
        conn.execute("PRAGMA synchronous = OFF")
        conn.executescript(_SCHEMA)
        with conn:
            next_id = 1
            for path, rel in jobs:
                next_id = _insert_scan(conn, _scan_file(path, rel), next_id)
    finally:
        conn.close()


def _split(jobs: list[tuple[Path, str]], parts: int) -> list[list[tuple[str, str]]]:
    """``jobs`` in ``parts`` groups of about equal bytes (largest first onto the lightest)."""
    groups: list[list[tuple[str, str]]] = [[] for _ in range(parts)]
    weights = [0] * parts
    for size, path, rel in sorted(((p.stat().st_size, p, r) for p, r in jobs), reverse=True):
        lightest = weights.index(min(weights))
        groups[lightest].append((str(path), rel))
        weights[lightest] += size
    return [g for g in groups if g]


def _parallel_worth_it(jobs: list[tuple[Path, str]]) -> bool:
    if len(jobs) < PARALLEL_MIN_FILES or not can_fork():  # see automation.core.parallel
        return False
    return sum(path.stat().st_size for path, _ in jobs) >= PARALLEL_MIN_BYTES


def _attach_shards(conn: sqlite3.Connection, jobs: list[tuple[Path, str]], tmp: str) -> int:
    """Build shards of ``jobs`` in worker processes and attach them as shard0, shard1, ..."""
    groups = _split(jobs, min(os.cpu_count() or 1, 8))
    shards = [os.path.join(tmp, f"shard{i}.sqlite") for i in range(len(groups))]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(len(groups), mp_context=context) as pool:
        for done in [
            pool.submit(_build_shard, g, shard) for g, shard in zip(groups, shards, strict=True)
        ]:
            done.result()  # re-raises a worker's error
    for i, shard in enumerate(shards):
        conn.execute(f"ATTACH DATABASE ? AS shard{i}", (shard,))
    return len(shards)


def _copy_shard(conn: sqlite3.Connection, name: str) -> None:
    """Append an attached shard's files, records and problems, renumbering their ids."""
    file_offset = conn.execute("SELECT COALESCE(MAX(id), 0) FROM files").fetchone()[0]
    record_offset = conn.execute("SELECT COALESCE(MAX(id), 0) FROM records").fetchone()[0]
    columns = (
        "subject_id, shape, package_id, name, ecosystem, line, seq, environment, category,"
        " raw_category, subcategory, exit_code, timestamp, ts_key, blocked_by"
    )
    conn.execute(
        "INSERT INTO files(id, file, size, mtime_ns, sha256, lines, problems, first_id, last_id)"
        " SELECT id + :f, file, size, mtime_ns, sha256, lines, problems, first_id + :r,"
        f" last_id + :r FROM {name}.files",
        {"f": file_offset, "r": record_offset},
    )
    conn.execute(
        f"INSERT INTO records(id, file_id, {columns}) SELECT id + :r, file_id + :f, {columns}"
        f" FROM {name}.records ORDER BY id",
        {"f": file_offset, "r": record_offset},
    )
    conn.execute(
        "INSERT INTO problems(file_id, place, message) SELECT file_id + :f, place, message"
        f" FROM {name}.problems ORDER BY rowid",
        {"f": file_offset},
    )


def _insert_scan(conn: sqlite3.Connection, scan: _FileScan, next_id: int) -> int:
    """Index one scanned file's records as ids ``next_id`` onwards; returns the next free id."""
    last_id = next_id + len(scan.rows) - 1
    cursor = conn.execute(
        "INSERT INTO files(file, size, mtime_ns, sha256, lines, problems, first_id, last_id)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (scan.rel, scan.size, scan.mtime_ns, scan.sha256, scan.lines, len(scan.problems),
         next_id, last_id),
    )  # fmt: skip
    file_id = int(cursor.lastrowid or 0)
    # Row ids are assigned by SQLite as MAX(id) + 1, so this file's rows are next_id .. last_id
    # (one writer: the refresh holds the transaction); checked below, it is what deletion uses.
    conn.executemany(
        "INSERT INTO records(subject_id, shape, package_id, name, ecosystem, line, seq,"
        " environment, category, raw_category, subcategory, exit_code, timestamp, ts_key,"
        f" blocked_by, file_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,{file_id})",
        scan.rows,
    )
    if scan.rows:
        top = conn.execute("SELECT MAX(id) FROM records").fetchone()[0]
        if top != last_id:  # pragma: no cover - would mean a second writer
            raise DataError(f"failure index: expected record ids up to {last_id}, got {top}")
    conn.executemany(
        "INSERT INTO problems(file_id, place, message) VALUES (?,?,?)",
        [(file_id, p.where, p.message) for p in scan.problems],
    )
    return last_id + 1


@dataclass
class _Plan:
    """What a refresh must do to one table of file states."""

    present: int = 0
    unchanged: int = 0
    to_read: list[tuple[Path, str]] = field(default_factory=list)
    stale_ids: list[int] = field(default_factory=list)  # rows to drop (changed or removed files)
    removed: int = 0
    touched: list[tuple[int, int]] = field(default_factory=list)  # (mtime_ns, id): same bytes


def _plan(conn: sqlite3.Connection, layout: RegistryLayout, table: str) -> _Plan:
    """Compare ``table`` with the files on disk (reads only: the refresh applies the plan).

    Size and mtime equal: unchanged, not opened. Size equal and the hash too: only the stat is
    updated. Anything else is read again; files gone from disk are dropped.
    """
    known = {
        row[0]: row[1:]
        for row in conn.execute(f"SELECT file, id, size, mtime_ns, sha256 FROM {table}")
    }
    plan = _Plan()
    seen: set[str] = set()
    for path in failure_files(layout):
        rel = str(path.relative_to(layout.root))
        seen.add(rel)
        st = path.stat()
        stored = known.get(rel)
        if stored is not None:
            file_id, size, mtime_ns, sha = stored
            if size == st.st_size and mtime_ns == st.st_mtime_ns:
                plan.unchanged += 1
                continue
            if size == st.st_size and sha == _file_sha256(path):
                plan.touched.append((st.st_mtime_ns, file_id))
                plan.unchanged += 1
                continue
            plan.stale_ids.append(file_id)
        plan.to_read.append((path, rel))
    gone = [stored[0] for rel, stored in known.items() if rel not in seen]
    plan.stale_ids += gone
    plan.removed = len(gone)
    plan.present = len(seen)
    return plan


def refresh(conn: sqlite3.Connection, layout: RegistryLayout) -> tuple[int, int, int, int]:
    """Bring the record index in line with the files: (files, read, unchanged, removed).

    Many changed files (a cold build) are indexed into shard databases by worker processes,
    attached, and copied in; a few are read in-process. Either way the changes land in one
    transaction, so readers never see half a refresh and a killed refresh changes nothing.
    """
    plan = _plan(conn, layout, "files")
    with contextlib.ExitStack() as scratch:
        shards = 0
        if _parallel_worth_it(plan.to_read):
            tmp = scratch.enter_context(tempfile.TemporaryDirectory(prefix="failure-index-"))
            shards = _attach_shards(conn, plan.to_read, tmp)
        try:
            with conn:
                conn.executemany("UPDATE files SET mtime_ns = ? WHERE id = ?", plan.touched)
                for file_id in plan.stale_ids:
                    first, last = conn.execute(
                        "SELECT first_id, last_id FROM files WHERE id = ?", (file_id,)
                    ).fetchone()
                    _delete_file(conn, file_id, first, last)
                if shards:
                    for i in range(shards):
                        _copy_shard(conn, f"shard{i}")
                elif plan.to_read:
                    next_id = (conn.execute("SELECT MAX(id) FROM records").fetchone()[0] or 0) + 1
                    for path, rel in plan.to_read:
                        next_id = _insert_scan(conn, _scan_file(str(path), rel), next_id)
        finally:
            for i in range(shards):
                conn.execute(f"DETACH DATABASE shard{i}")
    return plan.present, len(plan.to_read), plan.unchanged, plan.removed


def _open_refreshed(
    target: Path | None, layout: RegistryLayout
) -> tuple[sqlite3.Connection, tuple[int, int, int, int]]:
    conn = _open(target)
    try:
        return conn, refresh(conn, layout)
    except BaseException:
        conn.close()
        raise


SKIPPED_SHOWN = 3  # unreadable lines named in the warning; check-data lists every one


def _warn_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def skipped_lines_warning(conn: sqlite3.Connection) -> str | None:
    """One warning naming the failure lines the index skipped (None when there are none).

    A line outside the data bounds (an exit code beyond int64, nesting past the limit) or
    otherwise invalid is never indexed, so every reader of the index (gaps, requeue, reorder,
    backfill-report, dashboard) goes on without it; this says so, with file and line.
    """
    total = conn.execute("SELECT COUNT(*) FROM problems").fetchone()[0]
    if not total:
        return None
    shown = [
        f"{file} {place}: {message}"
        for file, place, message in conn.execute(
            "SELECT f.file, p.place, p.message FROM problems p JOIN files f ON f.id = p.file_id"
            " ORDER BY f.file, p.rowid LIMIT ?",
            (SKIPPED_SHOWN,),
        )
    ]
    more = f" (and {total - len(shown)} more)" if total > len(shown) else ""
    return (
        f"warning: skipped {total} unreadable failure line(s){more}; `invoke check-data` lists "
        "them all: " + "; ".join(shown)
    )


@contextlib.contextmanager
def open_index(
    layout: RegistryLayout,
    *,
    path: Path | str | None = "default",
    warn: Callable[[str], None] = _warn_stderr,
) -> Iterator[tuple[sqlite3.Connection, IndexStats]]:
    """Refresh and open the index (``path=None`` forces an in-memory index).

    Skipped (unreadable) failure lines are reported through ``warn`` (stderr by default, so a
    ``--json`` document on stdout stays clean).
    """
    started = time.perf_counter()
    location = default_index_path(layout) if path == "default" else path
    target = Path(location) if location is not None else None
    try:
        conn, (files, read, unchanged, removed) = _open_refreshed(target, layout)
    except sqlite3.OperationalError:
        if target is None:
            raise
        # Only a cache: a full disk (or a database file that cannot be written) gets an
        # in-memory index, as a read-only registry does.
        target = None
        conn, (files, read, unchanged, removed) = _open_refreshed(target, layout)
    try:
        records = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        problems = conn.execute("SELECT COUNT(*) FROM problems").fetchone()[0]
        stats = IndexStats(
            location=str(target) if target else ":memory:",
            persisted=target is not None,
            files=files,
            files_read=read,
            files_unchanged=unchanged,
            files_removed=removed,
            records=records,
            problems=problems,
            seconds=time.perf_counter() - started,
        )
        warning = skipped_lines_warning(conn) if problems else None
        if warning is not None:
            warn(warning)
        yield conn, stats
    finally:
        conn.close()


def indexed_records(conn: sqlite3.Connection) -> list[FailureRecord]:
    """Every indexed record in file-name then line order. Messages are not indexed (empty)."""
    return [
        FailureRecord(
            file=row[0],
            line=row[1],
            shape=row[2],
            name=row[3],
            package_id=row[4],
            ecosystem=row[5],
            environment=row[6],
            category=row[7],
            raw_category=row[8] if row[8] is not None else row[7],
            subcategory=row[9],
            blocked_by=tuple(row[12].split("\n")) if row[12] else (),
            message="",
            exit_code=row[10],
            timestamp=row[11],
        )
        for row in conn.execute(
            "SELECT f.file, r.line, r.shape, r.name, r.package_id, r.ecosystem, r.environment,"
            " r.category, r.raw_category, r.subcategory, r.exit_code, r.timestamp, r.blocked_by"
            " FROM records r JOIN files f ON f.id = r.file_id"
            " ORDER BY f.file, r.line, r.seq"
        )
    ]


def indexed_problems(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(file, place, message) of every unreadable line, in file order."""
    return list(
        conn.execute(
            "SELECT f.file, p.place, p.message FROM problems p JOIN files f ON f.id = p.file_id"
            " ORDER BY f.file, p.rowid"
        )
    )


def load_failure_records(
    layout: RegistryLayout, *, index_path: Path | str | None = "default"
) -> tuple[list[FailureRecord], list[tuple[str, str, str]], IndexStats]:
    """Refresh the index and return (records, problems, stats)."""
    with open_index(layout, path=index_path) as (conn, stats):
        return indexed_records(conn), indexed_problems(conn), stats


def indexed_current_blockers(
    conn: sqlite3.Connection,
    queue: Queue,
    *,
    ecosystem: str | None = None,
    environment: str | None = None,
) -> bl.CurrentBlockers:
    """``blockers.current_blockers`` over the indexed records, without materialising them.

    SQL counts the records per subject (package id, name, ecosystem: what decides the entry a
    record belongs to), so Python resolves each subject once; only records carrying
    ``blocked_by`` come to Python to pick each entry's deciding record. The result equals
    ``current_blockers(indexed_records(conn), queue, ...)`` (tested).
    """
    lookup = bl.EntryLookup.of(queue)
    wanted_eco = normalise_ecosystem(ecosystem) if ecosystem else None
    where = " AND r.environment = ?" if environment is not None else ""
    params: tuple[str, ...] = (environment,) if environment is not None else ()
    owners: dict[int, tuple[QueueEntry, str | None]] = {}
    unresolved: dict[str, int] = defaultdict(int)
    stale: dict[str, int] = defaultdict(int)
    considered = bad_timestamps = 0
    for (
        subject_id,
        package_id,
        package_id_max,
        name,
        name_max,
        record_eco,
        count,
        bad,
    ) in conn.execute(
        # A subject's fields are what its id hashes: equal in every row of a group, unless
        # two subjects collided (then MIN and MAX differ and the cache must be rebuilt).
        "SELECT r.subject_id, MIN(r.package_id), MAX(r.package_id), MIN(r.name),"
        " MAX(r.name), MIN(r.ecosystem), COUNT(*), SUM(r.ts_key = '') FROM records r"
        f" WHERE 1{where} GROUP BY r.subject_id",
        params,
    ):
        if package_id != package_id_max or name != name_max:  # pragma: no cover
            raise DataError(
                f"failure index: subject id collision at {package_id or name}; delete the cache "
                "database (AUTOMATION_CACHE_DIR or .cache/automation) to rebuild it"
            )
        entry, how = lookup.resolve(package_id, name)
        if wanted_eco is not None and (record_eco or (entry.ecosystem if entry else None)) != (
            wanted_eco
        ):
            continue
        considered += count
        if entry is None:
            unresolved[package_id or name] += count
        elif how == "stale":
            stale[package_id or name] += count
        else:
            bad_timestamps += bad
            owners[subject_id] = (entry, record_eco)
    deciding: dict[str, tuple[Any, ...]] = {}
    for subject_id, ts_key, file, line, seq, timestamp, blocked in conn.execute(
        "SELECT r.subject_id, r.ts_key, f.file, r.line, r.seq, r.timestamp, r.blocked_by"
        f" FROM records r JOIN files f ON f.id = r.file_id WHERE r.blocked_by IS NOT NULL{where}",
        params,
    ):
        owned = owners.get(subject_id)
        if owned is None:
            continue
        order = (ts_key, file, line, seq)
        entry_name = owned[0].name.lower()
        best = deciding.get(entry_name)
        if best is None or order > best[0]:
            deciding[entry_name] = (order, owned[0], owned[1], blocked, timestamp)
    by_entry = {
        name: bl.PackageBlockers.decided_by(
            owner, record_eco, blocked.split("\n"), f"{order[1]}:{order[2]}", timestamp
        )
        for name, (order, owner, record_eco, blocked, timestamp) in deciding.items()
    }
    return bl.CurrentBlockers(
        by_entry=by_entry,
        records=considered,
        unresolved=dict(sorted(unresolved.items())),
        stale=dict(sorted(stale.items())),
        bad_timestamps=bad_timestamps,
    )
