"""Validate recipes by installing and running them in one container per environment.

One result line per (recipe, environment) is appended to
``data/results/<batch_id>/<environment>.jsonl`` through ``automation.registry.results``
(schema-checked,
canonical categories). Only transient network failures are retried (3 attempts, 2 s then 4 s
apart, as the reference pipeline does); everything else is classified once, with the tool's own
output kept in the message. Environments run side by side, ``jobs`` at a time.

The installer's own categories map onto the canonical six
(``automation.registry.failures.CATEGORIES``):

====================== ========================================================================
installer              result line (status / category / subcategory)
====================== ========================================================================
pass                   pass / null / null (``no_verify`` when the recipe has no [verify])
unsupported_platform   skipped / null / ``unsupported_platform`` (the recipe excludes the env)
install_failed         fail / install_failed / the installer's (``exit_1``, ``checksum_mismatch``)
                       - or recipe_not_found / ``package_not_found`` when the package manager
                       says the package does not exist
verify_failed          fail / verify_failed / ``exit_code``, ``pattern_mismatch``,
                       ``missing_executable``
network_error          fail / network_error / ``dns_error``, ``tls_error``, ``http_503``... (the
                       only category retried, TLS excepted: that is configuration)
timeout                fail / install_failed or verify_failed (by phase) / ``timeout``
missing_runtime        skipped / null / ``missing_toolchain`` (cargo, python3... absent in the
                       image: an environment gap, code environment_gap/missing_toolchain; the
                       message starts ``environment lacks <tool>:``)
container_error        skipped / null / ``container_error`` (the engine failed: says nothing
                       about the recipe; a rerun of the batch retries it), or ``image_missing``
                       when the validation image is gone (an environment gap)
====================== ========================================================================

With ``--installer tsuku`` (:mod:`automation.containers.tsuku`) the tsuku binary is bind-mounted
read-only into each container instead; ``tsuku install`` installs the recipe (its outcome read by
``tsuku.classify_install``), then, with the network cut as above, the recipe's verify commands
run with ``$TSUKU_HOME/tools/current`` first on PATH and are judged by ``tsuku.judge_verify``
(the kit's pattern rules). A recipe whose constraints exclude the environment is skipped without
a container, as the kit's installer would skip it; a tsuku that cannot run in the container
(exit 126/127 from the engine) is a ``container_error``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.containers import installer, tsuku
from automation.containers.downloads import (
    CONTAINER_DOWNLOAD_CACHE,
    DOWNLOAD_CACHE_ENV,
    container_cache_dir,
    download_cache_dir,
)
from automation.containers.environments import (
    CONTAINERS_DIR,
    DEFAULT_LOCAL_ENVIRONMENTS,
    Environment,
    load_environments,
    select_environments,
)
from automation.containers.images import ImageSpec, Log, ensure_image, log_stderr
from automation.containers.runtime import (
    DEFAULT_CA_BUNDLE,
    Completed,
    ContainerRuntime,
    EngineError,
    Mount,
    RunOptions,
    container,
    detect_runtime,
    new_container_name,
)
from automation.containers.runtimes import (
    ProvisionedRuntime,
    annotate,
    container_path,
    ecosystems_in,
    interpreter,
    runtimes_for,
    tool_path,
)
from automation.core.config import ENV_PREFIX as ENDPOINT_ENV_PREFIX
from automation.core.errors import AutomationError, DataError, ExitCode, StoppedError, UsageError
from automation.core.jsondata import loads
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name
from automation.core.report import Problem
from automation.core.timefmt import format_filename_stamp, format_timestamp, now
from automation.registry.failure_codes import (
    ENVIRONMENT_GAP,
    FAILED_LOCALLY,
    HELD_FOR_REVIEW,
    IMAGE_MISSING,
    MISSING_TOOLCHAIN,
    gap_message,
    is_environment_gap,
    spares_the_containers,
)
from automation.registry.failures import cap_message
from automation.registry.results import ResultLine, read_results_file, write_result_lines

# The kit folder inside the payload: the installer core and every ecosystem's install.py, in the
# repository's relative layout (installer.kit_files).
KIT_DIR = "kit"
INSTALLER_IN_KIT = "containers/installer.py"
SMOKE_RECIPES_DIR = CONTAINERS_DIR / "smoke"
PAYLOAD_DIR = "/tmp/registry-automation"
PREFIX = "/opt/tsuku-validate"
# With --installer tsuku: where the binary is mounted (read-only) and tsuku's home.
TSUKU_IN_CONTAINER = "/run/registry-automation/tsuku"
TSUKU_HOME_IN_CONTAINER = f"{PREFIX}/tsuku-home"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The PATH of the images' own tools, after the mounted runtimes' bin folders.
CONTAINER_PATH = SYSTEM_PATH
CONTAINER_NETWORK_ENV = "AUTOMATION_CONTAINER_NETWORK"
RETRY_BACKOFF = (2.0, 4.0)
CONTAINER_ERROR = "container_error"


@dataclass(frozen=True, slots=True)
class Recipe:
    """A recipe file read on the host (the container gets it as JSON)."""

    name: str
    path: Path
    document: dict[str, Any]
    text: str = ""  # the file as written (what a tsuku binary reads)


def load_recipe(path: Path) -> Recipe:
    """Read a recipe TOML; DataError names the file when it is unreadable or unnamed."""
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"cannot read recipe: {exc}", path=str(path)) from None
    name = document.get("metadata", {}).get("name")
    try:
        check_recipe_name(name)
    except DataError as exc:
        raise DataError(exc.detail, path=str(path), where="metadata.name") from None
    return Recipe(str(name), path, document, text)


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
    installer: tsuku.Installer = tsuku.KIT_INSTALLER
    # tsuku's runtimes (pinned Node.js, Python): mounted read-only, first on the container's PATH.
    runtimes: tuple[ProvisionedRuntime, ...] = ()
    # The kit's endpoint overrides (``AUTOMATION_ENDPOINT_*``), forwarded into the container so
    # that the toolchains there use the same mirrors as the kit (see ``mirror_environment``).
    mirrors: tuple[tuple[str, str], ...] = ()
    # ``--network`` for validation containers (``AUTOMATION_CONTAINER_NETWORK``), e.g. ``host``
    # to reach a mirror on the host's loopback; None keeps the engine's default network.
    network: str | None = None
    # The shared download cache's host folder (``downloads.container_cache_dir``), mounted
    # read-write at ``CONTAINER_DOWNLOAD_CACHE``; None: each container downloads for itself.
    download_cache: Path | None = None
    # The install prefix on a fresh host folder bind-mounted at ``PREFIX`` (and the payload
    # mounted read-only instead of copied in) rather than in the container's own file system:
    # writing a tool's files through the image's overlay costs far more system time than
    # writing them to a plain folder (harbor, 119 packages, 322 MiB: 14 s against 1.8 s).
    prefix_on_host: bool = True

    def run_options(self) -> RunOptions:
        mounts = tuple(
            Mount(str(r.host_root), r.mount_point, read_only=True) for r in self.runtimes
        )
        env: tuple[tuple[str, str], ...] = (
            (("PATH", container_path(self.runtimes, CONTAINER_PATH)),) if self.runtimes else ()
        )
        if self.download_cache is not None:
            mounts += (Mount(str(self.download_cache), CONTAINER_DOWNLOAD_CACHE, read_only=False),)
            env += ((DOWNLOAD_CACHE_ENV, CONTAINER_DOWNLOAD_CACHE),)
        options = RunOptions(
            memory=self.memory,
            cpus=self.cpus,
            env=env + self.mirrors,
            mounts=mounts,
            network=self.network,
        )
        if self.installer.tsuku is not None:
            binary = Mount(self.installer.tsuku.path, TSUKU_IN_CONTAINER, read_only=True)
            options = options.with_mount(binary)
        return options.with_ca_bundle(self.ca_bundle) if self.ca_bundle else options

    def installer_args(self) -> list[str]:
        """Installer flags the runtimes add: the interpreter that makes virtual environments,
        and that its pip (the provisioned runtime has one) installs into them, as pipx's shared
        pip does: a venv bootstrapping its own pip costs about 4 s of CPU per recipe."""
        python = interpreter(self.runtimes, container=True)
        uv = tool_path(self.runtimes, "uv", container=True)
        return [
            *(["--python", python, "--reuse-host-tools"] if python else []),
            *(["--uv", uv] if uv else []),
        ]


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """One (recipe, environment) outcome in canonical terms; ``to_line`` is the stored form.

    ``installer_category`` keeps the installer's own word (``timeout``, ``missing_runtime``...)
    for reports; ``category``/``subcategory`` are what the result line and merge use.
    """

    recipe: str
    environment: str
    platform: str
    status: str
    category: str | None
    subcategory: str | None
    exit_code: int
    attempts: int
    message: str
    timestamp: str
    version: str = ""
    output: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    batch_id: str | None = None
    installer_category: str = ""
    installer: str | None = None  # the result line's field: None for the kit's own installer
    runtimes: tuple[dict[str, str], ...] = ()

    def to_result_line(self) -> ResultLine:
        wall = self.timings.get("wall")
        return ResultLine(
            recipe=self.recipe,
            environment=self.environment,
            platform=self.platform,
            status=self.status,
            category=self.category,
            subcategory=self.subcategory,
            exit_code=max(-255, min(255, self.exit_code)),
            attempts=self.attempts,
            message=cap_message(self.message),
            timestamp=self.timestamp,
            version=self.version or None,
            duration_seconds=round(wall, 3) if wall is not None else None,
            batch_id=self.batch_id,
            installer=self.installer,
            runtimes=self.runtimes,
        )

    def to_line(self) -> dict[str, Any]:
        return self.to_result_line().to_json()


def canonical_outcome(record: dict[str, Any], phase: str) -> tuple[str, str | None, str | None]:
    """Map an installer record onto a result line's (status, category, subcategory).

    The result-line schema admits only the canonical six categories, and a category only on a
    failure; see the table in the module docstring.
    """
    status = str(record.get("status") or installer.FAIL)
    raw = str(record.get("category") or "")
    sub = _subcategory(str(record.get("subcategory") or ""))
    if status == installer.PASS:
        return status, None, sub
    if status == installer.SKIPPED or raw == installer.UNSUPPORTED:
        return installer.SKIPPED, None, "unsupported_platform"
    if raw == CONTAINER_ERROR:
        return installer.SKIPPED, None, CONTAINER_ERROR
    if raw == installer.TIMEOUT:
        category = installer.VERIFY_FAILED if phase == "verify" else installer.INSTALL_FAILED
        return installer.FAIL, category, "timeout"
    if raw == installer.MISSING_RUNTIME:
        # The image lacks the toolchain (cargo, python3...): the environment's gap, no verdict.
        return installer.SKIPPED, None, MISSING_TOOLCHAIN
    if raw == ENVIRONMENT_GAP:
        return installer.SKIPPED, None, sub
    if raw == installer.NETWORK:
        return installer.FAIL, "network_error", sub or "connection_error"
    if raw == installer.VERIFY_FAILED:
        return installer.FAIL, "verify_failed", sub or "unclassified"
    text = f"{record.get('message') or ''}\n{record.get('output') or ''}"
    if installer.classify_output(text) == ("recipe_not_found", "package_not_found"):
        return installer.FAIL, "recipe_not_found", "package_not_found"
    return installer.FAIL, "install_failed", sub or "unclassified"


def _subcategory(value: str) -> str | None:
    # The schema wants ^[a-z0-9_]{1,64}$: "python3.11" (a missing tool) becomes "python3_11".
    cleaned = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_")[:64]
    return cleaned or None


def _message(record: dict[str, Any], note: str) -> str:
    """The installer's one-line message, then the tool's own output (what a human debugs with)."""
    message = str(record.get("message") or "")
    if note:
        message = f"{message} ({note})".strip()
    output = str(record.get("output") or "").strip()
    return f"{message}\n{output}" if output else message


def parse_installer_output(completed: Completed) -> dict[str, Any]:
    """The installer's JSON line, or a classified failure when there is none."""
    if completed.timed_out:
        return installer.result(
            installer.FAIL, installer.TIMEOUT, "container_exec", "no answer within the timeout"
        )
    lines = completed.stdout.strip().splitlines()
    rejected: Problem | None = None
    for number in range(len(lines), 0, -1):
        line = lines[number - 1]
        if line.startswith("{"):
            # What a container printed is data too: held to the bounds (nesting, int64).
            record, problem = loads(line, "installer output", f"line {number}")
            if problem is not None:
                rejected = rejected or problem
                continue
            if isinstance(record, dict) and "status" in record:
                return record
    if completed.returncode in (126, 127):
        return installer.result(
            installer.FAIL, installer.MISSING_RUNTIME, "python3", completed.tail(500)
        )
    detail = completed.tail(500)
    if rejected is not None:  # say why the result line was not used, before the output
        detail = f"{rejected.path} {rejected.where}: {rejected.message}\n{detail}"
    return installer.result(installer.FAIL, CONTAINER_ERROR, "no_result", detail, exit_code=-1)


def write_kit(folder: Path) -> None:
    """Copy the installer's kit folder (core + every ecosystem install.py) into ``folder``."""
    for relative, source in installer.kit_files():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def installer_path_in_container() -> str:
    """Where the installer core is once the payload is copied in."""
    return f"{PAYLOAD_DIR}/{KIT_DIR}/{INSTALLER_IN_KIT}"


def is_transient(record: dict[str, Any]) -> bool:
    # A TLS failure is a configuration problem (missing CA bundle), not worth retrying.
    return record.get("category") == installer.NETWORK and record.get("subcategory") != "tls_error"


def _attempt(
    recipe: Recipe, env: Environment, runtime: ContainerRuntime, options: ValidationOptions
) -> tuple[dict[str, Any], dict[str, float]]:
    timings: dict[str, float] = {}
    start = time.monotonic()
    # A folder a container wrote as another user (Docker's root, seen by a non-root host user)
    # may not be removable from here: the container clears it before it goes.
    with tempfile.TemporaryDirectory(prefix="ra-validate-", ignore_cleanup_errors=True) as tmp:
        payload = Path(tmp) / "payload"
        payload.mkdir()
        write_kit(payload / KIT_DIR)
        (payload / "recipe.json").write_text(json.dumps(recipe.document), encoding="utf-8")
        common = ["--platform", env.platform, "--prefix", PREFIX, *options.installer_args()]
        script = [env.python, installer_path_in_container()]
        recipe_arg = f"{PAYLOAD_DIR}/recipe.json"
        run_options = options.run_options()
        if options.prefix_on_host:
            scratch = Path(tmp) / "prefix"
            scratch.mkdir()
            run_options = run_options.with_mount(Mount(str(payload), PAYLOAD_DIR, read_only=True))
            run_options = run_options.with_mount(Mount(str(scratch), PREFIX, read_only=False))
        try:
            with container(
                runtime,
                env.image,
                run_options,
                name=new_container_name(recipe.name, env.id),
                clear_before_removal=(
                    (PREFIX,) if options.prefix_on_host and os.geteuid() != 0 else ()
                ),
            ) as name:
                timings["start"] = time.monotonic() - start
                if not options.prefix_on_host:
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
                record.setdefault("phase", "install")
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
                installed = parse_installer_output(install)
                record = parse_installer_output(checked)
                record.setdefault("phase", "verify")
                record.setdefault("runtimes", installed.get("runtimes") or [])
                if not record.get("version"):
                    record["version"] = str(installed.get("version") or "")
                if note:
                    record["note"] = note
                step = time.monotonic()
        except EngineError as exc:
            record = _engine_failure(exc, env, runtime)
            return record, timings
        timings["remove"] = time.monotonic() - step
        timings["total"] = time.monotonic() - start
    return record, timings


def _engine_failure(
    exc: EngineError, env: Environment, runtime: ContainerRuntime
) -> dict[str, Any]:
    """The record of a container the engine could not run: an environment gap when the
    validation image is gone (not the recipe's fault, and no retry brings it back), else a
    ``container_error`` (retried; a rerun of the batch tries again)."""
    if runtime.inspect_image(env.image) is None:
        message = gap_message(
            f"its validation image {env.image}",
            f"{exc} (run `{setup_hint([env.id])}` to build it)",
        )
        record = installer.result(installer.FAIL, ENVIRONMENT_GAP, IMAGE_MISSING, message)
    else:
        record = installer.result(installer.FAIL, CONTAINER_ERROR, "engine", str(exc), exit_code=-1)
    record["phase"] = "container"
    return record


def _tsuku_record(outcome: tsuku.Outcome, phase: str, version: str | None) -> dict[str, Any]:
    """A tsuku outcome in the record shape :func:`validate_one` reads (already canonical)."""
    return {
        "status": outcome.status,
        "category": outcome.category or "",
        "subcategory": outcome.subcategory or "",
        "exit_code": outcome.exit_code,
        "message": outcome.message,
        "output": "",
        "version": version or "",
        "phase": phase,
        "canonical": True,
    }


def _streams(completed: Completed) -> str:
    """stderr (tsuku's progress and errors), then stdout (its JSON error document)."""
    return "\n".join(part for part in (completed.stderr, completed.stdout) if part)


# The engine could not start the binary at all (seen from podman as exit 1 with the OCI
# runtime's message, from docker as 126/127): a setup problem, not the recipe's.
_EXEC_FAILED = re.compile(
    re.escape(TSUKU_IN_CONTAINER) + r"\S*: (no such file or directory|exec format error|"
    r"permission denied)",
    re.IGNORECASE,
)


def _not_runnable(completed: Completed) -> bool:
    if completed.timed_out or completed.ok:
        return False
    return completed.returncode in (126, 127) or (
        not completed.stdout.strip() and _EXEC_FAILED.search(completed.stderr) is not None
    )


def _attempt_tsuku(
    recipe: Recipe, env: Environment, runtime: ContainerRuntime, options: ValidationOptions
) -> tuple[dict[str, Any], dict[str, float]]:
    """One attempt through the mounted tsuku binary: install, cut the network, verify."""
    binary = options.installer.tsuku
    if binary is None:
        raise ValueError("_attempt_tsuku needs options.installer to be a tsuku binary")
    timings: dict[str, float] = {}
    start = time.monotonic()
    reason = tsuku.skip_reason(recipe.document, installer.Platform.parse(env.platform))
    if reason is not None:  # the kit's installer skips it too: no container needed
        skipped = tsuku.Outcome(installer.SKIPPED, None, "unsupported_platform", 0, reason)
        return _tsuku_record(skipped, "install", None), timings
    home = TSUKU_HOME_IN_CONTAINER
    recipe_file = f"{PAYLOAD_DIR}/recipes/{recipe.name}.toml"
    with tempfile.TemporaryDirectory(prefix="ra-validate-") as tmp:
        payload = Path(tmp) / "payload"
        (payload / "recipes").mkdir(parents=True)
        text = recipe.text or recipe.path.read_text(encoding="utf-8")
        (payload / "recipes" / f"{recipe.name}.toml").write_text(text, encoding="utf-8")
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
                    tsuku.install_command(TSUKU_IN_CONTAINER, recipe_file),
                    env=tsuku.quiet_env(home),
                    timeout=options.install_timeout,
                )
                timings["install_exec"] = time.monotonic() - step
                if _not_runnable(install):
                    raise EngineError(
                        f"{binary.label} cannot run in {env.image} "
                        f"(exit {install.returncode}): {install.tail(300)}"
                    )
                outcome = tsuku.classify_install(
                    install.returncode, _streams(install), timed_out=install.timed_out
                )
                state = runtime.exec(name, ["cat", f"{home}/state.json"], timeout=60)
                version = tsuku.installed_version(state.stdout, recipe.name) if state.ok else None
                if outcome.status != installer.PASS:
                    return _tsuku_record(outcome, "install", version), timings
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
                tree = tsuku.tool_dir(home, recipe.name, version or "")
                checks = tsuku.verify_checks(recipe.document, version or "", tree)
                path = f"{tsuku.current_dir(home)}:{tree}/bin:{SYSTEM_PATH}"
                runs = []
                for check in checks:
                    # `exec 2>&1` first: the whole command's stderr joins its output, in order.
                    done = runtime.exec(
                        name,
                        ["/bin/sh", "-c", "exec 2>&1\n" + check.command],
                        env={"PATH": path, "TSUKU_HOME": home},
                        workdir="/tmp",
                        timeout=options.verify_timeout,
                    )
                    runs.append((done.returncode, done.stdout + done.stderr, done.timed_out))
                timings["verify_exec"] = time.monotonic() - step
                verdict = tsuku.judge_verify(recipe.document, checks, runs, version)
                record = _tsuku_record(verdict, "verify", version)
                if note:
                    record["note"] = note
                step = time.monotonic()
        except EngineError as exc:
            record = _engine_failure(exc, env, runtime)
            return record, timings
        timings["remove"] = time.monotonic() - step
        timings["total"] = time.monotonic() - start
    return record, timings


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
    attempt = _attempt if options.installer.tsuku is None else _attempt_tsuku
    while attempts < options.max_attempts:
        attempts += 1
        record, timings = attempt(recipe, env, runtime, options)
        if not is_transient(record) or attempts >= options.max_attempts:
            break
        if stop is not None and stop.is_set():
            break
        sleep(options.backoff[min(attempts - 1, len(options.backoff) - 1)])
    timings["wall"] = time.monotonic() - wall
    if record.get("canonical"):  # read already (tsuku's outcome)
        status = str(record["status"])
        category = str(record.get("category") or "") or None
        subcategory = str(record.get("subcategory") or "") or None
    else:
        status, category, subcategory = canonical_outcome(record, str(record.get("phase") or ""))
    message = _message(record, str(record.get("note") or ""))
    if subcategory == MISSING_TOOLCHAIN:  # name the missing tool first (merge reports it)
        message = gap_message(str(record.get("subcategory") or "a toolchain"), message)
    return ValidationResult(
        recipe=recipe.name,
        environment=env.id,
        platform=env.platform,
        status=status,
        category=category,
        subcategory=subcategory,
        exit_code=int(record.get("exit_code", -1)),
        attempts=attempts,
        message=message,
        timestamp=format_timestamp(now()),
        version=str(record.get("version") or ""),
        output=str(record.get("output") or ""),
        timings={k: round(v, 2) for k, v in timings.items()},
        batch_id=options.batch_id,
        installer_category=str(record.get("category") or ""),
        installer=options.installer.result_field,
        runtimes=tuple(annotate(_records(record.get("runtimes")), options.runtimes)),
    )


def _records(value: Any) -> list[dict[str, Any]]:
    """The installer's runtime records, ignoring anything that is not one (container output)."""
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


_RESULTS_WRITE = threading.Lock()


def validate_in_environment(
    recipes: Sequence[Recipe],
    env: Environment,
    runtime: ContainerRuntime,
    *,
    layout: RegistryLayout,
    options: ValidationOptions,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    guard: Callable[[str], None] | None = None,
    progress: Callable[[ValidationResult], None] | None = None,
    on_stop: Callable[[str], None] | None = None,
    not_tried: Mapping[str, ResultLine] | None = None,
    wait_for: LocalFeed | None = None,
    review_gate: ReviewGate | None = None,
    local_lines: Mapping[str, ResultLine] | None = None,
) -> list[ValidationResult]:
    """Validate each recipe in ``env``; append each result line as soon as it is known.

    ``review_gate`` (with the recipe's passing ``local`` line, from ``wait_for`` or
    ``local_lines``): a recipe it holds for review gets a ``held_for_review`` line without a
    container (:func:`held_result`): merge holds it whatever these environments would say.

    A recipe in ``not_tried`` (its failing local line) gets a ``failed_locally`` line without
    a container, when that failure is on ``env``'s os, libc and architecture.

    ``wait_for`` (local validation running at the same time): before each recipe, wait for
    its ``local`` line, then read the recipe again (local wrote the ``[verify]`` it found). A
    recipe local never got to (it stopped) is left for a rerun; with ``skip_failed_locally``
    on the feed, a package-level local failure is not tried.

    ``guard(recipe_name)`` runs before each recipe and may raise StoppedError (emergency stop,
    open breaker): the recipes done so far keep their lines; with ``on_stop`` the error is handed
    to it and the results so far are returned instead of raised.
    """
    results_file = layout.results_file(options.batch_id, env.id)
    rel = _rel(layout, results_file)
    results = []
    for recipe in recipes:
        if stop is not None and stop.is_set():
            break
        if guard is not None:
            try:
                guard(recipe.name)
            except StoppedError as exc:
                if on_stop is None:
                    raise
                on_stop(str(exc))  # keep the lines written so far; take no new work
                break
        local = (not_tried or {}).get(recipe.name)
        line = (local_lines or {}).get(recipe.name)
        if wait_for is not None:
            seen, line = wait_for.wait(recipe.name)
            if not seen:
                continue  # local stopped before it: no line here either, a rerun does both
            recipe = load_recipe(recipe.path)  # with the [verify] local discovered
            if (
                wait_for.skip_failed_locally
                and line is not None
                and spares_the_containers(line.status, line.category, line.subcategory)
            ):
                local = line
        if stop is not None and stop.is_set():
            break
        skipped = None if local is None else not_tried_result(recipe.name, env, local, options)
        if skipped is None and review_gate is not None and line is not None:
            skipped = held_result(recipe, env, line, review_gate, options)
        outcome = skipped or validate_one(recipe, env, runtime, options, sleep=sleep, stop=stop)
        with _RESULTS_WRITE:  # shards of one environment append to the same file
            write_result_lines(results_file, [outcome.to_result_line()], rel=rel)
        results.append(outcome)
        if progress is not None:
            progress(outcome)
    return results


def _rel(layout: RegistryLayout, path: Path) -> str:
    try:
        return str(path.relative_to(layout.root))
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Every result of one validation run."""

    batch_id: str
    engine: str
    results: tuple[ValidationResult, ...]
    files: tuple[str, ...]
    interrupted: bool = False
    stopped: str | None = None
    environments: tuple[str, ...] = ()
    already_done: int = 0
    seconds: float = 0.0
    installer: tsuku.Installer = tsuku.KIT_INSTALLER

    @property
    def environment(self) -> str:
        return ", ".join(self.environments) or "-"

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted or self.stopped:
            return ExitCode.STOPPED
        # A container error is a skip for merge, but the run did not do its job: partial.
        ok = all(
            r.status == installer.PASS
            or (r.status == installer.SKIPPED and r.subcategory != CONTAINER_ERROR)
            for r in self.results
        )
        return ExitCode.OK if ok else ExitCode.PARTIAL

    def to_json(self) -> dict[str, Any]:
        per_env: dict[str, list[float]] = {}
        for r in self.results:
            per_env.setdefault(r.environment, []).append(r.timings.get("wall", 0.0))
        return {
            "batch_id": self.batch_id,
            "engine": self.engine,
            "installer": self.installer.to_json(),
            "environments": list(self.environments),
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "already_done": self.already_done,
            "seconds": round(self.seconds, 2),
            "seconds_per_recipe": {
                env: round(sum(walls) / len(walls), 2) for env, walls in sorted(per_env.items())
            },
            "results_files": list(self.files),
            "results": [
                {**r.to_line(), "installer_category": r.installer_category, "timings": r.timings}
                for r in self.results
            ],
            "summary": {
                status: sum(1 for r in self.results if r.status == status)
                for status in (installer.PASS, installer.FAIL, installer.SKIPPED)
            },
        }

    def to_text(self) -> str:
        through = "" if self.installer.tsuku is None else f"; {self.installer.label}"
        lines = [f"batch {self.batch_id} ({self.engine}; {self.environment}{through})"]
        for r in self.results:
            what = (r.category or "") + (f"/{r.subcategory}" if r.subcategory else "")
            lines.append(
                f"  {r.environment:<14} {r.recipe:<20} {r.status:<7} {what or '-':<28} "
                f"v{r.version or '?'}  {r.timings.get('wall', 0):.1f}s  attempts={r.attempts}"
            )
            if (
                r.status == installer.FAIL
                or r.subcategory == CONTAINER_ERROR
                or is_environment_gap(r.status, r.subcategory)
            ):
                lines.append(f"      {r.message[:300]}")
        if self.already_done:
            lines.append(f"  {self.already_done} (recipe, environment) pairs already had a result")
        lines += [f"  results: {path}" for path in self.files]
        if self.interrupted:
            lines.append("  interrupted: remaining recipes were not validated")
        if self.stopped:
            lines.append(f"  stopped: {self.stopped}")
        return "\n".join(lines)


def validate_batch(
    recipes: Sequence[Recipe],
    environments: Sequence[Environment],
    runtime: ContainerRuntime,
    *,
    layout: RegistryLayout,
    options: ValidationOptions,
    jobs: int = 2,
    done: Mapping[str, AbstractSet[str]] | None = None,
    guard: Callable[[str], None] | None = None,
    progress: Callable[[ValidationResult], None] | None = None,
    not_tried: Mapping[str, ResultLine] | None = None,
    wait_for: LocalFeed | None = None,
    stop: threading.Event | None = None,
    review_gate: ReviewGate | None = None,
    local_lines: Mapping[str, ResultLine] | None = None,
    per_environment: int = 1,
) -> ValidationReport:
    """Run the environments side by side (``jobs`` at a time); Ctrl-C stops after cleanup.

    ``per_environment``: containers of one environment that run at the same time, each on
    every ``per_environment``-th recipe (an install mostly waits on the network).

    ``done`` maps an environment id to the recipes it already has a line for (a resumed batch).
    ``not_tried`` maps a recipe to its failing ``local`` line: it gets a ``failed_locally``
    line instead of a container (:func:`not_tried_result`). ``wait_for``: local validation
    runs meanwhile (:class:`LocalFeed`). ``stop``: set by the caller to take no new work.
    """
    stop = stop or threading.Event()
    interrupted = False
    stop_reasons: list[str] = []

    def on_stop(reason: str) -> None:
        stop_reasons.append(reason)
        stop.set()  # the other environments finish their current recipe only

    started = time.monotonic()
    results: list[ValidationResult] = []
    done = done or {}
    skipped = 0
    plans = []
    shards = max(1, per_environment)
    for env in environments:
        todo = [r for r in recipes if r.name not in done.get(env.id, set())]
        skipped += len(recipes) - len(todo)
        plans += [(env, todo[shard::shards]) for shard in range(shards) if todo[shard::shards]]
    with ThreadPoolExecutor(max_workers=max(1, jobs) * shards) as pool:
        futures = [
            pool.submit(
                validate_in_environment,
                todo,
                env,
                runtime,
                layout=layout,
                options=options,
                stop=stop,
                guard=guard,
                progress=progress,
                on_stop=on_stop,
                not_tried=not_tried,
                wait_for=wait_for,
                review_gate=review_gate,
                local_lines=local_lines,
            )
            for env, todo in plans
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
        options.batch_id,
        runtime.executable,
        tuple(results),
        files,
        interrupted,
        stop_reasons[0] if stop_reasons else None,
        tuple(env.id for env in environments),
        skipped,
        time.monotonic() - started,
        options.installer,
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
    reason: str = ""  # why it was built (missing, fingerprint changed...) or that it was current
    fingerprint: str = ""


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
            f"{'(exists) ' if r.skipped else ''}{r.image} <- {r.base_image} "
            f"{'' if r.skipped or not r.reason else f'[{r.reason}] '}{r.message}".rstrip()
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
        "reason": r.reason,
        "fingerprint": r.fingerprint,
    }


def image_spec(env: Environment, *, local: bool) -> ImageSpec:
    """What ``env``'s validation image is built from (``local``: on the bootstrapped base)."""
    base = env.base_image_for(local=local)
    return ImageSpec(
        name=env.id,
        tag=env.image,
        dockerfile=env.dockerfile,
        context=CONTAINERS_DIR,
        base_image=base,
        local=local,
        build_args=(("BASE_IMAGE", base),) if local else (),
    )


def build_images(
    environments: Iterable[Environment],
    runtime: ContainerRuntime,
    *,
    rebuild: bool = False,
    log: Log = log_stderr,
) -> BuildReport:
    """Build each validation image whose fingerprint label is not current (see images.py).

    The base is the locally bootstrapped image when the engine has it (no registry needed),
    otherwise the pinned upstream image from the Dockerfile's default (hosted CI). Why an image
    is (re)built goes to ``log`` (stderr) and into the report.
    """
    results = []
    for env in environments:
        base_info = (
            None
            if env.local_bootstrap is None
            else runtime.inspect_image(env.local_bootstrap.image)
        )
        spec = image_spec(env, local=base_info is not None)
        base_id = None if base_info is None else base_info.id
        ensured = ensure_image(runtime, spec, rebuild=rebuild, base_id=base_id, log=log)
        done = ensured.completed
        results.append(
            BuildResult(
                env.id,
                env.image,
                spec.base_image,
                ensured.ok,
                0.0 if done is None else done.duration,
                not ensured.built,
                "" if done is None or done.ok else done.tail(800),
                ensured.reason,
                ensured.check.fingerprint,
            )
        )
    return BuildReport(tuple(results))


# --- entry points -----------------------------------------------------------------------------


def default_batch_id() -> str:
    return "containers-" + format_filename_stamp(now()).lower()


ALL_LOCAL = "all-local"


def resolve_environment_ids(
    ids: Sequence[str], runtime: ContainerRuntime | None = None
) -> tuple[tuple[Environment, ...], tuple[str, ...]]:
    """The environments ``ids`` name, and the ones ``all-local`` had to leave out (with why).

    ``all-local`` means every environment this machine can bootstrap (not hosted-CI only) whose
    validation image is built; the others are reported, never silently dropped.
    """
    wanted: list[str] = []
    left_out: list[str] = []
    for env_id in ids or DEFAULT_LOCAL_ENVIRONMENTS:
        if env_id != ALL_LOCAL:
            wanted.append(env_id)
            continue
        for env in load_environments():
            if env.hosted_only or env.local_bootstrap is None:
                left_out.append(f"{env.id}: hosted CI only")
            elif runtime is not None and not runtime.image_exists(env.image):
                left_out.append(f"{env.id}: {env.image} not built ({setup_hint([env.id])})")
            else:
                wanted.append(env.id)
    unique = list(dict.fromkeys(wanted))
    if not unique:
        raise UsageError("no environment to validate in: " + "; ".join(left_out))
    return select_environments(unique), tuple(left_out)


def setup_hint(env_ids: Sequence[str]) -> str:
    """The command that bootstraps and builds these environments' images on this machine."""
    return f"make setup-containers ENVS={' '.join(env_ids)}"


def _not_set_up(envs: Sequence[Environment], runtime: ContainerRuntime) -> list[Environment]:
    """Environments whose validation image this engine does not have, nor its local base."""
    return [
        env
        for env in envs
        if runtime.inspect_image(env.image) is None
        and (
            env.local_bootstrap is None or runtime.inspect_image(env.local_bootstrap.image) is None
        )
    ]


def _ready_runtime(
    envs: Sequence[Environment], runtime: ContainerRuntime | None, engine: str | None, build: bool
) -> ContainerRuntime:
    """The engine, with every environment's validation image built (``build``) or present.

    An image this machine never built is a setup step, not an engine failure: the error names
    the command (``make setup-containers ENVS=...``) rather than the engine's pull output.
    """
    runtime = runtime or detect_runtime(prefer=engine)
    if not build:
        absent = [env.id for env in envs if runtime.inspect_image(env.image) is None]
        if absent:
            raise UsageError(
                f"validation image not built for {', '.join(absent)}: "
                f"run `{setup_hint(absent)}` first"
            )
        return runtime
    # Asked before building: a failed build from upstream (no local base) is then a setup step.
    not_set_up = {env.id for env in _not_set_up(envs, runtime)}
    built = build_images(envs, runtime)
    failed = [r for r in built.results if not r.ok]
    unbuilt = [r for r in failed if r.environment in not_set_up]
    if unbuilt:
        ids = [r.environment for r in unbuilt]
        # Not the engine's pull output: with no base image here, the fix is the setup step.
        raise UsageError(
            f"validation image not built for {', '.join(ids)} (no local base image either, and "
            f"the engine could not build it from upstream): run `{setup_hint(ids)}` first"
        )
    if failed:
        raise EngineError(f"image build failed for {failed[0].environment}: {failed[0].message}")
    return runtime


def _options(
    batch_id: str,
    ca_bundle: bool,
    isolate_verify: bool = True,
    installer: tsuku.Installer = tsuku.KIT_INSTALLER,
    runtimes: tuple[ProvisionedRuntime, ...] = (),
    engine: str = "",
) -> ValidationOptions:
    """``engine``: the container engine's executable (who owns what a container writes into
    the shared download cache, :func:`container_cache_dir`)."""
    bundle = DEFAULT_CA_BUNDLE if ca_bundle and DEFAULT_CA_BUNDLE.is_file() else None
    return ValidationOptions(
        download_cache=container_cache_dir(download_cache_dir(), engine),
        batch_id=check_recipe_name(batch_id),
        ca_bundle=bundle,
        isolate_verify=isolate_verify,
        installer=installer,
        runtimes=runtimes,
        mirrors=mirror_environment(),
        network=container_network(),
    )


def mirror_environment(env: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """The ``AUTOMATION_ENDPOINT_*`` variables of the kit's environment, sorted by name, and
    the toolchains' own mirror settings the install modules declare (``installer.PASS_ENV``:
    which private modules skip a checksum database, ...).

    The installer in the container reads them the way the kit does: a toolchain action points
    its package manager at the configured endpoint (cargo source replacement, ``GOPROXY``, gem
    and cpanm sources, pip's index, npm's registry) instead of the public registry.
    """
    source = os.environ if env is None else env
    passed = set(installer.PASS_ENV)
    return tuple(
        sorted(
            (k, v) for k, v in source.items() if k.startswith(ENDPOINT_ENV_PREFIX) or k in passed
        )
    )


def container_network(env: Mapping[str, str] | None = None) -> str | None:
    """``--network`` for validation containers from ``AUTOMATION_CONTAINER_NETWORK``."""
    value = (os.environ if env is None else env).get(CONTAINER_NETWORK_ENV, "").strip()
    if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", value):
        raise UsageError(f"{CONTAINER_NETWORK_ENV}={value!r} is not a network name")
    return value or None


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
    installer: tsuku.Installer = tsuku.KIT_INSTALLER,
) -> ValidationReport:
    """The front doors' one call: pick engine, environments and recipes, build, validate
    (``installer``: the kit's own, or a tsuku binary mounted into each container)."""
    from automation.registry.control import check_allowed_now

    layout = RegistryLayout.at(root)
    check_allowed_now(layout, None)  # emergency stop: exit 5 before engines and images
    paths = [Path(p) for p in recipe_paths] or sorted(SMOKE_RECIPES_DIR.glob("*.toml"))
    if not paths:
        raise UsageError("no recipes given (--recipe PATH)")
    recipes = [load_recipe(p) for p in paths]
    runtime = runtime or detect_runtime(prefer=engine)
    envs, _ = resolve_environment_ids(environment_ids, runtime)
    runtime = _ready_runtime(envs, runtime, engine, build)
    runtimes = runtimes_for(ecosystems_in(r.document for r in recipes))
    options = _options(
        batch_id or default_batch_id(),
        ca_bundle,
        isolate_verify,
        installer,
        runtimes,
        runtime.executable,
    )
    return validate_batch(
        recipes,
        envs,
        runtime,
        layout=layout,
        options=options,
        jobs=jobs,
        guard=lambda eco: check_allowed_now(layout, eco),  # and before each recipe
    )


def recipes_with_results(
    layout: RegistryLayout,
    batch_id: str,
    environment: str,
    *,
    count_not_tried: bool = True,
    count_held: bool = True,
) -> set[str]:
    """Recipes that already have a usable line for ``environment`` in this batch.

    A ``container_error`` line does not count: the engine failed, so a rerun tries again; nor
    does an environment gap (a toolchain or the image missing): a rerun after setting the
    environment up checks the recipe. A ``failed_locally`` line (not tried) counts only with
    ``count_not_tried``: a run that does not skip local failures tries those recipes; a
    ``held_for_review`` line counts only with ``count_held`` (a run without a review gate
    tries it).
    """
    path = layout.results_file(batch_id, environment)
    if not path.exists():
        return set()
    scan = read_results_file(path, rel=_rel(layout, path))
    return {
        line.recipe
        for line in scan.lines
        if line.subcategory != CONTAINER_ERROR
        and not is_environment_gap(line.status, line.subcategory)
        and (count_not_tried or line.subcategory != FAILED_LOCALLY)
        and (count_held or line.subcategory != HELD_FOR_REVIEW)
    }


LOCAL_ENVIRONMENT = "local"


class LocalFeed:
    """The ``local`` lines of a batch as local validation writes them, for container workers
    that run at the same time (``validate_matrix`` overlaps the two: local's one process
    leaves the second core idle otherwise).

    ``wait(name)`` blocks until ``name`` has a local line (``(True, line)``) or local has
    finished without one (``(False, None)``: it stopped). Lines already in the results file
    count from the start. ``skip_failed_locally``: the workers do not install a recipe whose
    local line is a package-level failure or a timeout (``spares_the_containers``).
    """

    def __init__(
        self, existing: Mapping[str, ResultLine] | None = None, *, skip_failed_locally: bool
    ) -> None:
        self._lines: dict[str, ResultLine] = dict(existing or {})
        self._finished = False
        self._changed = threading.Condition()
        self.skip_failed_locally = skip_failed_locally

    @classmethod
    def of_batch(
        cls, layout: RegistryLayout, batch_id: str, *, skip_failed_locally: bool
    ) -> LocalFeed:
        """A feed that already holds the batch's local lines (a resumed batch)."""
        path = layout.results_file(batch_id, LOCAL_ENVIRONMENT)
        existing = (
            {line.recipe: line for line in read_results_file(path).latest().values()}
            if path.exists()
            else {}
        )
        return cls(existing, skip_failed_locally=skip_failed_locally)

    def add(self, line: ResultLine) -> None:
        """Local wrote ``line`` (after rewriting the staged recipe's [verify])."""
        with self._changed:
            self._lines[line.recipe] = line
            self._changed.notify_all()

    def finish(self) -> None:
        """Local is done (or stopped, or interrupted): nobody waits any longer."""
        with self._changed:
            self._finished = True
            self._changed.notify_all()

    def wait(self, name: str) -> tuple[bool, ResultLine | None]:
        with self._changed:
            self._changed.wait_for(lambda: name in self._lines or self._finished)
            line = self._lines.get(name)
            return line is not None, line


def _same_platform(a: str, b: str) -> bool:
    """Same os, libc and architecture (the distribution family may differ: what failed to
    install on one glibc x86_64 Linux fails on another for package-level causes)."""
    try:
        left, right = installer.Platform.parse(a), installer.Platform.parse(b)
    except ValueError:
        return False
    return (left.os, left.libc, left.arch) == (right.os, right.libc, right.arch)


def failed_locally(layout: RegistryLayout, batch_id: str) -> dict[str, ResultLine]:
    """The batch's recipes whose latest ``local`` line spares the containers (a package-level
    failure or a timeout: :func:`~automation.registry.failure_codes.spares_the_containers`),
    with that line."""
    return {
        name: line
        for name, line in latest_local_lines(layout, batch_id).items()
        if spares_the_containers(line.status, line.category, line.subcategory)
    }


def not_tried_result(
    recipe: str, env: Environment, local: ResultLine, options: ValidationOptions
) -> ValidationResult | None:
    """The ``skipped``/``failed_locally`` result of a recipe that failed locally, or None when
    the local failure says nothing about ``env`` (another os, libc or architecture)."""
    if not _same_platform(local.platform, env.platform):
        return None
    code = "/".join(part for part in (local.category, local.subcategory) if part)
    first = next((ln.strip() for ln in local.message.splitlines() if ln.strip()), "")
    message = f"not tried in {env.id}: failed in local validation ({code})"
    message = f"{message}: {first[:300]}" if first else message
    return _untried_result(recipe, env, FAILED_LOCALLY, message, local, options)


def _untried_result(
    recipe: str,
    env: Environment,
    subcategory: str,
    message: str,
    local: ResultLine,
    options: ValidationOptions,
) -> ValidationResult:
    """A ``skipped`` line for a recipe ``env`` did not install because of its ``local`` line."""
    return ValidationResult(
        recipe=recipe,
        environment=env.id,
        platform=env.platform,
        status=installer.SKIPPED,
        category=None,
        subcategory=subcategory,
        exit_code=0,
        attempts=0,
        message=message,
        timestamp=format_timestamp(now()),
        version=local.version or "",
        timings={"wall": 0.0},
        batch_id=options.batch_id,
        installer_category=subcategory,
        installer=options.installer.result_field,
    )


# What holds a recipe for review whatever the environments say: its reasons, or none.
ReviewGate = Callable[[Recipe], Sequence[str]]


def held_result(
    recipe: Recipe,
    env: Environment,
    local: ResultLine,
    review_gate: ReviewGate,
    options: ValidationOptions,
) -> ValidationResult | None:
    """The ``skipped``/``held_for_review`` result of a recipe that passed ``local`` but that
    ``review_gate`` holds for review, or None (not held, or local did not pass). The reviewer
    validates it in the containers before merging it by hand (``invoke validate-containers``)."""
    if local.status != installer.PASS:
        return None
    reasons = list(review_gate(recipe))
    if not reasons:
        return None
    message = f"not tried in {env.id}: passed local validation, held for review: "
    message = cap_message(message + "; ".join(reasons))
    return _untried_result(recipe.name, env, HELD_FOR_REVIEW, message, local, options)


def validate_batch_in_environments(
    layout: RegistryLayout,
    batch_id: str,
    environment_ids: Sequence[str],
    *,
    runtime: ContainerRuntime | None = None,
    jobs: int = 2,
    build: bool = True,
    ca_bundle: bool = True,
    guard: Callable[[str], None] | None = None,
    progress: Callable[[ValidationResult], None] | None = None,
    installer: tsuku.Installer = tsuku.KIT_INSTALLER,
    skip_failed_locally: bool = False,
    wait_for: LocalFeed | None = None,
    stop: threading.Event | None = None,
    review_gate: ReviewGate | None = None,
    per_environment: int = 1,
) -> ValidationReport:
    """Validate a staged batch's generated recipes in container environments (pipeline use).

    ``environment_ids`` may contain ``all-local``. Environments run side by side, at most
    ``jobs`` at a time (each container gets one CPU). Recipes that already have a line in
    ``data/results/<batch>/<environment>.jsonl`` are skipped, so an interrupted run resumes.
    ``guard(ecosystem)`` is asked before each recipe (emergency stop, circuit breaker).
    ``skip_failed_locally``: a recipe whose ``local`` line is a package-level failure or a
    timeout is not installed again; each environment of the same os, libc and architecture gets a
    ``skipped``/``failed_locally`` line saying so (without it, such lines from an earlier run
    do not count as done: the recipe is tried). ``wait_for``: local validation runs at the
    same time; each recipe waits for its local line (:class:`LocalFeed`, whose own
    ``skip_failed_locally`` then decides). ``stop``: the caller's signal to take no new work.
    ``review_gate``: a recipe that passed locally and that it holds for review is not
    installed; each environment gets a ``skipped``/``held_for_review`` line (:func:`held_result`).
    ``per_environment``: containers of one environment at a time (:func:`validate_batch`).
    """
    from automation.ecosystems import split_source
    from automation.registry.staging import (
        Staging,  # the pipeline's staging area, owned by automation.registry.staging
    )

    staging = Staging(layout, batch_id)
    if not staging.exists():
        raise UsageError(f"no batch {batch_id!r}")
    generated = staging.generated()
    ecosystem_of = {o.name: split_source(o.source)[0] for o in generated}
    runtime = runtime or detect_runtime()
    envs, _left_out = resolve_environment_ids(environment_ids, runtime)
    done = {
        env.id: recipes_with_results(
            layout,
            batch_id,
            env.id,
            count_not_tried=skip_failed_locally,
            count_held=review_gate is not None,
        )
        for env in envs
    }
    needed = {o.name for o in generated if any(o.name not in done[e.id] for e in envs)}
    recipes = [load_recipe(staging.recipe_path(o.name)) for o in generated if o.name in needed]
    if not recipes:
        files = tuple(str(layout.results_file(batch_id, env.id)) for env in envs)
        already = sum(len(d) for d in done.values())
        return ValidationReport(
            batch_id,
            runtime.executable,
            (),
            files,
            environments=tuple(e.id for e in envs),
            already_done=already,
            installer=installer,
        )
    runtime = _ready_runtime(envs, runtime, None, build)
    runtimes = runtimes_for(ecosystems_in(r.document for r in recipes))
    return validate_batch(
        recipes,
        envs,
        runtime,
        layout=layout,
        options=_options(
            batch_id,
            ca_bundle,
            installer=installer,
            runtimes=runtimes,
            engine=runtime.executable,
        ),
        jobs=jobs,
        done=done,
        guard=None if guard is None else (lambda name: guard(ecosystem_of.get(name, ""))),
        progress=progress,
        not_tried=(
            failed_locally(layout, batch_id) if skip_failed_locally and wait_for is None else None
        ),
        wait_for=wait_for,
        stop=stop,
        review_gate=review_gate,
        local_lines=(
            latest_local_lines(layout, batch_id)
            if review_gate is not None and wait_for is None
            else None
        ),
        per_environment=per_environment,
    )


def latest_local_lines(layout: RegistryLayout, batch_id: str) -> dict[str, ResultLine]:
    """The batch's latest ``local`` line per recipe (none before local validation ran)."""
    path = layout.results_file(batch_id, LOCAL_ENVIRONMENT)
    if not path.exists():
        return {}
    scan = read_results_file(path, rel=_rel(layout, path))
    return {line.recipe: line for line in scan.latest().values()}


def validate_batch_in_environment(
    layout: RegistryLayout,
    batch_id: str,
    environment: str,
    *,
    runtime: ContainerRuntime | None = None,
) -> ValidationReport:
    """One environment's share of :func:`validate_batch_in_environments`."""
    return validate_batch_in_environments(layout, batch_id, [environment], runtime=runtime)


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
    parser.add_argument(
        "--installer", default=None, help="kit (default: the kit's own installer) or tsuku"
    )
    parser.add_argument(
        "--tsuku-bin", default=None, help="the tsuku binary for --installer tsuku (or TSUKU_BIN)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        chosen = tsuku.select_installer(args.installer, args.tsuku_bin)
        report = run_validation(
            root=args.root,
            environment_ids=args.environments,
            recipe_paths=args.recipe,
            batch_id=args.batch_id,
            engine=args.engine,
            ca_bundle=not args.no_ca_bundle,
            build=not args.no_build,
            jobs=args.jobs,
            installer=chosen,
        )
    except AutomationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
    return int(report.exit_code)


if __name__ == "__main__":
    sys.exit(main())
