"""Small hand-made queues and failure records for blocker analysis tests."""

from __future__ import annotations

from automation.learn import blockers as bl
from automation.registry.failures import FailureRecord
from automation.registry.queue import Queue, QueueEntry


def entry(name: str, source: str | None = None, status: str = "blocked", priority: int = 3):
    return QueueEntry(
        name=name,
        source=source or f"homebrew:{name}",
        priority=priority,
        status=status,
        confidence="auto",
        disambiguated_at=None,
        failure_count=1,
        next_retry_at=None,
    )


def queue(*entries: QueueEntry) -> Queue:
    return Queue(1, "2026-01-01T00:00:00Z", tuple(entries))


def record(
    package: str,
    blocked_by: tuple[str, ...] = (),
    *,
    at: str = "2026-03-01T00:00:00Z",
    file: str = "data/failures/homebrew-x.jsonl",
    line: int = 1,
    environment: str = "linux-glibc-x86_64",
    category: str | None = None,
) -> FailureRecord:
    """``package`` is a package id ("eco:ident") for envelope lines, or a bare recipe name."""
    if ":" in package:
        eco, ident = package.split(":", 1)
        return FailureRecord(
            file, line, "ecosystem", ident, package, eco, environment,
            category or ("missing_dep" if blocked_by else "install_failed"),
            category or "missing_dep", None, blocked_by, "", None, at,
        )  # fmt: skip
    return FailureRecord(
        file, line, "platform", package, None, None, environment,
        category or "missing_dep", category or "missing_dep", None, blocked_by, "", 8, at,
    )  # fmt: skip


def analyse(records, q, recipes=(), mapping=None, uniform=True):
    current = bl.current_blockers(records, q)
    identities = bl.IdentityIndex(tuple(recipes), mapping or {})
    return bl.analyse_blockers(current, q, identities, bl.Weights.build(q, uniform=uniform))
