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
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from automation.failures import FailureRecord, failure_files, read_failure_file
from automation.layout import RegistryLayout

SCHEMA_VERSION = 1
INDEX_NAME = "failures.sqlite"
CACHE_ENV = "AUTOMATION_CACHE_DIR"

_SCHEMA = """
CREATE TABLE files (
    file TEXT PRIMARY KEY,      -- path relative to the registry root
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    lines INTEGER NOT NULL,
    problems INTEGER NOT NULL
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL REFERENCES files(file) ON DELETE CASCADE,
    line INTEGER NOT NULL,
    seq INTEGER NOT NULL,        -- position within the line (envelopes hold many failures)
    shape TEXT NOT NULL,
    name TEXT NOT NULL,
    package_id TEXT,
    ecosystem TEXT,
    environment TEXT NOT NULL,
    category TEXT NOT NULL,
    raw_category TEXT NOT NULL,
    subcategory TEXT,
    exit_code INTEGER,
    timestamp TEXT NOT NULL
);
CREATE TABLE blocked_by (
    record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    dependency TEXT NOT NULL
);
CREATE TABLE problems (
    file TEXT NOT NULL REFERENCES files(file) ON DELETE CASCADE,
    place TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX records_file ON records(file);
CREATE INDEX records_package ON records(package_id);
CREATE INDEX records_name ON records(name);
CREATE INDEX blocked_by_record ON blocked_by(record_id);
CREATE INDEX blocked_by_dependency ON blocked_by(dependency);
CREATE INDEX problems_file ON problems(file);
"""


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


def _insert_file(conn: sqlite3.Connection, layout: RegistryLayout, path: Path, rel: str) -> int:
    st = path.stat()
    sha = _file_sha256(path)
    scan = read_failure_file(path, rel=rel)
    conn.execute("DELETE FROM files WHERE file = ?", (rel,))
    conn.execute(
        "INSERT INTO files(file, size, mtime_ns, sha256, lines, problems) VALUES (?,?,?,?,?,?)",
        (rel, st.st_size, st.st_mtime_ns, sha, scan.lines, len(scan.problems)),
    )
    previous: tuple[int, str] | None = None
    seq = 0
    for record in scan.records:
        seq = seq + 1 if previous == (record.line, record.file) else 0
        previous = (record.line, record.file)
        cursor = conn.execute(
            "INSERT INTO records(file, line, seq, shape, name, package_id, ecosystem, environment,"
            " category, raw_category, subcategory, exit_code, timestamp)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rel,
                record.line,
                seq,
                record.shape,
                record.name,
                record.package_id,
                record.ecosystem,
                record.environment,
                record.category,
                record.raw_category,
                record.subcategory,
                record.exit_code,
                record.timestamp,
            ),
        )
        if record.blocked_by:
            conn.executemany(
                "INSERT INTO blocked_by(record_id, dependency) VALUES (?, ?)",
                [(cursor.lastrowid, dep) for dep in record.blocked_by],
            )
    conn.executemany(
        "INSERT INTO problems(file, place, message) VALUES (?,?,?)",
        [(rel, p.where, p.message) for p in scan.problems],
    )
    return len(scan.records)


def refresh(conn: sqlite3.Connection, layout: RegistryLayout) -> tuple[int, int, int, int]:
    """Bring the index in line with the files: (files, read, unchanged, removed)."""
    known = {
        row[0]: (row[1], row[2], row[3])
        for row in conn.execute("SELECT file, size, mtime_ns, sha256 FROM files")
    }
    present: set[str] = set()
    read = unchanged = 0
    with conn:  # one transaction: readers never see half a refresh
        for path in failure_files(layout):
            rel = str(path.relative_to(layout.root))
            present.add(rel)
            st = path.stat()
            stored = known.get(rel)
            if stored is not None and stored[0] == st.st_size and stored[1] == st.st_mtime_ns:
                unchanged += 1
                continue
            if stored is not None and stored[0] == st.st_size and stored[2] == _file_sha256(path):
                conn.execute("UPDATE files SET mtime_ns = ? WHERE file = ?", (st.st_mtime_ns, rel))
                unchanged += 1
                continue
            _insert_file(conn, layout, path, rel)
            read += 1
        removed = [rel for rel in known if rel not in present]
        conn.executemany("DELETE FROM files WHERE file = ?", [(rel,) for rel in removed])
    return len(present), read, unchanged, len(removed)


@contextlib.contextmanager
def open_index(
    layout: RegistryLayout, *, path: Path | str | None = "default"
) -> Iterator[tuple[sqlite3.Connection, IndexStats]]:
    """Refresh and open the index (``path=None`` forces an in-memory index)."""
    started = time.perf_counter()
    location = default_index_path(layout) if path == "default" else path
    target = Path(location) if location is not None else None
    conn = _open(target)
    try:
        files, read, unchanged, removed = refresh(conn, layout)
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
        yield conn, stats
    finally:
        conn.close()


def indexed_records(conn: sqlite3.Connection) -> list[FailureRecord]:
    """Every indexed record in file-name then line order. Messages are not indexed (empty)."""
    deps: dict[int, list[str]] = {}
    for record_id, dependency in conn.execute(
        "SELECT record_id, dependency FROM blocked_by ORDER BY rowid"
    ):
        deps.setdefault(record_id, []).append(dependency)
    out = []
    for row in conn.execute(
        "SELECT id, file, line, shape, name, package_id, ecosystem, environment, category,"
        " raw_category, subcategory, exit_code, timestamp FROM records ORDER BY file, line, seq"
    ):
        out.append(
            FailureRecord(
                file=row[1],
                line=row[2],
                shape=row[3],
                name=row[4],
                package_id=row[5],
                ecosystem=row[6],
                environment=row[7],
                category=row[8],
                raw_category=row[9],
                subcategory=row[10],
                blocked_by=tuple(deps.get(row[0], ())),
                message="",
                exit_code=row[11],
                timestamp=row[12],
            )
        )
    return out


def indexed_problems(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(file, place, message) of every unreadable line, in file order."""
    return list(conn.execute("SELECT file, place, message FROM problems ORDER BY file, rowid"))


def load_failure_records(
    layout: RegistryLayout, *, index_path: Path | str | None = "default"
) -> tuple[list[FailureRecord], list[tuple[str, str, str]], IndexStats]:
    """Refresh the index and return (records, problems, stats)."""
    with open_index(layout, path=index_path) as (conn, stats):
        return indexed_records(conn), indexed_problems(conn), stats
