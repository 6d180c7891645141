"""The end-to-end section of ``make bench``: seconds per recipe through local + debian-12 +
ubuntu-24.04 for a fixed list of real PyPI and npm tools, against the floor.

The recipes are generated once (live PyPI and npm, not timed) into a template registry; each
variant validates a fresh copy of it with ``validate_matrix`` (what ``invoke pipeline`` runs
after generation), in a fresh interpreter, so its peak RSS is its own. *before* is the kit as
it was: no shared download cache, nothing skipped. *after* is the default now: one download
cache shared by local and both containers (cold: empty at the start of the run), recipes that
failed locally not tried again. The **floor** is the bare download of the same packages with
their dependencies (one ``pip download`` and one ``npm install --ignore-scripts`` of them all,
no cache) plus one start of each executable (its verify command), nothing else.

``python -m bench.e2e`` runs this section alone and replaces it in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Small, real command-line tools with dependencies (none shared between the two lists).
PYPI_TOOLS = ["httpie", "pyfiglet", "sqlparse", "tabulate"]
NPM_TOOLS = ["cowsay", "json5", "marked", "semver"]
ENVIRONMENTS = ["local", "debian-12", "ubuntu-24.04"]
# Where one container's time goes (ValidationResult.timings); "other": copy-in and exec overheads.
PHASES = ("start", "install_inside", "disconnect", "verify_exec", "remove")
TITLE = "## End-to-end validation: local + debian-12 + ubuntu-24.04"
Runner = Callable[..., dict[str, Any]]


def _peak_children_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def prepare(template: str) -> dict[str, Any]:
    """Generate one batch per ecosystem for the fixed tools into ``template`` (live, untimed)."""
    from automation.core.layout import RegistryLayout
    from automation.registry.queue import QueueEntry, load_queue, save_queue
    from automation.stages.pipeline import run_generate

    root = Path(template)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    layout = RegistryLayout.at(root)
    entries = [
        QueueEntry(name, f"{eco}:{name}", 1, "pending", "auto", None, 0, None)
        for eco, names in (("pypi", PYPI_TOOLS), ("npm", NPM_TOOLS))
        for name in names
    ]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries))
    batches = {}
    for eco, names in (("pypi", PYPI_TOOLS), ("npm", NPM_TOOLS)):
        report = run_generate(layout, eco, batch_size=len(names), batch_id=f"2026-01-01-{eco}")
        generated = [o.name for o in report.outcomes if o.status == "generated"]
        batches[report.batch_id] = generated
    return {"batches": batches}


def validate_variant(
    template: str,
    work: str,
    cache: str,
    jobs: int,
    skip_failed_locally: bool,
    overlap: bool = True,
) -> dict[str, Any]:
    """Validate a fresh copy of the template's batches in the three environments, timed."""
    from automation.core.layout import RegistryLayout
    from automation.stages.validate_matrix import validate_matrix

    root = Path(work)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root)
    os.environ["AUTOMATION_DOWNLOAD_CACHE"] = cache
    if cache != "off":
        shutil.rmtree(cache, ignore_errors=True)  # cold: what the run downloads is counted
    layout = RegistryLayout.at(root)
    batches = sorted(p.name for p in layout.root.joinpath("data", "staging").iterdir())
    started = time.perf_counter()
    cpu = time.process_time()
    # Passed only when on: the kit before it existed is measured with this same code.
    extra: dict[str, Any] = {"skip_failed_locally": True} if skip_failed_locally else {}
    if not overlap:
        extra["overlap"] = False
    reports = [
        validate_matrix(layout, batch, ENVIRONMENTS, jobs=jobs, **extra) for batch in batches
    ]
    seconds = time.perf_counter() - started
    statuses: dict[str, dict[str, int]] = {}
    walls: dict[str, list[float]] = {}
    phases: dict[str, list[float]] = {}
    recipes = 0
    for report in reports:
        data = report.to_json()
        local = data["local"] or {}
        recipes += len(local.get("results", []))
        for line in local.get("results", []):
            counts = statuses.setdefault("local", {})
            counts[line["status"]] = counts.get(line["status"], 0) + 1
            walls.setdefault("local", []).append(line.get("duration_seconds") or 0.0)
        for line in (data["containers"] or {}).get("results", []):
            env = line["environment"]
            counts = statuses.setdefault(env, {})
            key = line["status"] + (
                f"/{line['subcategory']}" if line["status"] == "skipped" else ""
            )
            counts[key] = counts.get(key, 0) + 1
            walls.setdefault(env, []).append(line["timings"].get("wall", 0.0))
            timings = line["timings"]
            if "total" in timings:  # a container really ran: where its time went
                for phase in PHASES:
                    phases.setdefault(phase, []).append(float(timings.get(phase, 0.0)))
                copy_and_execs = timings["total"] - sum(timings.get(p, 0.0) for p in PHASES)
                phases.setdefault("other", []).append(copy_and_execs)
    return {
        "seconds": seconds,
        "recipes": recipes,
        "per_recipe_s": seconds / recipes if recipes else None,
        "kit_cpu_s": time.process_time() - cpu,
        "statuses": statuses,
        "mean_wall_s": {env: sum(w) / len(w) for env, w in walls.items() if w},
        "container_phases_s": {k: sum(v) / len(v) for k, v in phases.items() if v},
        "cache_mib": _size_mib(Path(cache)) if cache != "off" else 0.0,
        "peak_children_rss_mib": _peak_children_mib(),
    }


def _size_mib(folder: Path) -> float:
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total / 2**20


def _verify_commands(template: str) -> list[tuple[str, str, str]]:
    """(ecosystem, package, verify command) of every generated recipe."""
    out = []
    for recipe in sorted(Path(template).glob("data/staging/*/recipes/*.toml")):
        doc = tomllib.loads(recipe.read_text(encoding="utf-8"))
        step = doc["steps"][0]
        eco = "pypi" if step["action"] == "pipx_install" else "npm"
        exe = step["executables"][0]
        command = str((doc.get("verify") or {}).get("command") or f"{exe} --version")
        out.append((eco, str(step["package"]), command))
    return out


def floor(template: str, work: str) -> dict[str, Any]:
    """The bare download of the same packages (with dependencies, no cache) plus one start of
    each executable; installing them to start them is not timed."""
    from automation.containers.runtimes import host_path, interpreter, runtimes_for

    runtimes = runtimes_for(["pypi", "npm"])
    python = interpreter(runtimes, container=False) or sys.executable
    path = host_path(runtimes, os.environ.get("PATH", "/usr/bin:/bin"))
    env = {**os.environ, "PATH": path, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    root = Path(work)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    tools = _verify_commands(template)
    pypi = [package for eco, package, _ in tools if eco == "pypi"]
    npm = [package for eco, package, _ in tools if eco == "npm"]
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "pip", "download", "--no-cache-dir", "-q", "-d", str(root / "wheels"),
         *pypi],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    pip_s = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(
        ["npm", "install", "--prefix", str(root / "npm"), "--ignore-scripts", "--no-audit",
         "--no-fund", "--cache", str(root / "npm-cache"), *npm],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    npm_s = time.perf_counter() - started
    # Untimed: an install to start the PyPI tools from (from the downloaded wheels only).
    subprocess.run([python, "-m", "venv", str(root / "venv")], check=True, env=env)
    subprocess.run(
        [str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
         "--find-links", str(root / "wheels"), *pypi],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    start_path = f"{root / 'venv' / 'bin'}:{root / 'npm' / 'node_modules' / '.bin'}:{path}"
    starts = {}
    for _eco, package, command in tools:
        began = time.perf_counter()
        done = subprocess.run(
            ["/bin/sh", "-c", command], env={**env, "PATH": start_path}, capture_output=True
        )
        starts[package] = (time.perf_counter() - began, done.returncode)
    start_s = sum(s for s, _ in starts.values())
    return {
        "pip_download_s": pip_s,
        "npm_download_s": npm_s,
        "start_s": start_s,
        "seconds": pip_s + npm_s + start_s,
        "recipes": len(tools),
        "per_recipe_s": (pip_s + npm_s + start_s) / len(tools) if tools else None,
        "starts": {k: [round(s, 3), code] for k, (s, code) in starts.items()},
    }


VARIANTS = (
    # name, description, cache on, jobs, skip failed locally, overlap local and containers
    ("settings off", "no shared cache, local before the containers, nothing skipped", False, 2,
     False, False),
    ("defaults", "shared download cache (cold), containers overlap local, local failures not "
     "tried again", True, 2, True, True),
    ("defaults, jobs 1", "as defaults, one container at a time", True, 1, True, True),
)  # fmt: skip


def section(run: Runner, say: Callable[[str], None], results: dict[str, Any], work: Path) -> None:
    """Run the end-to-end cases and print the section (never fails on timing)."""
    say(TITLE)
    say("")
    if shutil.which("podman") is None:
        say("- skipped: podman is not installed (`make setup-containers`)")
        say("")
        return
    template = work / "e2e-template"
    prepared = run("e2e_prepare", str(template), timeout=900)
    if "error" in prepared:
        say(f"- skipped: generation failed: `{prepared['error'][:300]}`")
        say("")
        return
    names = [n for batch in prepared["batches"].values() for n in batch]
    say(f"{len(names)} recipes generated live (not timed): PyPI {', '.join(PYPI_TOOLS)}; npm "
        f"{', '.join(NPM_TOOLS)}. Each variant validates a fresh copy of both batches with "
        "`validate_matrix` (what `invoke pipeline` runs after generation): local, and the two "
        "containers side by side (`--jobs`), each container `--cpus 1 --memory 2g`, either "
        "after local (settings off) or taking each recipe as soon as local is done with it "
        "(defaults). The machine is shared: the load average during the run is shown. "
        "The floor is the bare download of the same packages with their dependencies (one "
        "`pip download`, one `npm install --ignore-scripts`, no cache) plus one start of each "
        "executable. Peak RSS: the kit's interpreter; children: the largest process it "
        "started (pip, npm, podman client), not the containers' own.")  # fmt: skip
    say("")
    say(f"- load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    say("")
    bottom = run("e2e_floor", str(template), str(work / "e2e-floor"), timeout=900)
    rows = {}
    for name, _what, cache_on, jobs, skip, overlap in VARIANTS:
        cache = str(work / "e2e-downloads") if cache_on else "off"
        folder = str(work / ("e2e-" + name.replace(" ", "-").replace(",", "")))
        rows[name] = run(
            "e2e_validate", str(template), folder, cache, jobs, skip, overlap, timeout=3600
        )
    results["e2e"] = {"prepared": prepared, "floor": bottom, **rows}
    say(
        "| variant | jobs | s total | **s per recipe** | ratio to floor | local / debian-12 / "
        "ubuntu-24.04 mean s per recipe | results | shared cache MiB | peak RSS MiB (children) |"
    )
    say("|---|---|---|---|---|---|---|---|---|")
    floor_per = bottom.get("per_recipe_s")
    for name, what, _cache_on, jobs, _skip, _overlap in VARIANTS:
        row = rows[name]
        if "error" in row:
            say(f"| {name}: {what} | {jobs} | error: `{row['error'][:200]}` ||||||")
            continue
        means = " / ".join(f"{row['mean_wall_s'].get(env, 0):.2f}" for env in ENVIRONMENTS)
        ratio = f"{row['per_recipe_s'] / floor_per:.2f}x" if floor_per else "n/a"
        say(f"| {name}: {what} | {jobs} | {row['seconds']:.1f} | **{row['per_recipe_s']:.2f}** | "
            f"{ratio} | {means} | {_statuses(row['statuses'])} | {row['cache_mib']:.1f} | "
            f"{row['peak_rss_mib']:.1f} ({row['peak_children_rss_mib']:.1f}) |")  # fmt: skip
    if "error" in bottom:
        say(f"| floor | | error: `{bottom['error'][:200]}` ||||||")
    else:
        say(f"| floor: bare download + one start | | {bottom['seconds']:.1f} | "
            f"**{bottom['per_recipe_s']:.2f}** | 1.00x | pip download "
            f"{bottom['pip_download_s']:.1f} s, npm {bottom['npm_download_s']:.1f} s, "
            f"starts {bottom['start_s']:.2f} s | | | "
            f"{bottom['peak_rss_mib']:.1f} |")  # fmt: skip
    say("")
    defaults = rows.get("defaults", {})
    phases = defaults.get("container_phases_s") or {}
    if phases:
        total = sum(phases.values())
        churn = phases.get("start", 0.0) + phases.get("remove", 0.0)
        say("Where one container's time goes (defaults, mean per recipe and environment): "
            + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
            + f" (other: copy-in and `podman exec` overheads); total {total:.2f} s. Starting and "
            f"removing a fresh container per recipe is {churn:.2f} s of it "
            f"({churn / total:.0%}): what reusing one container per environment could save at "
            "most, less a network reconnect after each verify.")  # fmt: skip
        say("")
    say(BEFORE_AFTER)
    say("")


# Measured once (2026-12-05, this 2-core machine, shared: load average 1-3), back to back, with
# the same recipes and validate_variant: the kit before the throughput work (commit ef227c8:
# one venv with its own pip per container recipe, pip byte-compiling everything, local before
# the containers, no shared cache) against the defaults now. Printed as a note: `make bench`
# does not keep old kits around.
BEFORE_AFTER = (
    "Before and after, measured once (2026-12-05, load average 1-3, the same 8 recipes back to "
    "back): the kit before this work (commit ef227c8) took **8.90 s per recipe** (local 1.89, "
    "debian-12 6.69, ubuntu-24.04 6.72 s per recipe; a container's install 4.29 s of it), the "
    "defaults now **5.52 s per recipe** (local 1.88, debian-12 4.65, ubuntu-24.04 4.79; install "
    "2.53 s): 1.6x faster, 12x the floor (0.47 s). What changed, by measurement: a container's "
    "venv no longer bootstraps its own pip (`python -m venv` 4.3 s, `--without-pip` 0.1 s: the "
    "provisioned CPython's pip installs into it, as pipx's shared pip does); pip no longer "
    "byte-compiles (httpie 5.5 -> 3.1 s; it decides no verdict); the containers overlap local "
    "(settings off -> defaults above); one download cache for all three environments (2.5 MiB "
    "for these 8 tools: on this machine's fast link downloads are not where the time goes, so "
    "it saves little here and more on a slow or metered link; here the upstream answers through "
    "a proxy without caching headers, so pip stores nothing in its HTTP cache, while npm's cache "
    "served 41 of the 70 requests of a `cowsay` install, its tarballs); a recipe that failed "
    "locally for a package-level cause is not installed again in the containers (none of "
    "these 8 fails). "
    "`--jobs 2` stays the default: one container at a time is slower (jobs 1 row), and a third "
    "concurrent install has no core to run on. Reusing one container per environment was not "
    "built: starting and removing a container is the share shown above (0.7-0.9 s of 4.7-5 s), "
    "less a `podman network connect` (0.09 s) to restore the network cut for each verify, and "
    "a shared container would let one recipe's files, HOME and caches be seen by the next. "
    "Then (2026-12-06) PyPI installs moved to uv (`automation/ecosystems/pypi/uv.py`) and a "
    "container's install prefix to a bind-mounted host folder (writes through the image's "
    "overlay cost harbor 14 s of system time, a plain folder 1.8 s): the defaults row went from "
    "5.93 s per recipe (2026-12-05, load average 5.8) to 4.04 and 3.92 s (two runs on "
    "2026-12-06, load average 1.1 and 1.5): runs under different load, not a controlled "
    "comparison; the growth section's table per installer is the larger sample."
)


def _statuses(statuses: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{env}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        for env, counts in statuses.items()
    )


def main() -> int:
    """Run this section alone and put it into BENCHMARKS.md in place of the previous one."""
    from bench.__main__ import OUTPUT, WORK, run
    from bench.sections import replace_section

    WORK.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    results: dict[str, Any] = {}
    section(run, say, results, WORK)
    (WORK / "e2e-results.json").write_text(json.dumps(results, indent=2, default=str))
    replace_section(OUTPUT, TITLE, lines)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
