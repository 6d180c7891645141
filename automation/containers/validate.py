"""Validate recipes by installing and running them in one container per environment.

One result line per (recipe, environment) is appended to
``data/results/<batch_id>/<environment>.jsonl``. Only transient network failures are retried
(3 attempts, 2 s then 4 s apart, as the reference pipeline does). Environments run side by side.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.atomic import append_jsonl
from automation.containers import installer
from automation.containers.environments import (
    CONTAINERS_DIR,
    DEFAULT_LOCAL_ENVIRONMENTS,
    Environment,
    select_environments,
)
from automation.containers.runtime import (
    DEFAULT_CA_BUNDLE,
    Completed,
    ContainerRuntime,
    EngineError,
    RunOptions,
    container,
    detect_runtime,
    new_container_name,
)
from automation.errors import AutomationError, DataError, ExitCode, UsageError
from automation.layout import RegistryLayout
from automation.names import check_recipe_name
from automation.timefmt import format_filename_stamp, format_timestamp, now

INSTALLER_SOURCE = Path(installer.__file__)
SMOKE_RECIPES_DIR = CONTAINERS_DIR / "smoke"
PAYLOAD_DIR = "/tmp/registry-automation"
PREFIX = "/opt/tsuku-validate"
RETRY_BACKOFF = (2.0, 4.0)
CONTAINER_ERROR = "container_error"


@dataclass(frozen=True, slots=True)
class Recipe:
    """A recipe file read on the host (the container gets it as JSON)."""

    name: str
    path: Path
    document: dict[str, Any]


def load_recipe(path: Path) -> Recipe:
    """Read a recipe TOML; DataError names the file when it is unreadable or unnamed."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"cannot read recipe: {exc}", path=str(path)) from None
    name = document.get("metadata", {}).get("name")
    try:
        check_recipe_name(name)
    except DataError as exc:
        raise DataError(exc.detail, path=str(path), where="metadata.name") from None
    return Recipe(str(name), path, document)


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """How recipes are validated; the CA bundle is a run-time option, never part of an image."""

    batch_id: str
    ca_bundle: Path | None = None
    install_timeout: float = 900
    verify_timeout: float = 60
    memory: str | None = "2g"
    cpus: float | None = 1.0
    isolate_verify: bool = True
    max_attempts: int = 3
    backoff: tuple[float, ...] = RETRY_BACKOFF

    def run_options(self) -> RunOptions:
        options = RunOptions(memory=self.memory, cpus=self.cpus)
        return options.with_ca_bundle(self.ca_bundle) if self.ca_bundle else options


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """One (recipe, environment) outcome; ``to_line`` is the stored JSONL form."""

    recipe: str
    environment: str
    platform: str
    status: str
    category: str
    subcategory: str
    exit_code: int
    attempts: int
    message: str
    timestamp: str
    version: str = ""
    output: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_line(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "environment": self.environment,
            "platform": self.platform,
            "status": self.status,
            "category": self.category,
            "subcategory": self.subcategory,
            "exit_code": self.exit_code,
            "attempts": self.attempts,
            "message": self.message,
            "timestamp": self.timestamp,
        }


def parse_installer_output(completed: Completed) -> dict[str, Any]:
    """The installer's JSON line, or a classified failure when there is none."""
    if completed.timed_out:
        return installer.result(
            installer.FAIL, installer.TIMEOUT, "container_exec", "no answer within the timeout"
        )
    for line in reversed(completed.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "status" in record:
                return record
    if completed.returncode in (126, 127):
        return installer.result(
            installer.FAIL, installer.MISSING_RUNTIME, "python3", completed.tail(500)
        )
    return installer.result(
        installer.FAIL, CONTAINER_ERROR, "no_result", completed.tail(500), exit_code=-1
    )


def is_transient(record: dict[str, Any]) -> bool:
    # A TLS failure is a configuration problem (missing CA bundle), not worth retrying.
    return record.get("category") == installer.NETWORK and record.get("subcategory") != "tls_error"


def _attempt(
    recipe: Recipe, env: Environment, runtime: ContainerRuntime, options: ValidationOptions
) -> tuple[dict[str, Any], dict[str, float]]:
    timings: dict[str, float] = {}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ra-validate-") as tmp:
        payload = Path(tmp) / "payload"
        payload.mkdir()
        shutil.copyfile(INSTALLER_SOURCE, payload / "installer.py")
        (payload / "recipe.json").write_text(json.dumps(recipe.document), encoding="utf-8")
        common = ["--platform", env.platform, "--prefix", PREFIX]
        script = [env.python, f"{PAYLOAD_DIR}/installer.py"]
        recipe_arg = f"{PAYLOAD_DIR}/recipe.json"
        try:
            with container(
                runtime,
                env.image,
                options.run_options(),
                name=new_container_name(recipe.name, env.id),
            ) as name:
                timings["start"] = time.monotonic() - start
                copied = runtime.copy_in(name, payload, PAYLOAD_DIR)
                if not copied.ok:
                    raise EngineError(f"copy into {name} failed: {copied.tail(300)}")
                step = time.monotonic()
                install = runtime.exec(
                    name,
                    [
                        *script,
                        "install",
                        recipe_arg,
                        *common,
                        "--timeout",
                        f"{options.install_timeout:g}",
                    ],
                    timeout=options.install_timeout + 60,
                )
                timings["install_exec"] = time.monotonic() - step
                record = parse_installer_output(install)
                timings["install_inside"] = record.get("duration_ms", 0) / 1000
                if record.get("status") != installer.PASS:
                    return record, timings
                note = ""
                if options.isolate_verify:
                    step = time.monotonic()
                    cut = runtime.disconnect_network(name)
                    timings["disconnect"] = time.monotonic() - step
                    note = (
                        "verify ran without network"
                        if cut.ok
                        else f"network could not be cut ({cut.tail(120)}); verify ran with it"
                    )
                step = time.monotonic()
                checked = runtime.exec(
                    name,
                    [
                        *script,
                        "verify",
                        recipe_arg,
                        *common,
                        "--verify-timeout",
                        f"{options.verify_timeout:g}",
                    ],
                    timeout=options.verify_timeout + 60,
                )
                timings["verify_exec"] = time.monotonic() - step
                record = parse_installer_output(checked)
                if not record.get("version"):
                    record["version"] = install_version(install)
                if note:
                    record["message"] = f"{record.get('message', '')} ({note})".strip()
                step = time.monotonic()
        except EngineError as exc:
            record = installer.result(
                installer.FAIL, CONTAINER_ERROR, "engine", str(exc), exit_code=-1
            )
            return record, timings
        timings["remove"] = time.monotonic() - step
        timings["total"] = time.monotonic() - start
    return record, timings


def install_version(completed: Completed) -> str:
    return str(parse_installer_output(completed).get("version") or "")


def validate_one(
    recipe: Recipe,
    env: Environment,
    runtime: ContainerRuntime,
    options: ValidationOptions,
    *,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> ValidationResult:
    """Install and verify ``recipe`` in a fresh container; retry transient failures only."""
    attempts = 0
    record: dict[str, Any] = {}
    timings: dict[str, float] = {}
    wall = time.monotonic()
    while attempts < options.max_attempts:
        attempts += 1
        record, timings = _attempt(recipe, env, runtime, options)
        if not is_transient(record) or attempts >= options.max_attempts:
            break
        if stop is not None and stop.is_set():
            break
        sleep(options.backoff[min(attempts - 1, len(options.backoff) - 1)])
    timings["wall"] = time.monotonic() - wall
    return ValidationResult(
        recipe=recipe.name,
        environment=env.id,
        platform=env.platform,
        status=str(record.get("status", installer.FAIL)),
        category=str(record.get("category", "")),
        subcategory=str(record.get("subcategory", "")),
        exit_code=int(record.get("exit_code", -1)),
        attempts=attempts,
        message=str(record.get("message", "")),
        timestamp=format_timestamp(now()),
        version=str(record.get("version") or ""),
        output=str(record.get("output") or ""),
        timings={k: round(v, 2) for k, v in timings.items()},
    )


def validate_in_environment(
    recipes: Sequence[Recipe],
    env: Environment,
    runtime: ContainerRuntime,
    *,
    layout: RegistryLayout,
    options: ValidationOptions,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[ValidationResult]:
    """Validate each recipe in ``env``; append each result line as soon as it is known."""
    results_file = layout.results_file(options.batch_id, env.id)
    results = []
    for recipe in recipes:
        if stop is not None and stop.is_set():
            break
        outcome = validate_one(recipe, env, runtime, options, sleep=sleep, stop=stop)
        append_jsonl(results_file, [outcome.to_line()])
        results.append(outcome)
    return results


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Every result of one validation run."""

    batch_id: str
    engine: str
    results: tuple[ValidationResult, ...]
    files: tuple[str, ...]
    interrupted: bool = False

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.STOPPED
        ok = all(r.status in (installer.PASS, installer.SKIPPED) for r in self.results)
        return ExitCode.OK if ok else ExitCode.PARTIAL

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "engine": self.engine,
            "interrupted": self.interrupted,
            "results_files": list(self.files),
            "results": [
                {**r.to_line(), "version": r.version, "timings": r.timings} for r in self.results
            ],
            "summary": {
                status: sum(1 for r in self.results if r.status == status)
                for status in (installer.PASS, installer.FAIL, installer.SKIPPED)
            },
        }

    def to_text(self) -> str:
        lines = [f"batch {self.batch_id} ({self.engine})"]
        for r in self.results:
            what = r.category + (f"/{r.subcategory}" if r.subcategory else "")
            lines.append(
                f"  {r.environment:<14} {r.recipe:<20} {r.status:<7} {what or '-':<28} "
                f"v{r.version or '?'}  {r.timings.get('wall', 0):.1f}s  attempts={r.attempts}"
            )
            if r.status == installer.FAIL:
                lines.append(f"      {r.message[:300]}")
        lines += [f"  results: {path}" for path in self.files]
        if self.interrupted:
            lines.append("  interrupted: remaining recipes were not validated")
        return "\n".join(lines)


def validate_batch(
    recipes: Sequence[Recipe],
    environments: Sequence[Environment],
    runtime: ContainerRuntime,
    *,
    layout: RegistryLayout,
    options: ValidationOptions,
    jobs: int = 2,
) -> ValidationReport:
    """Run the environments side by side (``jobs`` at a time); Ctrl-C stops after cleanup."""
    stop = threading.Event()
    interrupted = False
    results: list[ValidationResult] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [
            pool.submit(
                validate_in_environment,
                recipes,
                env,
                runtime,
                layout=layout,
                options=options,
                stop=stop,
            )
            for env in environments
        ]
        try:
            for future in futures:
                results.extend(future.result())
        except KeyboardInterrupt:
            # Workers finish their current container (and remove it) and take no new work.
            stop.set()
            interrupted = True
    files = tuple(str(layout.results_file(options.batch_id, env.id)) for env in environments)
    return ValidationReport(
        options.batch_id, runtime.executable, tuple(results), files, interrupted
    )


# --- images -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildResult:
    environment: str
    image: str
    base_image: str
    ok: bool
    seconds: float
    skipped: bool
    message: str


@dataclass(frozen=True, slots=True)
class BuildReport:
    results: tuple[BuildResult, ...]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if all(r.ok for r in self.results) else ExitCode.PARTIAL

    def to_json(self) -> dict[str, Any]:
        return {"builds": [_build_json(r) for r in self.results]}

    def to_text(self) -> str:
        return "\n".join(
            f"{r.environment:<14} {'ok' if r.ok else 'FAILED':<6} {r.seconds:6.1f}s "
            f"{'(exists) ' if r.skipped else ''}{r.image} <- {r.base_image} {r.message}"
            for r in self.results
        )


def _build_json(r: BuildResult) -> dict[str, Any]:
    return {
        "environment": r.environment,
        "image": r.image,
        "base_image": r.base_image,
        "ok": r.ok,
        "seconds": round(r.seconds, 1),
        "skipped": r.skipped,
        "message": r.message,
    }


def build_images(
    environments: Iterable[Environment], runtime: ContainerRuntime, *, rebuild: bool = False
) -> BuildReport:
    """Build each validation image from its Dockerfile.

    The base is the locally bootstrapped image when the engine has it (no registry needed),
    otherwise the pinned upstream image from the Dockerfile's default (hosted CI).
    """
    results = []
    for env in environments:
        local = env.local_bootstrap is not None and runtime.image_exists(env.local_bootstrap.image)
        base = env.base_image_for(local=local)
        if not rebuild and runtime.image_exists(env.image):
            results.append(BuildResult(env.id, env.image, base, True, 0.0, True, ""))
            continue
        args = {"BASE_IMAGE": base} if local else {}
        done = runtime.build(
            env.image, env.dockerfile, CONTAINERS_DIR, build_args=args, local=local
        )
        results.append(
            BuildResult(
                env.id,
                env.image,
                base,
                done.ok,
                done.duration,
                False,
                "" if done.ok else done.tail(800),
            )
        )
    return BuildReport(tuple(results))


# --- entry points -----------------------------------------------------------------------------


def default_batch_id() -> str:
    return "containers-" + format_filename_stamp(now()).lower()


def run_validation(
    *,
    root: str | Path = ".",
    environment_ids: Sequence[str] = (),
    recipe_paths: Sequence[str | Path] = (),
    batch_id: str | None = None,
    engine: str | None = None,
    ca_bundle: bool = True,
    build: bool = True,
    jobs: int = 2,
    isolate_verify: bool = True,
    runtime: ContainerRuntime | None = None,
) -> ValidationReport:
    """The front doors' one call: pick engine, environments and recipes, build, validate."""
    envs = select_environments(environment_ids or DEFAULT_LOCAL_ENVIRONMENTS)
    paths = [Path(p) for p in recipe_paths] or sorted(SMOKE_RECIPES_DIR.glob("*.toml"))
    if not paths:
        raise UsageError("no recipes given (--recipe PATH)")
    recipes = [load_recipe(p) for p in paths]
    runtime = runtime or detect_runtime(prefer=engine)
    if build:
        built = build_images(envs, runtime)
        failed = [r for r in built.results if not r.ok]
        if failed:
            raise EngineError(
                f"image build failed for {failed[0].environment}: {failed[0].message}"
            )
    bundle = DEFAULT_CA_BUNDLE if ca_bundle and DEFAULT_CA_BUNDLE.is_file() else None
    options = ValidationOptions(
        batch_id=check_recipe_name(batch_id or default_batch_id()),
        ca_bundle=bundle,
        isolate_verify=isolate_verify,
    )
    return validate_batch(
        recipes, envs, runtime, layout=RegistryLayout.at(root), options=options, jobs=jobs
    )


def validate_batch_in_environment(
    layout: RegistryLayout,
    batch_id: str,
    environment: str,
    *,
    runtime: ContainerRuntime | None = None,
) -> ValidationReport:
    """Validate a staged batch's generated recipes in one container environment (pipeline use).

    Recipes that already have a line in ``data/results/<batch>/<environment>.jsonl`` are skipped,
    so an interrupted run resumes.
    """
    from automation.batch import Staging  # the pipeline's staging area, owned by automation.batch

    staging = Staging(layout, batch_id)
    if not staging.exists():
        raise UsageError(f"no batch {batch_id!r}")
    results_file = layout.results_file(batch_id, environment)
    done: set[str] = set()
    if results_file.exists():
        for raw in results_file.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                done.add(str(json.loads(raw).get("recipe")))
    paths = [staging.recipe_path(o.name) for o in staging.generated() if o.name not in done]
    if not paths:
        return ValidationReport(batch_id, "none", (), (str(results_file),))
    return run_validation(
        root=layout.root,
        environment_ids=[environment],
        recipe_paths=paths,
        batch_id=batch_id,
        runtime=runtime,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m automation.containers.validate [ENV ...] --recipe PATH`` (used by nox)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "environments", nargs="*", help="environment ids (default: debian-12 ubuntu-24.04)"
    )
    parser.add_argument("--recipe", action="append", default=[], help="recipe TOML (repeatable)")
    parser.add_argument("--root", default=".", help="registry checkout for data/results")
    parser.add_argument("--batch-id", default=None)
    parser.add_argument("--engine", choices=("podman", "docker"), default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--no-ca-bundle", action="store_true", help="do not pass the host CA bundle"
    )
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = run_validation(
            root=args.root,
            environment_ids=args.environments,
            recipe_paths=args.recipe,
            batch_id=args.batch_id,
            engine=args.engine,
            ca_bundle=not args.no_ca_bundle,
            build=not args.no_build,
            jobs=args.jobs,
        )
    except AutomationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
    return int(report.exit_code)


if __name__ == "__main__":
    sys.exit(main())
