"""Faked upstream and processes for whole-pipeline runs, in this process or in a child process.

The crash, concurrency and sharding tests run the real stages (``run_generate`` with its
selection and locks, ``validate_batch_locally``, ``merge_batch``) with only the two edges faked:
``fetch`` (the adapters' HTTP) and the process runner of the local validator. A child process
runs this module (``tests.support.driver_command``, with the repository on ``PYTHONPATH``), so
tests can SIGKILL a real run::

    python -m tests.support.pipeline_fakes run ROOT BATCH_ID [--shard K/N] [--stage generate|...]
    python -m tests.support.pipeline_fakes add ROOT NAME... [--wait SECONDS]
    python -m tests.support.pipeline_fakes toggle ROOT TIMES

It prints ``READY`` once imported (so a kill delay measures work, not interpreter start-up) and
exits with the stage's exit code (5 when stopped or locked out). The kill-9 test forks its
children from a ``multiprocessing`` fork server that has imported this module (:func:`child_run`),
so a hundred runs do not pay a hundred interpreter start-ups.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from automation.core.errors import AutomationError, ExitCode
from automation.core.http import NotFound
from automation.core.layout import RegistryLayout
from automation.core.process import Completed
from automation.ecosystems.recipe import UpstreamPackage
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.stages.validate_local import LocalValidator

ECOSYSTEM = "pypi"
# Names far apart, so the typosquat gate lets them through.
GOOD = ("alpaca", "bravura", "cumulus", "dynamo", "everest", "fjordkit", "gizmo", "harbor")
BROKEN = ("quokka", "rhubarb", "saffron")  # install, then crash when run
# name -> (version, executables); "libonly" has no executables (excluded at merge).
UPSTREAM: dict[str, tuple[str, tuple[str, ...]]] = {
    **{name: (f"1.{i}.0", (name,)) for i, name in enumerate(GOOD)},
    **{name: (f"3.{i}.0", (name,)) for i, name in enumerate(BROKEN)},
    "libonly": ("2.0.0", ()),
}
GHOSTS = ("phantom", "wraith")  # not found upstream
# Entries no deterministic builder can ever build: merge excludes them with a reason.
IMPOSSIBLE = (
    QueueEntry("tapped", "homebrew:someone/tap/tapped", 3, "pending", "auto", None, 0, None),
    QueueEntry("nixonly", "nix:nixonly", 3, "pending", "auto", None, 0, None),
    QueueEntry("handmade", "manual:handmade", 3, "pending", "auto", None, 0, None),
)
NAMES = (*UPSTREAM, *GHOSTS)


Table = Mapping[str, tuple[str, tuple[str, ...]]]  # name -> (version, executables)


def make_fetch(upstream: Table) -> Any:
    """A fake upstream registry serving ``upstream``; other names are 404 (no network)."""

    def fetch(ecosystem: str, identifier: str) -> UpstreamPackage:
        if identifier not in upstream:
            raise NotFound(
                "no such project", url=f"https://pypi.org/pypi/{identifier}/json", status=404
            )
        version, exes = upstream[identifier]
        return UpstreamPackage(
            ecosystem,
            identifier,
            version,
            f"{identifier} does things",
            (f"https://example.org/{identifier}",),
            exes,
            f"https://pypi.org/project/{identifier}/",
        )

    return fetch


fetch = make_fetch(UPSTREAM)


class FakeProcesses:
    """The local validator's process runner, faked: the installer's pipx_install runs as it
    does for real (venv, pip, version probe), pip "installs" by creating the executable;
    ``good`` tools print their version, the rest crash when run."""

    def __init__(self, upstream: Table = UPSTREAM, good: Sequence[str] = GOOD):
        self.upstream = upstream
        self.good = frozenset(good)

    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        if list(argv[1:]) == ["--version"] and "python" in Path(argv[0]).name:
            return Completed(0, "Python 3.13.5\n")  # the interpreter the venvs are made from
        if "venv" in argv:
            return Completed(0, "")
        if "pip" in argv:
            package = argv[-1]
            bin_dir = Path(argv[argv.index("--python") + 1]).parent
            bin_dir.mkdir(parents=True, exist_ok=True)
            (bin_dir / package).write_text("#!/bin/sh\n")
            (bin_dir / package).chmod(0o755)
            return Completed(0, "")
        if "-c" in argv:
            return Completed(0, self.upstream[argv[-1]][0])
        tool = Path(argv[0]).name
        if tool in self.good:
            return Completed(0, f"{tool} {self.upstream[tool][0]}\n")
        return Completed(1, "Traceback (most recent call last):\nImportError: boom\n")


def entry(name: str) -> QueueEntry:
    return QueueEntry(name, f"{ECOSYSTEM}:{name}", 3, "pending", "auto", None, 0, None)


def make_registry(root: Path, names: Sequence[str] = NAMES, *, impossible: bool = True) -> None:
    """A scratch registry whose queue holds ``names`` (plus the impossible entries)."""
    layout = RegistryLayout.at(root)
    queue = load_queue(layout.queue)
    entries = [entry(n) for n in names] + (list(IMPOSSIBLE) if impossible else [])
    save_queue(layout.queue, queue.with_entries(entries))


def run_stage(
    root: Path,
    batch_id: str,
    stage: str = "all",
    *,
    shard: str | None = None,
    batch_size: int = 50,
    lock_wait: float | None = None,
) -> Any:
    """Run generate, validate, merge (or one of them) with the fakes; returns the last report."""
    from automation.stages.merge import merge_batch
    from automation.stages.pipeline import run_generate
    from automation.stages.validate import validate_batch_locally

    layout = RegistryLayout.at(root)
    report: Any = None
    if stage in ("all", "generate"):
        report = run_generate(
            layout,
            ECOSYSTEM,
            batch_size=batch_size,
            shard=shard,
            batch_id=batch_id,
            workers=2,
            fetch=fetch,
            lock_wait=lock_wait,
        )
        if report.stopped and not report.stopped.startswith("nothing to do"):
            return report
    if stage in ("all", "validate"):
        from automation.registry.control import check_allowed_now

        report = validate_batch_locally(
            layout,
            batch_id,
            validator=LocalValidator(runner=FakeProcesses()),
            guard=lambda eco: check_allowed_now(layout, eco),
        )
        if report.stopped:
            return report
    if stage in ("all", "merge"):
        report = merge_batch(layout, batch_id, lock_wait=lock_wait)
    return report


def normalised_state(root: Path) -> dict[str, Any]:
    """What must be identical between a crashed-and-rerun registry and an uninterrupted one:
    contents, with timestamps and generated file names left out."""
    from automation.registry.failures import iter_failures
    from automation.registry.manifest import manifest_files

    layout = RegistryLayout.at(root)
    failures = Counter(
        (r.package_id, r.name, r.category, r.subcategory, r.environment, r.message)
        for r in iter_failures(layout)
    )
    metrics = []
    for path in sorted(layout.metrics_dir.glob("batch-runs-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            metrics.append(
                {k: v for k, v in doc.items() if k not in ("timestamp", "duration_seconds")}
            )
    control: dict[str, Any] = {}
    if layout.control_file.exists():
        doc = json.loads(layout.control_file.read_text(encoding="utf-8"))
        control = {
            "enabled": doc.get("enabled"),
            "breakers": {
                eco: {k: v for k, v in b.items() if k not in ("last_failure", "opens_at")}
                for eco, b in doc.get("circuit_breaker", {}).items()
            },
        }
    return {
        "recipes": {
            str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in layout.recipe_files()
        },
        "queue": sorted(
            (e.name, e.source, e.status, e.failure_count, e.next_retry_at is not None)
            for e in load_queue(layout.queue).entries
        ),
        "failures": sorted((list(k), n) for k, n in failures.items()),
        "failure_files": len(list(layout.failures_dir.glob("*.jsonl"))),
        "metrics": metrics,
        "manifests": sorted(
            (p.name, json.loads(p.read_text(encoding="utf-8"))["status"])
            for p in manifest_files(layout)
        ),
        "control": control,
        "litter": sorted(
            str(p.relative_to(root))
            for p in root.rglob(".*.tmp")
            if "staging" not in p.parts and ".cache" not in p.parts
        ),
    }


def child_run(root: str, batch_id: str) -> None:
    """A whole batch in a forked child (``multiprocessing``): exit 0 when it converged."""
    try:
        report = run_stage(Path(root), batch_id)
    except BaseException:
        import traceback

        # Where the test can show it: a forked child's stderr goes nowhere useful.
        (Path(root).parent / f"{Path(root).name}.error.txt").write_text(traceback.format_exc())
        raise
    done = report is not None and report.exit_code != ExitCode.STOPPED
    # The verdict as a file too: a fork server reports 255 when it loses a child's status.
    (Path(root).parent / f"{Path(root).name}.done").write_text("ok" if done else "stopped")
    sys.exit(0 if done else 1)


def add_entries(root: Path, names: Sequence[str], lock_wait: float | None = None) -> None:
    """Seed-like queue edits: add each entry in its own locked read-modify-write."""
    from automation.core.atomic import registry_lock

    layout = RegistryLayout.at(root)
    for name in names:
        with registry_lock(layout.lock_file, timeout=lock_wait):
            queue = load_queue(layout.queue)
            save_queue(
                layout.queue, queue.with_entries([*queue.entries, entry(name)]), previous=queue
            )


def toggle(root: Path, times: int) -> None:
    """``invoke stop`` then ``invoke resume``, ``times`` times (ends resumed)."""
    from automation.registry.control import emergency_stop, resume

    layout = RegistryLayout.at(root)
    for i in range(times):
        emergency_stop(layout, f"drill {i}", by="concurrency test")
        resume(layout)


def main(argv: Sequence[str]) -> int:
    """``run ROOT BATCH [--shard K/N] [--stage S] [--wait S]``, ``add ROOT NAME... [--wait S]``,
    ``toggle ROOT TIMES``; exit code 5 when stopped or locked out."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("run", "add", "toggle"))
    parser.add_argument("root")
    parser.add_argument("args", nargs="*")
    parser.add_argument("--shard", default=None)
    parser.add_argument("--stage", default="all")
    parser.add_argument("--wait", type=float, default=None)
    args = parser.parse_args(argv)
    # Import everything the run needs before announcing READY.
    import automation.stages.merge
    import automation.stages.pipeline
    import automation.stages.validate  # noqa: F401

    print("READY", flush=True)
    root = Path(args.root)
    try:
        if args.command == "add":
            add_entries(root, args.args, args.wait)
            return 0
        if args.command == "toggle":
            toggle(root, int(args.args[0]))
            return 0
        report = run_stage(root, args.args[0], args.stage, shard=args.shard, lock_wait=args.wait)
    except AutomationError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return int(exc.exit_code)
    code = report.exit_code if report is not None else ExitCode.OK
    return int(code) if code == ExitCode.STOPPED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
