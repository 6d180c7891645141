"""Validation through a real tsuku binary (``--installer tsuku``): its CLI contract, read here.

The kit's own installer (``installer.py``) stays the default. With ``--installer tsuku`` the
binary comes from ``--tsuku-bin PATH`` or the ``TSUKU_BIN`` variable; local validation runs it on
this machine (``stages/validate_local.py``), container validation bind-mounts it read-only into
each container (``containers/validate.py``). This module holds what both need: finding and
checking the binary, its environment, and the reading of its outcome in the kit's canonical
result categories.

The contract relied on, from tsuku's source (github.com/tsukumogami/tsuku; the files named are
the same at tag v0.13.0 and at the later revision read):

- ``tsuku --version`` prints ``tsuku version <v>`` (cobra's default version template,
  ``rootCmd.Version = buildinfo.Version()`` in ``cmd/tsuku/main.go``); releases inject ``<v>``
  without a leading ``v`` (``.goreleaser.yaml`` ldflags ``buildinfo.version={{.Version}}``),
  development builds print ``dev-<hash>`` (``internal/buildinfo/version.go``).
- Everything lives under ``$TSUKU_HOME`` (``internal/config/config.go``; default ``~/.tsuku``):
  each tool in ``tools/<name>-<version>/``, links to the active executables in
  ``tools/current/``, the install state in ``state.json`` (``internal/install/state.go``:
  ``installed.<name>.active_version``, older files ``version``), local recipes in
  ``recipes/<name>.toml``: the first provider of the loader chain, before the embedded recipes
  and the central registry (``cmd/tsuku/main.go``, ``internal/recipe/provider_local.go``).
  ``TSUKU_REGISTRY_URL`` replaces the central registry (a local path is read as a folder with
  ``recipes/<letter>/<name>.toml``: ``internal/recipe/provider_registry.go``).
- ``tsuku install --json --force --recipe FILE`` installs from a recipe file
  (``runRecipeBasedInstall`` in ``cmd/tsuku/install.go``; tsuku's own batch workflow calls it so,
  ``.github/workflows/batch-generate.yml``). It then runs the recipe's ``[verify]`` itself
  (``cmd/tsuku/install_deps.go``: post-install ``RunToolVerification``, PATH checks skipped); a
  failing verify fails the install with ``installation verification failed: ...`` and, for a
  pattern, ``pattern mismatch`` (``cmd/tsuku/verify.go``).
- On a failure ``--json`` prints one indented JSON document on stdout, ``{"status": "error",
  "category", "subcategory", "message", "missing_recipes", "install_exit_code"}``
  (``handleInstallError`` in ``cmd/tsuku/install.go``, ``printJSON`` in
  ``cmd/tsuku/helpers.go``); progress and plain errors go to stderr.
- Exit codes (``cmd/tsuku/exitcodes.go``, ``classifyInstallError``): 0 success, 1 general,
  2 usage, 3 recipe not found, 4 version not found, 5 network (subcategory ``timeout``,
  ``dns_error``, ``tls_error``, ``connection_error`` or none), 6 install failed (verify failures
  included), 7 verify failed (``tsuku verify``), 8 a dependency failed (``missing_recipes`` lists
  the recipes no registry has), 130 cancelled.
- ``tsuku verify <name>`` reloads the recipe through the loader chain and also requires
  ``tools/current`` on PATH and ``which`` to resolve each executable there. Validation does not
  call it: like tsuku's own sandbox (``buildSandboxScript`` in ``internal/sandbox/executor.go``)
  it runs the recipe's verify command itself with ``tools/current`` first on PATH and judges the
  output (here with the kit's pattern logic, :func:`judge_verify`).
- ``TSUKU_NO_TELEMETRY``, ``TSUKU_NO_UPDATE_CHECK`` and ``TSUKU_NO_SELF_UPDATE`` turn off the
  telemetry, the background update check and self-update (``internal/telemetry/client.go``,
  ``internal/userconfig/userconfig.go``).
- Releases carry raw binaries ``tsuku-<os>-<arch>`` and a ``checksums.txt`` in ``sha256sum``
  format (``.goreleaser.yaml``, ``.github/workflows/release.yml``, ``.release/post-release.sh``,
  ``website/install.sh``); the hosted workflow fetches ``tsuku-linux-amd64`` (``make
  fetch-tsuku``).

tsuku's outcome in the kit's result categories (:func:`classify_install`):

=========================== =================================================================
tsuku                       result line (status / category / subcategory)
=========================== =================================================================
exit 0                      pass (then the kit's verify runs, see above)
no answer in time           fail / install_failed / ``timeout``
exit 5                      fail / network_error / tsuku's subcategory, else read from the
                            output, else ``connection_error`` (retried, ``tls_error`` excepted)
exit 3, exit 8              fail / missing_dep / ``dependency_not_found`` (a recipe tsuku needs
                            is in no registry it reads) or ``dependency_failed``
exit 4                      fail / install_failed / ``no_version``
exit 7, or 6 with "installation verification failed"
                            fail / verify_failed / ``pattern_mismatch`` or ``exit_code``
exit 6                      the kit's own readings of the output first (network failures, then
                            each ecosystem's package-manager classes: ``package_not_found``...),
                            then ``checksum_mismatch``, ``bad_recipe``, else ``exit_6``
any other exit              fail / install_failed / ``exit_<code>``
=========================== =================================================================
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.containers import installer
from automation.core.errors import UsageError
from automation.core.jsondata import loads
from automation.core.process import Runner, run_process

KIT = "kit"
TSUKU = "tsuku"
INSTALLERS = (KIT, TSUKU)
TSUKU_BIN_ENV = "TSUKU_BIN"
TSUKU_BIN_FLAG = "--tsuku-bin"
INSTALLER_FLAG = "--installer"
VERSION_TIMEOUT = 30.0

EXIT_OK = 0
EXIT_RECIPE_NOT_FOUND = 3
EXIT_VERSION_NOT_FOUND = 4
EXIT_NETWORK = 5
EXIT_INSTALL_FAILED = 6
EXIT_VERIFY_FAILED = 7
EXIT_DEPENDENCY_FAILED = 8

# What the installer (not the recipe) needs off: telemetry, the background update check that
# would outlive the run, self-update.
QUIET_ENV = (
    ("TSUKU_NO_TELEMETRY", "1"),
    ("TSUKU_NO_UPDATE_CHECK", "1"),
    ("TSUKU_NO_SELF_UPDATE", "1"),
    ("CI", "true"),
)
# Settings of tsuku's own a user may give on this machine (which registry resolves dependencies,
# API timeouts, a token against GitHub's rate limit): passed to local runs only, never into a
# container (an `exec -e` value is visible in the process list).
LOCAL_PASSTHROUGH = (
    "TSUKU_REGISTRY_URL",
    "TSUKU_MANIFEST_URL",
    "TSUKU_API_TIMEOUT",
    "GITHUB_TOKEN",
)
VERIFY_FAILED_TEXT = "installation verification failed"
PATTERN_FAILED_TEXTS = ("pattern mismatch", "does not match expected pattern")
BAD_RECIPE_TEXTS = ("failed to load recipe from", "failed to parse recipe")
_VERSION_LINE = re.compile(r"^tsuku version (\S{1,100})\s*$", re.MULTILINE)
OUTPUT_TAIL = 4000


@dataclass(frozen=True, slots=True)
class TsukuBinary:
    """A tsuku binary that answered ``--version``; ``path`` is absolute."""

    path: str
    version: str
    version_output: str

    @property
    def label(self) -> str:
        """What result lines record as their ``installer`` (``tsuku 0.13.0``)."""
        return f"{TSUKU} {self.version}"


@dataclass(frozen=True, slots=True)
class Installer:
    """Which installer validation uses: the kit's own (default) or a tsuku binary."""

    name: str = KIT
    tsuku: TsukuBinary | None = None

    @property
    def label(self) -> str:
        return self.tsuku.label if self.tsuku is not None else KIT

    @property
    def result_field(self) -> str | None:
        """The result lines' ``installer``: absent for the kit (as on every older line)."""
        return None if self.tsuku is None else self.tsuku.label

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label}
        if self.tsuku is not None:
            out["path"] = self.tsuku.path
            out["version_output"] = self.tsuku.version_output
        return out


KIT_INSTALLER = Installer()


def _probe_env(home: str, environ: Mapping[str, str]) -> dict[str, str]:
    env = {"PATH": environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LANG": "C.UTF-8"}
    env["TSUKU_HOME"] = os.path.join(home, "tsuku")
    env.update(QUIET_ENV)
    return env


def resolve_tsuku(
    path: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    runner: Runner = run_process,
) -> TsukuBinary:
    """The binary ``--tsuku-bin`` (else ``TSUKU_BIN``) names, checked by running ``--version``.

    Every problem is a UsageError (exit 2) naming where the path came from.
    """
    environ = os.environ if environ is None else environ
    source = TSUKU_BIN_FLAG
    if not path:
        path, source = environ.get(TSUKU_BIN_ENV) or None, TSUKU_BIN_ENV
    if not path:
        raise UsageError(
            f"{INSTALLER_FLAG} tsuku needs a tsuku binary: give {TSUKU_BIN_FLAG} PATH or set "
            f"{TSUKU_BIN_ENV}"
        )
    if "\0" in path:
        raise UsageError(f"{source}: a path cannot contain a NUL character")
    binary = Path(path).expanduser().absolute()
    if not binary.is_file():
        raise UsageError(f"{source}: {binary} is not a file (expected a tsuku binary)")
    if not os.access(binary, os.X_OK):
        raise UsageError(f"{source}: {binary} is not executable (chmod +x it)")
    with tempfile.TemporaryDirectory(prefix="automation-tsuku-probe-") as home:
        done = runner([str(binary), "--version"], _probe_env(home, environ), home, VERSION_TIMEOUT)
    output = done.output.strip()
    if not done.ok:
        why = "timed out" if done.timed_out else f"exited {done.exit_code}"
        raise UsageError(f"{source}: `{binary} --version` {why}: {output[-300:]}")
    match = _VERSION_LINE.search(output)
    if match is None:
        first = output.splitlines()[0][:120] if output else ""
        raise UsageError(
            f"{source}: `{binary} --version` printed {first!r}, not `tsuku version <v>`: "
            "is it a tsuku binary?"
        )
    return TsukuBinary(str(binary), match.group(1), output)


def select_installer(
    name: str | None,
    tsuku_bin: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    runner: Runner = run_process,
) -> Installer:
    """The installer the flags ask for (``kit`` when none); tsuku's binary found and checked."""
    chosen = (name or KIT).strip()
    if chosen not in INSTALLERS:
        raise UsageError(f"{INSTALLER_FLAG}: expected one of {', '.join(INSTALLERS)}, got {name!r}")
    if chosen == KIT:
        if tsuku_bin:
            raise UsageError(f"{TSUKU_BIN_FLAG} is only used with {INSTALLER_FLAG} tsuku")
        return KIT_INSTALLER
    return Installer(TSUKU, resolve_tsuku(tsuku_bin, environ=environ, runner=runner))


# --- running it -------------------------------------------------------------------------------


def quiet_env(tsuku_home: str) -> dict[str, str]:
    """The variables every tsuku run gets: its home and the quiet switches."""
    return {"TSUKU_HOME": tsuku_home, **dict(QUIET_ENV)}


def local_env(tsuku_home: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """:func:`quiet_env` plus the tsuku settings the user gave on this machine."""
    environ = os.environ if environ is None else environ
    env = {key: environ[key] for key in LOCAL_PASSTHROUGH if environ.get(key)}
    env.update(quiet_env(tsuku_home))
    return env


def install_command(binary: str, recipe_file: str) -> list[str]:
    """``tsuku install`` from a recipe file, with the JSON error document and no prompts."""
    return [binary, "install", "--json", "--force", "--recipe", recipe_file]


def recipe_file(tsuku_home: str, name: str) -> str:
    """Where the recipe goes: ``$TSUKU_HOME/recipes/<name>.toml``, the loader's first source."""
    return f"{tsuku_home.rstrip('/')}/recipes/{name}.toml"


def tool_dir(tsuku_home: str, name: str, version: str) -> str:
    return f"{tsuku_home.rstrip('/')}/tools/{name}-{version}"


def current_dir(tsuku_home: str) -> str:
    return f"{tsuku_home.rstrip('/')}/tools/current"


def installed_version(state_text: str, name: str) -> str | None:
    """The active version of ``name`` in a ``state.json`` text (None when not readable)."""
    state, problem = loads(state_text, "state.json")
    if problem is not None or not isinstance(state, dict):
        return None
    installed = state.get("installed")
    tool = installed.get(name) if isinstance(installed, dict) else None
    if not isinstance(tool, dict):
        return None
    version = tool.get("active_version") or tool.get("version")
    return str(version) if isinstance(version, str) and version else None


def declared_executables(recipe: Mapping[str, Any], platform: installer.Platform) -> list[str]:
    """The executables the recipe's steps for ``platform`` declare (``executables``, or the
    names ``binaries`` install), in order, without repeats."""
    names: list[str] = []
    for step in installer.matching_steps(dict(recipe), platform):
        for item in step.get("executables") or []:
            names.append(os.path.basename(str(item)))
        for item in step.get("binaries") or []:
            if isinstance(item, Mapping):
                item = item.get("dest") or item.get("src") or ""
            names.append(os.path.basename(str(item)))
    return [n for n in dict.fromkeys(names) if n]


def skip_reason(recipe: Mapping[str, Any], platform: installer.Platform) -> str | None:
    """Why the recipe does not apply to ``platform`` (read as the kit's installer reads it), so
    a skip is a skip whichever installer runs; None when it applies."""
    reason = installer.unsupported_reason(dict(recipe.get("metadata") or {}), platform)
    if reason is None and not installer.matching_steps(dict(recipe), platform):
        reason = f"no step applies to {platform.os_arch}"
    return reason


# --- reading the outcome ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One tsuku run read in the result lines' terms."""

    status: str  # pass | fail | skipped
    category: str | None
    subcategory: str | None
    exit_code: int
    message: str

    @property
    def transient(self) -> bool:
        """Worth another attempt: a network failure other than TLS (configuration)."""
        return self.category == installer.NETWORK and self.subcategory != "tls_error"


def error_document(output: str) -> dict[str, Any] | None:
    """The last JSON error document tsuku printed (indented, starting on a line of its own)."""
    lines = output.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if not lines[start].startswith("{"):
            continue
        for end in range(start, len(lines)):
            if lines[end].startswith("}"):
                value, problem = loads("\n".join(lines[start : end + 1]), "tsuku output")
                if problem is None and isinstance(value, dict) and "install_exit_code" in value:
                    return value
                break
    return None


def _clean(value: object) -> str | None:
    # The schema wants ^[a-z0-9_]{1,64}$.
    text = re.sub(r"[^a-z0-9_]+", "_", str(value or "").lower()).strip("_")[:64]
    return text or None


def _message(exit_code: int, detail: str, output: str) -> str:
    head = f"tsuku install exited {exit_code}" + (f": {detail}" if detail else "")
    tail = output.strip()[-OUTPUT_TAIL:]
    return f"{head}\n{tail}" if tail and tail != detail else head


def classify_install(exit_code: int, output: str, *, timed_out: bool = False) -> Outcome:
    """Read one ``tsuku install`` run (exit code and output, stdout and stderr) as a result."""
    if timed_out:
        return Outcome(
            installer.FAIL, "install_failed", "timeout", exit_code, _message(exit_code, "", output)
        )
    if exit_code == EXIT_OK:
        return Outcome(installer.PASS, None, None, 0, output.strip()[-OUTPUT_TAIL:])
    document = error_document(output) or {}
    detail = str(document.get("message") or "")
    message = _message(exit_code, detail, output)
    text = f"{detail}\n{output}"
    lowered = text.lower()
    failed = installer.FAIL
    if exit_code == EXIT_NETWORK:
        sub = (
            _clean(document.get("subcategory"))
            or installer.classify_network_text(text)
            or "connection_error"
        )
        return Outcome(failed, "network_error", sub, exit_code, message)
    if exit_code in (EXIT_RECIPE_NOT_FOUND, EXIT_DEPENDENCY_FAILED):
        missing = [str(m) for m in document.get("missing_recipes") or [] if isinstance(m, str)]
        if missing:
            message += "\nrecipes not found: " + ", ".join(missing)
        not_found = bool(missing) or exit_code == EXIT_RECIPE_NOT_FOUND
        sub = "dependency_not_found" if not_found else "dependency_failed"
        return Outcome(failed, "missing_dep", sub, exit_code, message)
    if exit_code == EXIT_VERSION_NOT_FOUND:
        return Outcome(failed, "install_failed", "no_version", exit_code, message)
    if exit_code == EXIT_VERIFY_FAILED or VERIFY_FAILED_TEXT in lowered:
        mismatch = any(t in lowered for t in PATTERN_FAILED_TEXTS)
        sub = "pattern_mismatch" if mismatch else "exit_code"
        return Outcome(failed, "verify_failed", sub, exit_code, message)
    if exit_code == EXIT_INSTALL_FAILED:
        # The kit's own readings first, in local validation's order, so both installers give one
        # verdict for one package manager's output.
        network = installer.classify_network_text(text)
        if network is not None:
            return Outcome(failed, "network_error", network, exit_code, message)
        known = installer.classify_output(text)
        if known is not None:
            return Outcome(failed, known[0], known[1], exit_code, message)
        if "checksum mismatch" in lowered:
            return Outcome(failed, "install_failed", "checksum_mismatch", exit_code, message)
        if any(t in lowered for t in BAD_RECIPE_TEXTS):
            return Outcome(failed, "install_failed", "bad_recipe", exit_code, message)
    return Outcome(failed, "install_failed", f"exit_{exit_code}", exit_code, message)


# --- the recipe's verify, run by the kit ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyCheck:
    """One command of ``[verify]`` (the main one or an ``additional`` one) and its patterns."""

    command: str
    patterns: tuple[str, ...]


def verify_checks(recipe: Mapping[str, Any], version: str, install_dir: str) -> list[VerifyCheck]:
    """The recipe's verify commands as tsuku runs them (``{version}`` and ``{install_dir}``
    filled in the command; patterns keep ``{version}`` for :func:`judge_verify`)."""
    spec = recipe.get("verify") or {}
    entries: list[tuple[str, list[str]]] = []
    if spec.get("command"):
        patterns = [spec.get("pattern") or "", *(spec.get("patterns") or [])]
        entries.append((str(spec["command"]), [str(p) for p in patterns if p]))
    for extra in spec.get("additional") or []:
        if isinstance(extra, Mapping) and extra.get("command"):
            pattern = extra.get("pattern")
            entries.append((str(extra["command"]), [str(pattern)] if pattern else []))
    return [
        VerifyCheck(
            command.replace("{version}", version).replace("{install_dir}", install_dir),
            tuple(patterns),
        )
        for command, patterns in entries
    ]


def judge_verify(
    recipe: Mapping[str, Any],
    checks: Sequence[VerifyCheck],
    runs: Sequence[tuple[int, str, bool]],
    version: str | None,
) -> Outcome:
    """The verdict on verify runs ``(exit code, output, timed out)``, one per check, in order,
    with the kit's installer's rules (expected ``exit_code``, ``mode = "output"``, patterns
    matched by :func:`installer.pattern_matches`)."""
    spec = recipe.get("verify") or {}
    expected = int(spec.get("exit_code", 0) or 0)
    output_only = spec.get("mode") == "output"
    shown: list[str] = []
    for check, (code, output, timed_out) in zip(checks, runs, strict=False):
        shown.append(f"$ {check.command}\n{output.strip()}")
        transcript = "\n".join(shown)[-OUTPUT_TAIL:]
        if timed_out:
            return Outcome(installer.FAIL, "verify_failed", "timeout", code, transcript)
        if not output_only and code != expected:
            return Outcome(
                installer.FAIL,
                "verify_failed",
                "exit_code",
                code,
                f"{check.command!r} exited {code}, expected {expected}\n{transcript}",
            )
        for pattern in check.patterns:
            ok, found = installer.pattern_matches(pattern, output, version)
            if not ok:
                seen = f" (saw version {found})" if found else ""
                return Outcome(
                    installer.FAIL,
                    "verify_failed",
                    "pattern_mismatch",
                    installer.EXIT_CODES[installer.VERIFY_FAILED],
                    f"output of {check.command!r} does not match {pattern!r}{seen}\n{transcript}",
                )
    if not checks:
        return Outcome(installer.PASS, None, "no_verify", 0, "no [verify] command")
    return Outcome(installer.PASS, None, None, 0, "\n".join(shown)[-OUTPUT_TAIL:])
