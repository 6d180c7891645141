"""A small registry with failure records for gap-analysis tests."""

from __future__ import annotations

import json
from pathlib import Path

GMP_RECIPE = """\
[metadata]
name = "gmp"
description = "GNU multiple precision arithmetic library"
homepage = "https://gmplib.org/"
type = "library"

[metadata.satisfies]
homebrew = ["gmp"]

[[steps]]
action = "homebrew"
formula = "gmp"

[[steps]]
action = "install_binaries"
install_mode = "directory"
outputs = ["lib/libgmp.so"]
"""


def queue_entry(name: str, source: str, status: str, priority: int = 3) -> dict[str, object]:
    return {
        "name": name,
        "source": source,
        "priority": priority,
        "status": status,
        "confidence": "auto",
        "disambiguated_at": None,
        "failure_count": 1,
        "next_retry_at": None,
    }


def failure_line(package_id: str, blocked_by: list[str], at: str, env: str) -> str:
    return json.dumps(
        {
            "schema_version": 1,
            "ecosystem": package_id.split(":", 1)[0],
            "environment": env,
            "updated_at": "2026-03-03T03-15-07Z",
            "failures": [
                {
                    "package_id": package_id,
                    "category": "missing_dep",
                    "blocked_by": blocked_by,
                    "message": "missing",
                    "timestamp": at,
                }
            ],
        }
    )


def make_registry(root: Path) -> Path:
    entries = [
        queue_entry("task", "homebrew:go-task", "blocked", 1),
        queue_entry("coreutils", "homebrew:coreutils", "blocked", 2),
        queue_entry("libfoo", "homebrew:libfoo", "blocked"),
        queue_entry("tool", "npm:tool", "blocked"),
    ]
    (root / "data" / "queues").mkdir(parents=True)
    (root / "data" / "queues" / "priority-queue.json").write_text(
        json.dumps({"schema_version": 1, "updated_at": "2026-01-01T00:00:00Z", "entries": entries})
    )
    failures = root / "data" / "failures"
    failures.mkdir(parents=True)
    glibc, musl, at = "linux-glibc-x86_64", "linux-alpine-musl-x86_64", "2026-03-01T00:00:00Z"
    lines = {
        "homebrew-1.jsonl": failure_line("homebrew:go-task", ["libfoo"], at, glibc),
        "homebrew-2.jsonl": failure_line("homebrew:libfoo", ["zlib-ng"], at, glibc),
        "homebrew-3.jsonl": failure_line("homebrew:coreutils", ["gmp"], at, glibc),
        "npm-1.jsonl": failure_line("npm:tool", ["zlib-ng"], at, musl),
        "pypi-1.jsonl": failure_line("pypi:ghost", ["zlib-ng"], at, glibc),
    }
    for name, line in lines.items():
        (failures / name).write_text(line + "\n")
    (root / "recipes" / "g").mkdir(parents=True)
    (root / "recipes" / "g" / "gmp.toml").write_text(GMP_RECIPE)
    return root
