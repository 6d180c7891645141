"""Real-shaped snippets of every data file kind (from the reference registry), for tests."""

from __future__ import annotations

import json
from typing import Any

METRICS_RECORD = {
    "batch_id": "2026-06-26",
    "ecosystems": {"crates.io": 1, "github": 1, "homebrew": 1, "npm": 1, "pypi": 1, "rubygems": 1},
    "total": 0,
    "generated": 0,
    "platforms": {
        "linux-x86_64": {"tested": 0, "passed": 0, "failed": 0},
        "linux-arm64": {"tested": 0, "passed": 0, "failed": 0},
        "darwin-arm64": {"tested": 0, "passed": 0, "failed": 0},
        "darwin-x86_64": {"tested": 0, "passed": 0, "failed": 0},
    },
    "merged": 0,
    "excluded": 0,
    "constrained": 0,
    "timestamp": "2026-06-26T20:51:08Z",
    "duration_seconds": 15,
}
LEGACY_METRICS_RECORD = {
    "batch_id": "2026-02-03-homebrew",
    "ecosystem": "homebrew",
    "total": 2,
    "generated": 2,
    "platforms": {
        "linux-x86_64": {"tested": 10, "passed": 9, "failed": 1},
        "linux-arm64": {"tested": 8, "passed": 8, "failed": 0},
        "darwin-arm64": {"tested": 2, "passed": 2, "failed": 0},
        "darwin-x86_64": {"tested": 2, "passed": 2, "failed": 0},
    },
    "merged": 2,
    "excluded": 0,
    "constrained": 1,
    "timestamp": "2026-02-03T04:58:07Z",
    "duration_seconds": 6,
}
SEEDING_RUN = {
    "run_at": "2026-02-17T00:10:01.867521792Z",
    "sources_processed": [],
    "sources_failed": [],
    "new_packages": 0,
    "stale_refreshed": 4998,
    "source_changes": [
        {
            "package": "neovim",
            "old": "homebrew:neovim",
            "new": "rubygems:neovim",
            "priority": 1,
            "auto_accepted": False,
        },
        {
            "package": "actions-up",
            "old": "homebrew:actions-up",
            "new": "npm:actions-up",
            "priority": 3,
            "auto_accepted": True,
        },
    ],
    "curated_skipped": 10,
    "curated_invalid": [],
    "errors": [],
}
AUDIT = {
    "tool": "ab-av1",
    "selected": "homebrew:ab-av1",
    "alternatives": ["crates.io:ab-av1"],
    "selection_reason": "priority_fallback",
    "downloads_ratio": 1.0624349635796047,
    "high_risk": True,
    "probe_results": [
        {
            "source": "homebrew:ab-av1",
            "downloads": 1021,
            "version_count": 0,
            "has_repository": True,
        },
        {
            "source": "crates.io:ab-av1",
            "downloads": 961,
            "version_count": 46,
            "has_repository": True,
        },
    ],
    "previous_source": "homebrew:ab-av1",
    "disambiguated_at": "2026-02-17T00:10:16.533100464Z",
    "seeding_run": "2026-02-17T00:10:01.867521792Z",
}
SINGLE_MATCH_AUDIT = {
    "tool": "a2ps",
    "selected": "homebrew:a2ps",
    "alternatives": None,
    "selection_reason": "single_match",
    "high_risk": False,
    "probe_results": [
        {"source": "homebrew:a2ps", "downloads": 1294, "version_count": 0, "has_repository": True}
    ],
    "previous_source": "homebrew:a2ps",
    "disambiguated_at": "2026-02-17T00:10:15.15992877Z",
    "seeding_run": "2026-02-17T00:10:01.867521792Z",
}
CURATED_LINE = {
    "schema_version": 1,
    "ecosystem": "curated",
    "environment": "manual-selection",
    "updated_at": "2026-05-27T12:12:43Z",
    "disambiguations": [
        {
            "tool": "bat",
            "selected": "github:sharkdp/bat",
            "alternatives": [],
            "selection_reason": "curated",
            "high_risk": False,
        }
    ],
}
BATCH_RESULTS = {
    "batch_id": "2026-02-21",
    "ecosystems": {"homebrew": 49, "rubygems": 1},
    "per_ecosystem": {
        "homebrew": {"total": 49, "succeeded": 5, "failed": 41},
        "rubygems": {"total": 1, "succeeded": 0, "failed": 1},
    },
    "total": 50,
    "succeeded": 5,
    "failed": 42,
    "blocked": 3,
    "timestamp": "2026-02-21T07:20:43.73955531Z",
}
RESULT_FAIL = {
    "recipe": "apr-util",
    "environment": "alpine-321",
    "platform": "linux-alpine-musl-x86_64",
    "status": "fail",
    "category": "missing_dep",
    "subcategory": "missing_recipe",
    "exit_code": 8,
    "attempts": 1,
    "message": "Error: registry: recipe apr not found in registry",
    "timestamp": "2026-02-21T07:27:58Z",
}
RESULT_PASS = {
    "recipe": "apr-util",
    "environment": "debian-13",
    "platform": "linux-debian-glibc-x86_64",
    "status": "pass",
    "category": None,
    "subcategory": None,
    "exit_code": 0,
    "attempts": 1,
    "message": "",
    "timestamp": "2026-02-21T07:27:58Z",
    "version": "1.6.3",
    "duration_seconds": 12.5,
    "batch_id": "2026-02-21-001",
}


def changed(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with ``changes`` applied (a value of ``...`` drops the key)."""
    out = json.loads(json.dumps(document))
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out
