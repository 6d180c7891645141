"""A small synthetic registry whose dashboard numbers are known (shared by the dashboard tests).

Written through the kit's own writers, so every file is valid. The expected numbers are in
``EXPECTED``; ``NOW`` is the moment the dashboard and SLIs are evaluated at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from automation.core.layout import RegistryLayout
from automation.registry import manifest as mf
from automation.registry.breaker import BreakerState
from automation.registry.control import Control, save_control
from automation.registry.failures import NewFailure, write_failures
from automation.registry.metrics import (
    GenerationCounts,
    MetricsRecord,
    PlatformCounts,
    write_metrics_record,
)
from automation.registry.queue import Queue, QueueEntry, save_queue
from automation.registry.results import ResultLine, append_results

NOW = datetime(2026, 6, 3, 0, 0, tzinfo=UTC)
EVIL = "x<script>alert(1)</script>"
DEBIAN = "linux-debian-glibc-x86_64"


def _entry(name: str, source: str, priority: int, status: str) -> QueueEntry:
    return QueueEntry(name, source, priority, status, "auto", None, 0, None)


ENTRIES = (
    _entry("httpie", "pypi:httpie", 1, "success"),
    _entry("black", "pypi:black", 2, "success"),
    _entry("lib3mf", "pypi:lib3mf", 3, "pending"),
    _entry("ruff", "pypi:ruff", 3, "failed"),
    _entry("azion", "npm:azion", 3, "pending"),
    _entry("prettier", "npm:prettier", 2, "success"),
    _entry(EVIL, "npm:evil-pkg", 3, "blocked"),
    _entry("wget", "homebrew:wget", 3, "blocked"),
)

EXPECTED: dict[str, Any] = {
    "queue.total": 8,
    "queue.by_status": {
        "pending": 2,
        "success": 3,
        "failed": 1,
        "blocked": 2,
        "requires_manual": 0,
        "excluded": 0,
    },
    "queue.by_tier": {"1": 1, "2": 2, "3": 5},
    "failures.by_category": {
        "recipe_not_found": 0,
        "network_error": 0,
        "install_failed": 1,
        "verify_failed": 0,
        "missing_dep": 2,
        "generation_failed": 1,
        "environment_gap": 0,
    },
    "runs.records": 4,
    "runs.empty": 2,
    "runs.merged": 3,
    "runs.last_successful_run": "2026-06-02T10:00:00Z",
    "runs.runs_since_last_success": 1,
    "funnel": {
        "pypi": {"seeded": 4, "generated": 3, "debian-12": 2, "alpine-3-20": 0, "merged": 2},
        "npm": {"seeded": 3, "generated": 1, "debian-12": 1, "alpine-3-20": 0, "merged": 1},
        "homebrew": {"seeded": 1, "generated": 0, "debian-12": 0, "alpine-3-20": 0, "merged": 0},
    },
    "open_breakers": ["homebrew", "npm"],
    "blockers.missing_dependencies": 2,
    "blockers.blocked_packages": 2,
}


def _metrics(
    stamp: str,
    eco: str,
    total: int,
    merged: int,
    gen: tuple[int, int, int, int] | None,
    passed: int,
    failed: int,
) -> MetricsRecord:
    return MetricsRecord(
        batch_id=stamp[:10] + f"-{stamp[11:13]}",
        ecosystems=((eco, total),),
        total=total,
        generated=total,
        platforms=(PlatformCounts(DEBIAN, passed + failed, passed, failed),) if total else (),
        merged=merged,
        excluded=total - merged,
        constrained=0,
        timestamp=stamp,
        duration_seconds=3.5,
        generation=GenerationCounts(*gen) if gen else None,
    )


def _result(recipe: str, env: str, platform: str, status: str, batch: str) -> ResultLine:
    return ResultLine(
        recipe=recipe,
        environment=env,
        platform=platform,
        status=status,
        category=None if status == "pass" else "install_failed",
        subcategory=None if status == "pass" else "install_exit_6",
        exit_code=0 if status == "pass" else 6,
        attempts=1,
        message="",
        timestamp="2026-06-01T09:00:00Z",
        batch_id=batch,
    )


def build_registry(root: Path, *, stopped: bool = False) -> RegistryLayout:
    """Write the synthetic registry under ``root`` and return its layout."""
    layout = RegistryLayout.at(root)
    save_queue(layout.queue, Queue(1, "2026-06-02T12:00:00Z", ENTRIES))
    when = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    write_failures(
        layout,
        "pypi",
        DEBIAN,
        [
            NewFailure("ruff", "pypi:ruff", "install_failed", "install_exit_6", "boom"),
            NewFailure("lib3mf", "pypi:lib3mf", "generation_failed", "no_wheel", "no wheel"),
        ],
        when,
    )
    write_failures(
        layout,
        "npm",
        DEBIAN,
        [NewFailure(EVIL, "npm:evil-pkg", "missing_dep", "missing_dependency", "x", ("libfoo",))],
        when,
    )
    write_failures(
        layout,
        "homebrew",
        DEBIAN,
        [
            NewFailure(
                "wget",
                "homebrew:wget",
                "missing_dep",
                "missing_dependency",
                "y",
                ("libfoo", "openssl@3"),
            )
        ],
        when,
    )
    for record in (
        _metrics("2026-06-01T10:00:00Z", "pypi", 2, 2, (3, 2, 1, 0), 2, 0),
        _metrics("2026-06-01T11:00:00Z", "npm", 0, 0, None, 0, 0),
        _metrics("2026-06-02T10:00:00Z", "npm", 2, 1, (3, 2, 0, 1), 1, 1),
        _metrics("2026-06-02T12:00:00Z", "pypi", 0, 0, None, 0, 0),
    ):
        write_metrics_record(layout, record)
    batch = "2026-06-01-001"
    append_results(
        layout,
        batch,
        "debian-12",
        [
            _result("httpie", "debian-12", DEBIAN, "pass", batch),
            _result("black", "debian-12", DEBIAN, "pass", batch),
            _result("prettier", "debian-12", DEBIAN, "pass", batch),
        ],
    )
    append_results(
        layout,
        batch,
        "alpine-3-20",
        [_result("httpie", "alpine-3-20", "linux-alpine-musl-x86_64", "fail", batch)],
    )
    control = Control(
        enabled=not stopped,
        reason="incident 42: bad upstream" if stopped else "",
        disabled_by="ops" if stopped else "",
        breakers={
            "pypi": BreakerState(),
            "npm": BreakerState(
                "open",
                7,
                datetime(2026, 6, 2, 12, tzinfo=UTC),
                datetime(2026, 6, 2, 13, tzinfo=UTC),
            ),
            "homebrew": BreakerState(
                "open", 3, datetime(2026, 6, 2, 23, tzinfo=UTC), datetime(2026, 6, 4, tzinfo=UTC)
            ),
        },
    )
    save_control(layout.control_file, control)
    manifest = mf.new_manifest(batch, ["pypi"])
    rel = "recipes/h/httpie.toml"
    manifest = mf.record_file_before(manifest, layout, rel)
    recipe = layout.root / rel
    recipe.parent.mkdir(parents=True, exist_ok=True)
    recipe.write_text('[metadata]\nname = "httpie"\n', encoding="utf-8")
    manifest = mf.record_file_after(manifest, layout, rel)
    manifest = mf.record_queue_change(
        manifest, _entry("httpie", "pypi:httpie", 1, "pending"), ENTRIES[0]
    )
    mf.save_manifest(layout, manifest.with_status("merged"))
    return layout


class _Metrics(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-metric" in a:
            self._open.append((tag, a["data-metric"] or "", [a.get("data-value") or ""]))
        elif self._open:
            self._open.append((tag, "", []))

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            _, metric, parts = self._open.pop()
            if metric:
                self.found.setdefault(metric, (parts[0], "".join(parts[1:]).strip()))

    def handle_data(self, data: str) -> None:
        for _, metric, parts in self._open:
            if metric:
                parts.append(data)


def page_metrics(html: str) -> dict[str, tuple[str, str]]:
    """``data-metric`` -> (data-value, visible text) of the first element carrying it."""
    parser = _Metrics()
    parser.feed(html)
    return parser.found


def shown_int(text: str) -> int:
    """A number as the page shows it ("5,305") as an int."""
    return int(text.replace(",", ""))
