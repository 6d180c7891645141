"""The data-file schemas: real snippets pass, broken ones are named by field."""

from __future__ import annotations

from typing import Any

import pytest

from automation.core import schemas
from tests.support.data_samples import (
    AUDIT,
    BATCH_RESULTS,
    CURATED_LINE,
    LEGACY_METRICS_RECORD,
    METRICS_RECORD,
    RESULT_FAIL,
    RESULT_PASS,
    SEEDING_RUN,
    SINGLE_MATCH_AUDIT,
    changed,
)

VALID = [
    ("metrics", METRICS_RECORD),
    ("metrics", LEGACY_METRICS_RECORD),
    ("seeding-run", SEEDING_RUN),
    ("disambiguation-audit", AUDIT),
    ("disambiguation-audit", SINGLE_MATCH_AUDIT),
    ("disambiguation-batch", CURATED_LINE),
    ("batch-results", BATCH_RESULTS),
    ("results-line", RESULT_FAIL),
    ("results-line", RESULT_PASS),
    ("results-line", changed(RESULT_PASS, status="skipped", exit_code=None, attempts=0)),
    ("dep-mapping", {"sqlite3": "sqlite", "$comment": "x"}),
]


INVALID = [
    ("metrics", changed(METRICS_RECORD, total=-1), "total"),
    ("metrics", changed(METRICS_RECORD, total="0"), "total"),
    ("metrics", changed(METRICS_RECORD, ecosystem="homebrew"), "(top level)"),
    ("metrics", changed(METRICS_RECORD, ecosystems=...), "(top level)"),
    ("metrics", changed(METRICS_RECORD, timestamp="2026-06-26T20-51-08Z"), "timestamp"),
    ("metrics", changed(METRICS_RECORD, extra=1), "(top level)"),
    ("metrics", changed(METRICS_RECORD, batch_id="../x"), "batch_id"),
    ("seeding-run", changed(SEEDING_RUN, source_changes=[{"package": "x"}]), "source_changes[0]"),
    ("seeding-run", changed(SEEDING_RUN, errors=None), "errors"),
    ("disambiguation-audit", changed(AUDIT, selection_reason="coin_flip"), "selection_reason"),
    ("disambiguation-audit", changed(AUDIT, alternatives="crates.io:ab-av1"), "alternatives"),
    ("disambiguation-audit", changed(AUDIT, downloads_ratio=0), "downloads_ratio"),
    ("disambiguation-audit", changed(AUDIT, tool=""), "tool"),
    ("disambiguation-audit", changed(AUDIT, selected="ab-av1"), "selected"),
    ("disambiguation-batch", changed(CURATED_LINE, schema_version=2), "schema_version"),
    (
        "disambiguation-batch",
        changed(CURATED_LINE, disambiguations=[{"tool": "x"}]),
        "disambiguations[0]",
    ),
    ("batch-results", changed(BATCH_RESULTS, blocked=None), "blocked"),
    (
        "batch-results",
        changed(BATCH_RESULTS, per_ecosystem={"homebrew": {"total": 1}}),
        "per_ecosystem.homebrew",
    ),
    ("results-line", changed(RESULT_PASS, category="install_failed"), "category"),
    ("results-line", changed(RESULT_FAIL, category=None), "category"),
    ("results-line", changed(RESULT_FAIL, platform="linux-glibc-x86_64"), "platform"),
    ("results-line", changed(RESULT_FAIL, status="passed"), "status"),
    ("results-line", changed(RESULT_FAIL, recipe="../../etc/passwd"), "recipe"),
    ("results-line", changed(RESULT_FAIL, attempts=...), "(top level)"),
    ("dep-mapping", {"openssl@3": 3}, "openssl@3"),
    ("dep-mapping", {"Foo Bar": "x"}, "(top level)"),
    ("dep-mapping", {"x": "../evil"}, "x"),
]


@pytest.mark.parametrize(("schema", "document"), VALID)
def test_real_snippets_are_valid(schema: str, document: dict[str, Any]) -> None:
    assert schemas.check(document, schema, path="t") == []


@pytest.mark.parametrize(("schema", "document", "where"), INVALID)
def test_invalid_snippets_name_the_field(schema: str, document: dict[str, Any], where: str) -> None:
    problems = schemas.check(document, schema, path="t")
    assert problems, f"{schema} accepted {document}"
    assert any(p.where == where for p in problems), [p.where for p in problems]
