"""Deterministic synthetic registry data at production scale (seeded; same bytes every run).

* a 100,000-entry live queue (``data/queues/priority-queue.json``);
* 1,000,000 failure records in realistic files: ``<eco>-<stamp>.jsonl`` envelope lines (one line
  per run, many failures each, as ``batch.WriteFailures`` writes them) and ``batch-<stamp>.jsonl``
  per-platform lines, plus early files mixing both shapes (reference §1.4/§1.5);
* 10,000 recipes in the generators' TOML shape (``recipes/<letter>/<name>.toml``).
"""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20260227
STATUSES = ("pending", "success", "failed", "blocked", "requires_manual", "excluded")
STATUS_WEIGHTS = (45, 20, 15, 15, 3, 2)
CATEGORIES = (
    "missing_dep",
    "install_failed",
    "generation_failed",
    "network_error",
    "recipe_not_found",
    "verify_failed",
    "validation_failed",  # legacy values stay in real files; readers remap them
    "deterministic",
)
PLATFORMS = ("linux-debian-glibc-x86_64", "linux-alpine-musl-x86_64", "linux-rhel-glibc-arm64",
             "darwin-arm64", "darwin-x86_64")  # fmt: skip
ECOSYSTEMS = ("homebrew", "pypi", "npm", "crates.io", "rubygems")
START = datetime(2026, 2, 1, tzinfo=UTC)
BANNER = "tsuku: first run, telemetry is enabled; see https://tsuku.dev/telemetry to opt out.\n"


def name_of(i: int) -> str:
    return f"{string.ascii_lowercase[i % 26]}{i}-tool"


def dep_of(i: int) -> str:
    return f"lib{i}"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_queue(path: Path, entries: int = 100_000) -> Path:
    rng = random.Random(SEED)
    rows = []
    for i in range(entries):
        eco = rng.choice(ECOSYSTEMS)
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        retry = _stamp(START + timedelta(hours=rng.randrange(2000))) if status == "failed" else None
        rows.append(
            {
                "name": name_of(i),
                "source": f"{eco}:{name_of(i)}",
                "priority": rng.randint(1, 3),
                "status": status,
                "confidence": "curated" if rng.random() < 0.05 else "auto",
                "disambiguated_at": _stamp(START) if rng.random() < 0.1 else None,
                "failure_count": rng.randrange(4) if status in ("failed", "blocked") else 0,
                "next_retry_at": retry,
            }
        )
    document = {"schema_version": 1, "updated_at": _stamp(START), "entries": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def write_failures(directory: Path, records: int = 1_000_000, queue_size: int = 100_000) -> int:
    """Write ``records`` failure records; returns the number of files."""
    rng = random.Random(SEED + 1)
    directory.mkdir(parents=True, exist_ok=True)
    written = files = 0
    when = START
    while written < records:
        when += timedelta(minutes=37)
        files += 1
        kind = files % 10
        lines: list[str] = []
        if kind < 7:  # envelope files: one line, 200-600 failures (one batch run)
            eco = ECOSYSTEMS[files % len(ECOSYSTEMS)]
            count = min(rng.randint(200, 600), records - written)
            failures = []
            for _ in range(count):
                i = rng.randrange(queue_size)
                category = rng.choice(CATEGORIES)
                item: dict[str, object] = {
                    "package_id": f"{eco}:{name_of(i)}",
                    "name": name_of(i),
                    "category": category,
                    "message": BANNER + f"error: {category} while installing {name_of(i)}",
                    "timestamp": _stamp(when),
                }
                if category == "missing_dep":
                    item["blocked_by"] = [dep_of(int(rng.paretovariate(1.2)) % 3000)
                                          for _ in range(rng.randint(1, 3))]  # fmt: skip
                if rng.random() < 0.5:
                    item["subcategory"] = "timeout" if category == "network_error" else "exit_6"
                failures.append(item)
            envelope = {
                "schema_version": 1,
                "ecosystem": eco,
                "environment": "linux-glibc-x86_64",
                "updated_at": when.strftime("%Y-%m-%dT%H-%M-%SZ"),  # the reference's file stamp
                "failures": failures,
            }
            lines.append(json.dumps(envelope, separators=(",", ":")))
            written += count
            name = f"{eco.replace('.', '')}-{when:%Y-%m-%dT%H-%M-%SZ}.jsonl"
        else:  # per-platform files: one line per failed (recipe, platform)
            count = min(rng.randint(500, 3000), records - written)
            for _ in range(count):
                i = rng.randrange(queue_size)
                exit_code = rng.choice((6, 8, 5, 1))
                line: dict[str, object] = {
                    "schema_version": 1, "recipe": name_of(i), "platform": rng.choice(PLATFORMS),
                    "exit_code": exit_code,
                    "category": {8: "missing_dep", 5: "network_error"}.get(exit_code,
                                                                           "generation_failed"),
                    "timestamp": _stamp(when),
                }  # fmt: skip
                if exit_code == 8:
                    line["blocked_by"] = [dep_of(int(rng.paretovariate(1.2)) % 3000)]
                lines.append(json.dumps(line, separators=(",", ":")))
            written += count
            name = f"batch-{when:%Y-%m-%dT%H-%M-%SZ}.jsonl"
        (directory / name).write_text("\n".join(lines) + "\n")
    return files


RECIPE = """[metadata]
  name = "{name}"
  description = "Synthetic command-line tool number {i}"
  homepage = "https://pypi.org/project/{name}/"
  version_format = ""
  requires_sudo = false
  tier = 0
  type = ""
{deps}
[version]
  source = ""

[[steps]]
  action = "pipx_install"
  package = "{name}"
  executables = ["{name}"]

[verify]
  command = "{name} --version"
  pattern = ""
"""


def write_recipes(recipes_dir: Path, count: int = 10_000) -> None:
    rng = random.Random(SEED + 2)
    for i in range(count):
        name = name_of(i)
        deps = f'  dependencies = ["{dep_of(rng.randrange(3000))}"]\n' if i % 7 == 0 else ""
        path = recipes_dir / name[0] / f"{name}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(RECIPE.format(name=name, i=i, deps=deps))


def build_registry(root: Path) -> dict[str, object]:
    """The whole synthetic registry under ``root`` (idempotent per root)."""
    marker = root / ".synth-done"
    if not marker.exists():
        write_queue(root / "data" / "queues" / "priority-queue.json")
        write_failures(root / "data" / "failures")
        write_recipes(root / "recipes")
        marker.write_text("ok\n")
    failures = root / "data" / "failures"
    return {
        "queue_bytes": (root / "data" / "queues" / "priority-queue.json").stat().st_size,
        "failure_files": len(list(failures.glob("*.jsonl"))),
        "failure_bytes": sum(p.stat().st_size for p in failures.glob("*.jsonl")),
        "recipes": len(list((root / "recipes").glob("*/*.toml"))),
    }
