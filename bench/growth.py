"""The registry-growth section of ``make bench``: what ``invoke grow`` really spent growing this
repository's registry, read from the files the runs committed (nothing is run here).

Every ``invoke grow`` run is recorded in ``data/grow-state.json`` (its history, and the latest
run); every validation wrote one result line per recipe and environment with its wall time
(``data/results/<batch>/<environment>.jsonl``), and the queue says what became of each package.
From them: seconds per merged recipe per run and overall, what 1,000 recipes cost at that rate
against the two-hour target, the ratio to the floor measured by the end-to-end section (bare
download plus one start per recipe), and where the environment-seconds went by outcome.

``python -m bench.growth`` prints this section alone and replaces it in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "## Growing this registry: `invoke grow` through local + debian-12 + ubuntu-24.04"
TARGET = 1000
TARGET_HOURS = 2.0
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# The end-to-end section's floor row in BENCHMARKS.md: "| floor: ... | | 3.8 | **0.47** |".
FLOOR_ROW = re.compile(r"^\| floor: bare download[^|]*\|[^|]*\|[^|]*\| \*\*([0-9.]+)\*\*", re.M)


def grow_runs(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every run the state records, oldest first: the history and the latest run."""
    runs = [dict(run) for run in state.get("history", [])]
    batches = [b for r in state.get("rounds", []) for b in r.get("batches", [])]
    before = state.get("before", {})
    runs.append(
        {
            "started_at": state.get("started_at"),
            "finished_at": state.get("finished_at"),
            "status": state.get("status"),
            "target": state.get("target"),
            "before_total": before.get("total", 0) if isinstance(before, dict) else 0,
            "batches": len(batches),
            "merged": sum(int(b.get("merged", 0)) for b in batches),
            "seconds": state.get("seconds", 0),
        }
    )
    return runs


def environment_seconds(root: Path) -> dict[tuple[str, str], tuple[int, float]]:
    """(what became of the package, environment) -> (result lines, seconds they took).

    The outcome is the package's queue status now: ``success`` (merged), ``requires_manual``
    (held for review), ``failed`` or ``excluded``; skipped lines (not tried) take no time."""
    status = _queue_status(root)
    lines: Counter[tuple[str, str]] = Counter()
    seconds: dict[tuple[str, str], float] = {}
    for path in sorted((root / "data" / "results").glob("*/*.jsonl")):
        for text in path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if line.get("status") == "skipped":
                continue
            key = (status.get(str(line.get("recipe", "")).lower(), "?"), path.stem)
            lines[key] += 1
            seconds[key] = seconds.get(key, 0.0) + float(line.get("duration_seconds") or 0)
    return {key: (lines[key], seconds[key]) for key in sorted(lines)}


def _parse_time(stamp: object) -> float | None:
    from automation.core.timefmt import parse_timestamp

    try:
        return parse_timestamp(stamp).timestamp()  # type: ignore[arg-type]
    except ValueError:
        return None


def _queue_status(root: Path) -> dict[str, str]:
    """Package name (lower case) -> its status in the registry's queue."""
    queue_file = root / "data" / "queues" / "priority-queue.json"
    status: dict[str, str] = {}
    if queue_file.exists():
        for entry in json.loads(queue_file.read_text(encoding="utf-8")).get("entries", []):
            status[str(entry.get("name", "")).lower()] = str(entry.get("status", "?"))
    return status


def validation_spans(root: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(ecosystem, installer) -> batches, merged recipes and validation wall seconds.

    A batch's validation span runs from its first result line's start (timestamp less duration)
    to its last line's end, over every environment; the installer is what the result lines
    name among their runtimes (``uv`` for PyPI since the kit installs with it, else ``pip``;
    ``npm`` for npm). A recipe counts as merged for the last batch that validated it, when the
    queue says ``success``."""
    status = _queue_status(root)
    batches: dict[str, dict[str, Any]] = {}
    last_batch: dict[str, str] = {}
    for folder in sorted(p for p in (root / "data" / "results").glob("*") if p.is_dir()):
        ecosystem = next((e for e in ("pypi", "npm") if f"-{e}" in folder.name), None)
        if ecosystem is None:
            continue
        starts, ends, recipes, tools = [], [], set(), set()
        for path in folder.glob("*.jsonl"):
            for text in path.read_text(encoding="utf-8").splitlines():
                try:
                    line = json.loads(text)
                except ValueError:
                    continue
                end = _parse_time(line.get("timestamp"))
                if line.get("status") == "skipped" or end is None:
                    continue
                starts.append(end - float(line.get("duration_seconds") or 0))
                ends.append(end)
                recipes.add(str(line.get("recipe", "")).lower())
                tools.update(str(r.get("name")) for r in line.get("runtimes") or [])
        if not ends:
            continue
        installer = ("uv" if "uv" in tools else "pip") if ecosystem == "pypi" else ecosystem
        batches[folder.name] = {
            "key": (ecosystem, installer),
            "span": max(ends) - min(starts),
            "recipes": recipes,
        }
        for name in recipes:
            last_batch[name] = folder.name
    out: dict[tuple[str, str], dict[str, float]] = {}
    for batch_id, batch in batches.items():
        row = out.setdefault(batch["key"], {"batches": 0, "merged": 0, "seconds": 0.0})
        row["batches"] += 1
        row["seconds"] += batch["span"]
        row["merged"] += sum(
            1 for n in batch["recipes"] if status.get(n) == "success" and last_batch[n] == batch_id
        )
    return dict(sorted(out.items()))


def section(say: Callable[[str], None], results: dict[str, Any], root: Path) -> None:
    """Print the section from ``root``'s committed grow state and results."""
    say(TITLE)
    say("")
    state_file = root / "data" / "grow-state.json"
    if not state_file.exists():
        say(f"- no `invoke grow` run recorded in {state_file} (run `make grow`)")
        say("")
        return
    runs = grow_runs(json.loads(state_file.read_text(encoding="utf-8")))
    say(
        "Read from this repository's `data/grow-state.json` (every `invoke grow` run, each "
        "resumed chunk of a long growth one run) and `data/results/` (each result line's wall "
        "time). Each run validates in local and, side by side, debian-12 and ubuntu-24.04; "
        "seconds include seeding, generation, validation, merge and every package that failed "
        "or was held. The machine is the one above (2 cores), at times with other work."
    )
    say("")
    say("| run started | target | recipes before | merged | seconds | s per merged recipe |")
    say("|---|---:|---:|---:|---:|---:|")
    for run in runs:
        merged, secs = int(run.get("merged", 0)), float(run.get("seconds", 0))
        each = f"{secs / merged:.1f}" if merged else "n/a"
        say(f"| {run.get('started_at')} | {run.get('target')} | {run.get('before_total')} | "
            f"{merged} | {secs:.0f} | {each} |")  # fmt: skip
    merged = sum(int(r.get("merged", 0)) for r in runs)
    seconds = sum(float(r.get("seconds", 0)) for r in runs)
    results["growth"] = {"runs": len(runs), "merged": merged, "seconds": round(seconds, 1)}
    say("")
    if not merged:
        say("- nothing merged yet")
        say("")
        return
    per = seconds / merged
    hours = per * TARGET / 3600
    floor = results.get("e2e", {}).get("floor", {}).get("per_recipe_s")
    ratio = (
        f"**{per / floor:.0f}x** the end-to-end floor ({floor:.2f} s per recipe)"
        if floor
        else "the floor is measured by the end-to-end section (not run here)"
    )
    verdict = "within" if hours <= TARGET_HOURS else "not within"
    say(f"- {len(runs)} runs merged **{merged} recipes in {seconds / 3600:.2f} h**: "
        f"**{per:.1f} s per merged recipe**, {ratio}")  # fmt: skip
    say(f"- at that rate one `invoke grow` of {TARGET:,} recipes takes **{hours:.1f} h**: "
        f"{verdict} the {TARGET_HOURS:.0f}-hour target on this machine "
        f"({TARGET_HOURS * 3600 / TARGET:.1f} s per merged recipe would be)")  # fmt: skip
    results["growth"].update(per_merged_s=round(per, 2), hours_for_target=round(hours, 2))
    spent = environment_seconds(root)
    total = sum(used for _n, used in spent.values()) or 1.0
    say("")
    say("Where the environment-seconds went (one line per package and environment validated; "
        "outcome: what the queue says of the package now):")  # fmt: skip
    say("")
    say("| outcome | environment | validations | seconds | share | mean s |")
    say("|---|---|---:|---:|---:|---:|")
    for (outcome, env), (count, used) in spent.items():
        say(f"| {outcome} | {env} | {count} | {used:.0f} | {used / total:.1%} | "
            f"{used / count:.1f} |")  # fmt: skip
    say("")
    say(f"- {total:.0f} environment-seconds in all, {total / merged:.1f} per merged recipe; "
        f"over {seconds:.0f} s of growing that is {total / seconds:.2f} of the 2 cores busy "
        "validating on average (the rest: seeding, generation, merge, waiting)")  # fmt: skip
    results["growth"]["environment_seconds"] = {
        f"{o}/{e}": round(used, 1) for (o, e), (_n, used) in spent.items()
    }
    say("")
    spans = validation_spans(root)
    say("Validation wall time per batch, by ecosystem and the installer its result lines name "
        "(a batch's span: its first result line's start to its last line's end, all "
        "environments; seeding, generation and merge not included):")  # fmt: skip
    say("")
    say("| ecosystem | installer | batches | merged | validation s | s per merged recipe |")
    say("|---|---|---:|---:|---:|---:|")
    for (ecosystem, installer), row in spans.items():
        each = f"{row['seconds'] / row['merged']:.1f}" if row["merged"] else "n/a"
        say(f"| {ecosystem} | {installer} | {row['batches']:.0f} | {row['merged']:.0f} | "
            f"{row['seconds']:.0f} | {each} |")  # fmt: skip
    results["growth"]["validation_spans"] = {
        f"{e}/{i}": {k: round(v, 1) for k, v in row.items()} for (e, i), row in spans.items()
    }
    say("")


def main() -> int:
    """Print this section alone and put it into BENCHMARKS.md in place of the previous one
    (the floor ratio comes from the last full ``make bench``, if its results are there)."""
    from bench.__main__ import OUTPUT, WORK
    from bench.sections import replace_section

    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    results: dict[str, Any] = {}
    text = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    previous = WORK / "results.json"
    if previous.exists():
        results["e2e"] = json.loads(previous.read_text(encoding="utf-8")).get("e2e", {})
    elif found := FLOOR_ROW.search(text):  # the floor the last full run printed
        results["e2e"] = {"floor": {"per_recipe_s": float(found.group(1))}}
    section(say, results, REPOSITORY_ROOT)
    replace_section(OUTPUT, TITLE, lines)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
