"""``make bench``: run every benchmark, print the numbers, write BENCHMARKS.md.

Benchmarks print; they never fail on timing. Each case runs in a fresh interpreter so its peak
RSS is its own. Live cases (npm download-counts, PyPI/npm generation) need the registries; a case
that cannot run says so and the others go on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cases, e2e, growth, live
from bench.synth import build_registry

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPOSITORY_ROOT / "BENCHMARKS.md"
WORK = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "registry-automation-bench"))


def run(fn_name: str, *args: Any, timeout: float = 600) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=cases.child, args=(fn_name, args, queue))
    process.start()
    try:
        status, value = queue.get(timeout=timeout)
    except Exception:
        process.kill()
        return {"error": f"timed out after {timeout} s"}
    finally:
        process.join(30)
    return value if status == "ok" else {"error": value}


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": str(os.cpu_count()),
        "memory": f"{mem_kib / 2**20:.1f} GiB",
        "python": platform.python_version(),
        "cpu": cpu,
        "kernel": platform.release(),
    }


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def main() -> int:
    started = time.time()
    results: dict[str, Any] = {"machine": machine()}
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say("# Benchmarks")
    say()
    say("Written by `make bench` (`python -m bench`); numbers from one run, seconds unless noted.")
    say("Each case runs in a fresh interpreter; peak RSS is that interpreter's maximum.")
    say()
    say("## Machine")
    say()
    for key, value in results["machine"].items():
        say(f"- {key}: {value}")
    say()

    WORK.mkdir(parents=True, exist_ok=True)
    registry = WORK / "registry"
    say("## Synthetic data (seeded, deterministic)")
    say()
    seconds = time.perf_counter()
    sizes = build_registry(registry)
    say(f"- built or reused in {time.perf_counter() - seconds:.1f} s under `{registry}`")
    say(f"- queue: 100,000 entries, {sizes['queue_bytes'] / 2**20:.1f} MiB")
    mib = sizes["failure_bytes"] / 2**20
    say(f"- failures: 1,000,000 records in {sizes['failure_files']} files ({mib:.0f} MiB; "
        "envelope and per-platform line shapes)")  # fmt: skip
    say(f"- recipes: {sizes['recipes']}")
    say()

    # -- queue
    say("## Queue: load + validate + save vs bare json.load + json.dump (target ≤ 2x)")
    say()
    ours = run("queue_ours", str(registry))
    bare = run("queue_bare", str(registry))
    schema = run("queue_jsonschema_only", str(registry))
    results["queue"] = {"ours": ours, "bare": bare, "jsonschema": schema}
    say("| | load | save | total | peak RSS MiB |")
    say("|---|---|---|---|---|")
    say(f"| kit (`read_queue` + `save_queue`) | {fmt(ours.get('load_validate_s'))} | "
        f"{fmt(ours.get('save_s'))} | {fmt(ours.get('total_s'))} | "
        f"{fmt(ours.get('peak_rss_mib'))} |")  # fmt: skip
    say(f"| bare `json.load` + `json.dump` | {fmt(bare.get('load_s'))} | {fmt(bare.get('save_s'))} "
        f"| {fmt(bare.get('total_s'))} | {fmt(bare.get('peak_rss_mib'))} |")  # fmt: skip
    say()
    say(f"- ratio: **{ratio(ours.get('total_s'), bare.get('total_s'))}**; full jsonschema "
        f"validation of the document alone: {fmt(schema.get('jsonschema_s'))} s")  # fmt: skip
    for name, value in (("kit", ours), ("bare", bare), ("jsonschema", schema)):
        if "error" in value:
            say(f"- {name} failed: `{value['error'][:300]}`")
    say()

    # -- gaps
    say("## Gap analysis over 1,000,000 failure records (targets: cold ≤ 2x bare, warm < 0.2 s)")
    say()
    cache = WORK / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    index = run("gaps_index_only", str(registry), str(cache), timeout=300)
    shutil.rmtree(cache, ignore_errors=True)
    gaps = run("gaps_ours", str(registry), str(cache), timeout=420)
    bare_sql = run("gaps_bare_sql", str(registry))
    bare_rows = run("gaps_bare_same_rows", str(registry))
    results["gaps"] = {"ours": gaps, "index": index, "bare": bare_sql, "bare_rows": bare_rows}
    say("| | cold | warm | peak RSS MiB |")
    say("|---|---|---|---|")
    say(f"| `invoke gaps` (`gap_report`: index + queue + recipes + ranking) | "
        f"{fmt(gaps.get('cold_s'))} | {fmt(gaps.get('warm_s'))} (result cache hit: "
        f"{gaps.get('warm_hit')}) | {fmt(gaps.get('peak_rss_mib'))} |")  # fmt: skip
    say(f"| `invoke gaps`, failure index warm, result cache bypassed (e.g. the queue changed) | "
        f"| {fmt(gaps.get('recompute_s'))} | |")  # fmt: skip
    say(f"| failure index refresh alone (`open_index`) | {fmt(index.get('cold_s'))} | "
        f"{fmt(index.get('warm_s'))} | {fmt(index.get('peak_rss_mib'))} |")  # fmt: skip
    say(f"| bare A: the same 1,000,000 rows parsed, inserted (no checks), `GROUP BY` package | "
        f"{fmt(bare_rows.get('cold_s'))} | {fmt(bare_rows.get('warm_s'))} | "
        f"{fmt(bare_rows.get('peak_rss_mib'))} |")  # fmt: skip
    say(f"| bare B: parse JSONL, insert only (name, dependency) pairs, `GROUP BY` dependency | "
        f"{fmt(bare_sql.get('cold_s'))} | {fmt(bare_sql.get('warm_s'))} | "
        f"{fmt(bare_sql.get('peak_rss_mib'))} |")  # fmt: skip
    say()
    say(f"- cold ratio gap_report / bare A (same rows): "
        f"**{ratio(gaps.get('cold_s'), bare_rows.get('cold_s'))}**; / bare B (dependency pairs "
        f"only): **{ratio(gaps.get('cold_s'), bare_sql.get('cold_s'))}**; warm gap_report: "
        f"**{fmt(gaps.get('warm_s'))} s**")  # fmt: skip
    say(
        "- the kit's cold run also validates every line against the failure-line schema (a "
        "fast structural check, jsonschema only to explain rejects), loads and checks the "
        "100,000-entry queue, reads 10,000 recipes' identities, and builds a persistent index "
        "(worker processes parse and insert into shard databases, copied in by one "
        "transaction); the bare runs do none of it"
    )
    for name, value in (("gaps", gaps), ("index", index), ("bare", bare_sql),
                        ("bare_rows", bare_rows)):  # fmt: skip
        if "error" in value:
            say(f"- {name} failed: `{value['error'][:400]}`")
    say()

    # -- npm
    say("## npm seeding from `download-counts` vs bare json.load")
    say()
    npm_dir = WORK / "npm"
    shutil.rmtree(npm_dir, ignore_errors=True)
    npm = run("npm_ours", str(npm_dir))
    results["npm"] = {"ours": npm}
    if "error" in npm:
        say(f"- skipped: `{npm['error'][:400]}`")
    else:
        extracted = run("npm_extract", npm["tarball"], str(npm_dir))
        bare_json = run("npm_bare", extracted.get("counts_json", ""))
        bare_gz = run("npm_bare_gz", npm["tarball"])
        results["npm"].update(bare=bare_json, bare_gz=bare_gz)
        say(f"- tarball {npm['tarball_mib']:.1f} MiB, counts.json "
            f"{extracted.get('mib', 0):.1f} MiB, {bare_json.get('packages')} packages")  # fmt: skip
        say()
        say("| | seconds | peak RSS MiB |")
        say("|---|---|---|")
        say(f"| kit: download + verify + rank top 2,000 (cold) | {fmt(npm['download_and_rank_s'])}"
            f" | {fmt(npm['peak_rss_mib'])} (both kit rows) |")  # fmt: skip
        say(f"| kit: rank from the cached tarball | {fmt(npm['rank_from_tarball_s'])} | |")
        say(f"| bare `json.load` of counts.json | {fmt(bare_json.get('json_load_s'))} | "
            f"{fmt(bare_json.get('peak_rss_mib'))} |")  # fmt: skip
        say(f"| bare `json.load` from the .tgz | {fmt(bare_gz.get('json_load_from_tgz_s'))} | "
            f"{fmt(bare_gz.get('peak_rss_mib'))} |")  # fmt: skip
    say()

    # -- live generation (bench/live.py)
    live.section(run, say, results, WORK)

    # -- containers
    say("## Container validation overhead")
    say()
    image = "localhost/registry-automation/debian-12:latest"
    if shutil.which("podman") is None:
        say("- skipped: podman is not installed (`make setup-containers`)")
    else:
        overhead = run("podman_overhead", image)
        results["containers"] = {"overhead": overhead}
        if "error" in overhead:
            say(f"- skipped: `{overhead['error'][:300]}` (`make setup-containers` builds {image})")
        else:
            say(f"- `podman run --rm {image} true` (start + teardown, median of 3): "
                f"{fmt(overhead['start_stop_s'])} s per container")  # fmt: skip
            smoke = REPOSITORY_ROOT / "containers" / "smoke" / "cowsay.toml"
            root = Path(tempfile.mkdtemp(prefix="bench-validate-"))
            full = run("container_validation", str(root), str(smoke), "debian-12")
            results["containers"]["validation"] = full
            if "error" in full:
                say(f"- full validation of {smoke.name} failed: `{full['error'][:300]}`")
            else:
                say(f"- full `validate-containers` of {smoke.name} (image build check, install, "
                    f"verify, results): {fmt(full['seconds'])} s")  # fmt: skip
    say()
    # -- end to end: local + debian-12 + ubuntu-24.04 (bench/e2e.py)
    e2e.section(run, say, results, WORK)
    # -- this repository's registry growth, from its committed grow state (bench/growth.py)
    growth.section(say, results, REPOSITORY_ROOT)
    say(f"Total benchmark time: {time.time() - started:.0f} s.")
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (WORK / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
