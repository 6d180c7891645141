"""Local validation: install a recipe into a throwaway prefix on this machine, run it, record.

The install runs the same installer code as the validation containers
(``automation/containers/installer.py`` and the ecosystems' ``install.py`` actions), in this
process, with every command going through the kit's one process runner (tests inject a fake).
Only the actions the install modules declare local (``LOCAL_ACTIONS``: the ones that need nothing
but a language runtime and install below a throwaway prefix) run here; the others are skipped.
The verify command runs with a timeout; the version pattern written into the recipe comes from
what the tool really printed.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from automation.containers import installer, tsuku
from automation.containers.downloads import local_environment
from automation.containers.runtimes import (
    ProvisionedRuntime,
    annotate,
    host_path,
    interpreter,
    tool_path,
)
from automation.core.errors import DataError
from automation.core.hostplatform import host_platform
from automation.core.process import Completed, run_process
from automation.registry.failure_codes import (
    ENVIRONMENT_GAP,
    MISSING_TOOLCHAIN,
    canonical,
    gap_message,
)

# Output fragments that mean the network, not the package, failed: only these are retried.
TRANSIENT = re.compile(
    r"ETIMEDOUT|ECONNRESET|EAI_AGAIN|ENOTFOUND|ECONNREFUSED|socket hang up|"
    r"Temporary failure in name resolution|Connection reset|Read timed out|"
    r"ConnectTimeoutError|NewConnectionError|RemoteDisconnected|HTTP error 5\d\d|"
    r" 503 | 502 | 429 |Too Many Requests",
    re.IGNORECASE,
)
VERSION_FLAGS = ("--version", "-V", "version", "-v")
# Last resort for tools without a version flag: a clean exit on help is an exit-status check.
HELP_FLAGS = ("--help", "-h")

# argv, environment, working directory, timeout -> what the process did (tests pass a fake).
Runner = Callable[[Sequence[str], Mapping[str, str], str, float], Completed]

__all__ = [
    "Completed",
    "LocalResult",
    "LocalValidator",
    "Runner",
    "TsukuValidator",
    "apply_verify",
    "run_process",
]


@dataclass(frozen=True, slots=True)
class LocalResult:
    """What validating one recipe on this machine found."""

    status: str  # pass | fail | skipped
    # A category only on a fail (the results-line schema admits none on a pass or a skip); a skip
    # says why in ``subcategory`` (``unsupported_action``) and ``message``.
    category: str | None
    subcategory: str
    exit_code: int
    attempts: int
    message: str
    version: str | None
    verify_command: str | None
    verify_pattern: str | None
    seconds: float
    install_seconds: float
    # The runtimes the install ran on ({"name", "version", "build"}), as result lines record them.
    runtimes: tuple[dict[str, str], ...] = ()


def version_pattern(output: str, version: str) -> str | None:
    """The ``[verify] pattern`` for ``output``: ``{version}``, ``v{version}``, or None if absent."""
    if not version:
        return None
    for match in re.finditer(re.escape(version), output):
        before = output[match.start() - 1] if match.start() else ""
        after = output[match.end()] if match.end() < len(output) else ""
        if after.isdigit() or (
            after == "." and output[match.end() + 1 : match.end() + 2].isdigit()
        ):
            continue  # 1.2 inside 1.23 or 1.2.3 is not the version
        if before.isdigit() or before == ".":
            continue
        return "v{version}" if before == "v" else "{version}"
    return None


def _install_env(
    home: Path,
    bin_dir: Path,
    extra: Mapping[str, str] | None = None,
    runtimes: Sequence[ProvisionedRuntime] = (),
) -> dict[str, str]:
    base = host_path(runtimes, os.environ.get("PATH", "/usr/bin:/bin"))
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{base}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "NO_UPDATE_NOTIFIER": "1",
        "NPM_CONFIG_UPDATE_NOTIFIER": "false",
        "NPM_CONFIG_FUND": "false",
        "NPM_CONFIG_AUDIT": "false",
        "CI": "true",
    }
    # Proxy and CA settings pass through (TLS-intercepting proxies are a real user setup).
    for key in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "no_proxy",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "PIP_CERT",
        "NODE_EXTRA_CA_CERTS",
        "PIP_INDEX_URL",
        "NPM_CONFIG_REGISTRY",
    ):
        if key in os.environ:
            env[key] = os.environ[key]
    # The kit's endpoint overrides and the toolchains' own mirror settings the install modules
    # declare (``installer.PASS_ENV``): the actions point their package managers at the same
    # mirrors as the kit, as they do in the containers (``mirror_environment``).
    for key, value in os.environ.items():
        if key.startswith(installer.ENDPOINT_ENV) or key in installer.PASS_ENV:
            env[key] = value
    env.update(extra or {})
    return env


def _install_step(recipe: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for step in recipe.get("steps", []):
        if step.get("action") in installer.LOCAL_ACTIONS:
            return step  # type: ignore[no-any-return]
    return None


def _classify_install(done: Completed) -> tuple[str, str]:
    if done.timed_out:
        return "install_failed", "timeout"
    if TRANSIENT.search(done.output):
        return "network_error", "transient_network"
    # Each ecosystem's install module says what its package manager's output means.
    return installer.classify_output(done.output) or ("install_failed", "package_manager_error")


def _local_platform() -> installer.Platform:
    text = host_platform()
    try:
        return installer.Platform.parse(text)
    except ValueError:  # an architecture the installer has no name for: actions only log it
        os_name, _, arch = text.partition("-")
        return installer.Platform(os_name, arch.rsplit("-", 1)[-1])


@dataclass(frozen=True, slots=True)
class _Installed:
    """What the installer did with the step: a failure as (category, subcategory, exit code,
    message), or None; plus where the executables are and the version it saw."""

    failure: tuple[str, str, int, str] | None
    bin_dir: Path
    version: str | None
    runtimes: tuple[dict[str, str], ...] = ()


def _failure_outcome(exc: installer.StepFailure) -> tuple[str, str, int, str]:
    """The result-line reading of an installer failure, in local validation's words."""
    if isinstance(exc, installer.MissingExecutables):
        # The package installed, its executables did not all appear: a verify failure here,
        # reported with what is there (the words failure records of local runs have always had).
        return (
            "verify_failed",
            "missing_executable",
            1,
            f"declared executables not installed: {exc.missing}; installed: {exc.present}",
        )
    if exc.category == installer.MISSING_RUNTIME:
        # This machine lacks the toolchain (cargo, go, npm...): a gap of the environment, not
        # the package's failure. The message names what is missing.
        exit_code = installer.EXIT_CODES[installer.MISSING_RUNTIME]
        return (
            ENVIRONMENT_GAP,
            MISSING_TOOLCHAIN,
            exit_code,
            gap_message(exc.subcategory, exc.message),
        )
    if exc.returncode is not None:  # a package-manager command failed: classify its output
        done = Completed(exc.returncode, exc.output, timed_out=exc.category == installer.TIMEOUT)
        category, subcategory = _classify_install(done)
        return category, subcategory, exc.returncode, exc.output
    category, subcategory = canonical(exc.category, exc.subcategory)
    exit_code = installer.EXIT_CODES.get(exc.category, 1)
    return category, subcategory, exit_code, exc.message


class LocalValidator:
    """Validates recipes on this machine; one instance per run (holds the runner and limits)."""

    installer = tsuku.KIT_INSTALLER

    def __init__(
        self,
        *,
        runner: Runner = run_process,
        install_timeout: float = 600,
        verify_timeout: float = 30,
        attempts: int = 3,
        backoff: float = 2.0,
        runtimes: Sequence[ProvisionedRuntime] = (),
        download_cache: Path | None = None,
    ):
        """``runtimes``: tsuku's pinned runtimes (first on PATH, their interpreter makes the
        virtual environments); none means this machine's own ``node``/``python3``.
        ``download_cache``: the download cache shared with the containers
        (:mod:`automation.containers.downloads`); None: every install downloads for itself."""
        self.runtimes = tuple(runtimes)
        self.download_cache = download_cache
        self.runner = runner
        self.install_timeout = install_timeout
        self.verify_timeout = verify_timeout
        self.attempts = attempts
        self.backoff = backoff

    def _install(
        self, recipe: Mapping[str, Any], step: Mapping[str, Any], work: Path
    ) -> _Installed:
        """Run the step's action from the installer, in-process, into ``work``."""
        home = work / "home"
        home.mkdir(exist_ok=True)
        name = str((recipe.get("metadata") or {}).get("name") or "recipe")
        if not installer.SAFE_NAME.match(name):
            name = "recipe"  # only names a directory of the throwaway prefix
        ctx = installer.Context(
            name,
            _local_platform(),
            str(work / "prefix"),
            timeout=self.install_timeout,
            recipe=dict(recipe),
            runner=self.runner,
            python=interpreter(self.runtimes, container=False),
            reuse_host_tools=True,
            uv=tool_path(self.runtimes, "uv", container=False),
            log_to=lambda _line: None,  # the report says what happened; no command echo
        )
        bin_dir = Path(ctx.bin_dir)
        ctx.env = _install_env(
            home, bin_dir, local_environment(self.download_cache), runtimes=self.runtimes
        )
        try:
            installer.run_step(dict(step), ctx)
        except installer.StepFailure as exc:
            used = tuple(annotate(ctx.runtimes, self.runtimes))
            return _Installed(_failure_outcome(exc), bin_dir, ctx.version, used)
        return _Installed(None, bin_dir, ctx.version, tuple(annotate(ctx.runtimes, self.runtimes)))

    def validate(self, recipe: Mapping[str, Any], text: str | None = None) -> LocalResult:
        """Install, check the executables, find a verify command and pattern. Never raises.

        ``text`` (the recipe file as written) is not needed here: the installer reads the
        parsed recipe."""
        started = time.monotonic()
        step = _install_step(recipe)
        if step is None:
            actions = sorted({str(s.get("action")) for s in recipe.get("steps", [])})
            # Listed as this message always has (failure records hold it): last name first.
            handled = " and ".join(sorted(installer.LOCAL_ACTIONS, reverse=True))
            return LocalResult(
                "skipped",
                None,  # nothing failed: the action is one this machine does not run
                "unsupported_action",
                0,
                0,
                f"local validation handles {handled}, not {actions}",
                None,
                None,
                None,
                0.0,
                0.0,
            )
        attempt = 0
        while True:
            attempt += 1
            with tempfile.TemporaryDirectory(prefix="automation-local-") as tmp:
                work = Path(tmp)
                install_started = time.monotonic()
                installed = self._install(recipe, step, work)
                install_seconds = time.monotonic() - install_started
                version = installed.version
                if installed.failure is not None:
                    category, subcategory, exit_code, message = installed.failure
                    if category == "network_error" and attempt < self.attempts:
                        time.sleep(self.backoff * 2 ** (attempt - 1))
                        continue
                    # An environment gap is skipped, not failed: nothing was learnt about the
                    # package (the line carries no category; the subcategory names the gap).
                    gap = category == ENVIRONMENT_GAP
                    return LocalResult(
                        "skipped" if gap else "fail",
                        None if gap else category,
                        subcategory,
                        exit_code,
                        attempt,
                        message,
                        version,
                        None,
                        None,
                        time.monotonic() - started,
                        install_seconds,
                        installed.runtimes,
                    )
                result = self._verify(recipe, step, work, installed.bin_dir, version or "")
                return LocalResult(
                    result[0],
                    result[1],
                    result[2],
                    result[3],
                    attempt,
                    result[4],
                    version,
                    result[5],
                    result[6],
                    time.monotonic() - started,
                    install_seconds,
                    installed.runtimes,
                )

    def _verify(
        self,
        recipe: Mapping[str, Any],
        step: Mapping[str, Any],
        work: Path,
        bin_dir: Path,
        version: str,
    ) -> tuple[str, str | None, str, int, str, str | None, str | None]:
        return self.discover_verify(
            recipe, [str(e) for e in step.get("executables", [])], work, bin_dir, version
        )

    def discover_verify(
        self,
        recipe: Mapping[str, Any],
        executables: Sequence[str],
        work: Path,
        bin_dir: Path,
        version: str,
    ) -> tuple[str, str | None, str, int, str, str | None, str | None]:
        """Check that ``executables`` are in ``bin_dir`` and find the verify command and pattern
        from what they print: (status, category, subcategory, exit code, message, command,
        pattern). Used for whatever installed them (this installer or tsuku)."""
        executables = list(executables)
        missing = [e for e in executables if not os.access(bin_dir / e, os.X_OK)]
        if missing:
            present = sorted(p.name for p in bin_dir.iterdir()) if bin_dir.is_dir() else []
            return (
                "fail",
                "verify_failed",
                "missing_executable",
                1,
                f"declared executables not installed: {missing}; installed: {present}",
                None,
                None,
            )
        declared = str(recipe.get("verify", {}).get("command", "")).strip()
        words = shlex.split(declared) if declared else []
        exe = words[0] if words and words[0] in executables else executables[0]
        env = _install_env(work / "home", bin_dir, runtimes=self.runtimes)
        candidates = ([words[1:]] if len(words) > 1 and words[0] == exe else []) + [
            [flag] for flag in (*VERSION_FLAGS, *HELP_FLAGS)
        ]
        first_ok: tuple[list[str], Completed] | None = None
        last: Completed | None = None
        seen: set[tuple[str, ...]] = set()
        for args in candidates:
            if tuple(args) in seen:
                continue
            seen.add(tuple(args))
            argv = command_argv(bin_dir / exe, args)
            done = self.runner(argv, env, str(work), self.verify_timeout)
            last = done
            if done.timed_out:
                # A tool that hangs on one flag (it downloads on first run, waits for a
                # server...) hangs on the next: trying all six cost 3 minutes a package.
                break
            if done.exit_code != 0:
                continue
            pattern = version_pattern(done.output, version)
            command = shlex.join([exe, *args])
            if pattern:
                return ("pass", None, "", 0, done.output, command, pattern)
            first_ok = first_ok or (args, done)
        if first_ok is not None:
            command = shlex.join([exe, *first_ok[0]])
            return (
                "pass",
                None,
                "version_not_printed",
                0,
                f"{command} exits 0 but does not print {version!r}: exit-status check only\n"
                + first_ok[1].output,
                command,
                "",
            )
        assert last is not None
        subcategory = "timeout" if last.timed_out else "nonzero_exit"
        return ("fail", "verify_failed", subcategory, last.exit_code, last.output, None, None)


def command_argv(path: Path, args: Sequence[str]) -> list[str]:
    """How a shell runs ``path args``, which is how a recipe's verify command runs (the
    installer's and tsuku's ``sh -c``): a file with neither ``#!`` nor a binary header is a shell
    script to ``sh`` (it reads text that starts without ``#!``), where a direct exec fails with
    ENOEXEC ("Exec format error"). pnpm's bin is one until its install script swaps in the
    native binary."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        head = b""
    text = all(32 <= byte < 127 or byte in b"\t\n\r" for byte in head)
    script = bool(head) and text and not head.startswith(b"#!")  # ELF, Mach-O: not text
    return ["/bin/sh", str(path), *args] if script else [str(path), *args]


class TsukuValidator:
    """Validates recipes on this machine through a tsuku binary (``--installer tsuku``).

    Per recipe and attempt, a throwaway ``TSUKU_HOME`` holds the recipe as
    ``recipes/<name>.toml`` and ``tsuku install --json --force --recipe`` installs it (tsuku runs
    the recipe's ``[verify]`` as part of that); tsuku's outcome is read by
    :func:`automation.containers.tsuku.classify_install`. After a pass, the kit's own verify
    discovery (:meth:`LocalValidator.discover_verify`) runs the executables from
    ``$TSUKU_HOME/tools/current``, so the ``[verify]`` written back into the recipe comes from
    what the tool really printed, whichever installer put it there. Every action runs (tsuku
    implements them all); a recipe whose constraints exclude this machine is skipped.
    """

    def __init__(
        self,
        binary: tsuku.TsukuBinary,
        *,
        runner: Runner = run_process,
        install_timeout: float = 900,
        verify_timeout: float = 30,
        attempts: int = 3,
        backoff: float = 2.0,
        environ: Mapping[str, str] | None = None,
    ):
        self.binary = binary
        self.installer = tsuku.Installer(tsuku.TSUKU, binary)
        self.runner = runner
        self.install_timeout = install_timeout
        self.attempts = attempts
        self.backoff = backoff
        self.environ = os.environ if environ is None else environ
        self.kit = LocalValidator(runner=runner, verify_timeout=verify_timeout)

    def validate(self, recipe: Mapping[str, Any], text: str | None = None) -> LocalResult:
        """Install with tsuku, then find the verify command and pattern. Never raises."""
        started = time.monotonic()
        platform = _local_platform()
        name = str((recipe.get("metadata") or {}).get("name") or "")
        if not installer.SAFE_NAME.match(name) or ".." in name:
            return LocalResult(
                "fail",
                "install_failed",
                "bad_recipe",
                2,
                0,
                f"unsafe or missing metadata.name {name!r}",
                None,
                None,
                None,
                0.0,
                0.0,
            )
        reason = tsuku.skip_reason(recipe, platform)
        if reason is not None:
            return LocalResult(
                "skipped",
                None,
                "unsupported_platform",
                0,
                0,
                reason,
                None,
                None,
                None,
                0.0,
                0.0,
            )
        if text is None:
            text = tomlkit.dumps(dict(recipe))
        attempt = 0
        while True:
            attempt += 1
            with tempfile.TemporaryDirectory(prefix="automation-tsuku-") as tmp:
                work = Path(tmp)
                home = work / "tsuku-home"
                recipe_file = Path(tsuku.recipe_file(str(home), name))
                recipe_file.parent.mkdir(parents=True)
                recipe_file.write_text(text, encoding="utf-8")
                (work / "home").mkdir()
                env = _install_env(
                    work / "home",
                    Path(tsuku.current_dir(str(home))),
                    tsuku.local_env(str(home), self.environ),
                )
                install_started = time.monotonic()
                done = self.runner(
                    tsuku.install_command(self.binary.path, str(recipe_file)),
                    env,
                    str(work),
                    self.install_timeout,
                )
                install_seconds = time.monotonic() - install_started
                outcome = tsuku.classify_install(
                    done.exit_code, done.output, timed_out=done.timed_out
                )
                version = _installed_version(home, name)
                if outcome.status != "pass":
                    if outcome.transient and attempt < self.attempts:
                        time.sleep(self.backoff * 2 ** (attempt - 1))
                        continue
                    return LocalResult(
                        outcome.status,
                        outcome.category,
                        outcome.subcategory or "unclassified",
                        outcome.exit_code,
                        attempt,
                        outcome.message,
                        version,
                        None,
                        None,
                        time.monotonic() - started,
                        install_seconds,
                    )
                executables = tsuku.declared_executables(recipe, platform) or [name]
                result = self.kit.discover_verify(
                    recipe,
                    executables,
                    work,
                    Path(tsuku.current_dir(str(home))),
                    version or "",
                )
                return LocalResult(
                    result[0],
                    result[1],
                    result[2],
                    result[3],
                    attempt,
                    result[4],
                    version,
                    result[5],
                    result[6],
                    time.monotonic() - started,
                    install_seconds,
                )


def _installed_version(home: Path, name: str) -> str | None:
    """The version tsuku recorded for ``name`` in ``$TSUKU_HOME/state.json`` (None if absent)."""
    try:
        text = (home / "state.json").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return tsuku.installed_version(text, name)


def apply_verify(recipe_text: str, command: str, pattern: str, *, path: str) -> str:
    """Set ``[verify] command``/``pattern`` in a recipe, keeping everything else as written."""
    try:
        doc = tomlkit.parse(recipe_text)
    except Exception as exc:
        raise DataError(f"cannot parse recipe: {exc}", path=path) from exc
    verify = doc.get("verify")
    if verify is None:
        verify = tomlkit.table()
        doc.add("verify", verify)
    verify["command"] = command
    verify["pattern"] = pattern
    return tomlkit.dumps(doc)
