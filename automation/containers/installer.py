"""The kit's own recipe installer: install one recipe's steps for one platform, then verify it.

This is the installer *core*: platforms and ``when`` clauses, downloads, safe extraction, the
install context, the generic actions (``download_archive``, ``install_binaries``), verify and the
CLI. Each ecosystem's own actions live in ``automation/ecosystems/<name>/install.py``: a module
with an ``ACTIONS`` table (action name -> function) and optionally ``LOCAL_ACTIONS`` (the ones
local validation may run on the user's machine), found next to this file by
:func:`ecosystem_install_files` and registered when this module loads.

Self-contained on purpose: the core and every ``install.py`` form the *kit folder* copied into the
validation containers (:func:`kit_files`, same relative layout as in the repository) and run with
the container's own ``python3`` (3.9 on debian-11), so they import only the standard library and
avoid syntax newer than 3.9. The host passes the recipe as JSON (old Pythons have no ``tomllib``).

    python3 kit/containers/installer.py run RECIPE.json --platform linux-debian-glibc-x86_64

prints ONE JSON line: {status, category, subcategory, exit_code, message, output, version, ...}.
Exit codes follow tsuku's: 0 pass/skipped, 5 network, 6 install failed, 7 verify failed,
8 missing runtime, 124 timeout.

Local validation runs the same code in-process: it builds a :class:`Context` with the kit's own
process runner (``automation.core.process.run_process``) and a clean environment, and calls the
step's action. Every process the core and the actions start goes through ``Context.runner``
(:func:`run_process` here is the minimal stand-in used inside the container), except the one
pipe that streams a ``.tar.zst`` through ``zstd``.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from typing import IO, Any, Callable  # noqa: UP035 (runs on 3.9)

try:  # Python builds without liblzma exist; tarfile then cannot read .tar.xz anyway
    from lzma import LZMAError
except ImportError:  # pragma: no cover - depends on the interpreter build
    LZMAError = ValueError  # type: ignore[misc,assignment]

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
INSTALL_FAILED = "install_failed"
VERIFY_FAILED = "verify_failed"
UNSUPPORTED = "unsupported_platform"
MISSING_RUNTIME = "missing_runtime"
TIMEOUT = "timeout"
NETWORK = "network_error"
EXIT_CODES = {
    INSTALL_FAILED: 6,
    VERIFY_FAILED: 7,
    UNSUPPORTED: 0,
    MISSING_RUNTIME: 8,
    TIMEOUT: 124,
    NETWORK: 5,
}
OUTPUT_LIMIT = 16 * 1024  # of a result line's output
# Kept of one process's output: verify patterns are matched against it.
RUNNER_OUTPUT_LIMIT = 1 << 20
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,127}$")
USER_AGENT = "registry-automation-installer/1"
VERSION_RE = r"v?(\d+(?:\.[0-9A-Za-z]+)*(?:[-+][0-9A-Za-z.]+)?)"
# What extraction may write in total, checked before each chunk lands (tests pass a small cap).
DEFAULT_EXTRACT_LIMIT = 4 << 30
# A symlink's target inside a zip is its content: anything longer than a path is not a link.
ZIP_LINK_LIMIT = 4096
# The kit's endpoint overrides (automation/core/config.py), forwarded to the installer.
ENDPOINT_ENV = "AUTOMATION_ENDPOINT_"
# The shared download cache's folder (see download_cache); set by the host, locally and in the
# containers.
DOWNLOAD_CACHE_ENV = "AUTOMATION_DOWNLOAD_CACHE"
# The name the ecosystem install modules find this module under (see _load_ecosystem_actions).
KIT_MODULE = "registry_automation_installer"
HERE = os.path.dirname(os.path.abspath(__file__))
ECOSYSTEMS_DIR = os.path.join(os.path.dirname(HERE), "ecosystems")
# Output fragments that mean the network, not the package, failed (package managers, curl,
# urllib).
NETWORK_SIGNATURES = (
    (
        "dns_error",
        (
            "temporary failure in name resolution",
            "name or service not known",
            "eai_again",
            "enotfound",
            "getaddrinfo",
            "no address associated",
        ),
    ),
    (
        "tls_error",
        (
            "certificate_verify_failed",
            "certificate verify failed",
            "sslerror",
            "self_signed_cert",
            "unable_to_get_issuer_cert",
            "unable to get local issuer",
        ),
    ),
    (
        "timeout",
        (
            "etimedout",
            "read timed out",
            "esockettimedout",
            "connecttimeouterror",
            "operation timed out",
        ),
    ),
    (
        "connection_error",
        (
            "econnreset",
            "econnrefused",
            "connection refused",
            "connection reset",
            "newconnectionerror",
            "remotedisconnected",
            "socket hang up",
            "network is unreachable",
            "enetunreach",
            "max retries exceeded",
            "incompleteread",
            "connection broken",
        ),
    ),
)


class StepFailure(Exception):
    """An install or verify failure with its classification.

    ``returncode`` is the exit code of the process whose failure this is (None when no process
    failed: a bad recipe, a download, a missing runtime).
    """

    def __init__(
        self,
        category: str,
        subcategory: str,
        message: str,
        output: str = "",
        returncode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.subcategory = subcategory
        self.message = message
        self.output = output
        self.returncode = returncode


class UnsafeArchive(StepFailure):
    """An archive member would land outside the extraction directory, is a device file, a link
    to something that is not a regular file of the tree, or the archive expands past its cap."""

    def __init__(self, message: str) -> None:
        super().__init__(INSTALL_FAILED, "unsafe_archive", message)


class MissingExecutables(StepFailure):
    """A package installed, but not every executable the recipe declares.

    ``missing`` are the declared names not found in ``directory``; ``present`` is what the
    package manager did put there (local validation names both)."""

    def __init__(self, directory: str, missing: list[str]) -> None:
        super().__init__(
            INSTALL_FAILED,
            "missing_executable",
            f"expected executable {os.path.join(directory, missing[0])} was not installed",
        )
        self.directory = directory
        self.missing = missing
        self.present = sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def log(message: str) -> None:
    print("[installer] " + message, file=sys.stderr, flush=True)


# --- processes --------------------------------------------------------------------------------


class ProcessResult:
    """What one process did: the shape of ``automation.core.process.Completed`` that the
    installer reads (local validation injects that runner; the container uses this one)."""

    __slots__ = ("exit_code", "missing", "output", "timed_out")

    def __init__(
        self, exit_code: int, output: str, timed_out: bool = False, missing: bool = False
    ) -> None:
        self.exit_code = exit_code
        self.output = output
        self.timed_out = timed_out
        self.missing = missing


# argv, environment, working directory, timeout -> an object with exit_code, output, timed_out
# and missing (ProcessResult here, automation.core.process.Completed on the host).
Runner = Callable[[list[str], dict[str, str], str, float], Any]


def run_process(argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> ProcessResult:
    """The container's minimal runner: output merged and capped, failures as values."""
    try:
        proc = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else ""
        return ProcessResult(124, out[-RUNNER_OUTPUT_LIMIT:], timed_out=True)
    except FileNotFoundError as exc:
        return ProcessResult(127, str(exc), missing=True)
    except OSError as exc:
        return ProcessResult(126, str(exc))
    return ProcessResult(
        proc.returncode, proc.stdout.decode("utf-8", "replace")[-RUNNER_OUTPUT_LIMIT:]
    )


# --- platforms and `when` clauses -------------------------------------------------------------


class Platform:
    """``linux-<family>-<libc>-<arch>`` or ``darwin-<arch>`` in Go terms (amd64/arm64)."""

    __slots__ = ("arch", "family", "gpu", "libc", "os")

    def __init__(
        self, os_name: str, arch: str, libc: str = "", family: str = "", gpu: str = "none"
    ) -> None:
        self.os = os_name
        self.arch = arch
        self.libc = libc
        self.family = family
        self.gpu = gpu

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("-")
        arch_of = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}
        if len(parts) == 4 and parts[0] == "linux" and parts[3] in arch_of:
            return cls("linux", arch_of[parts[3]], parts[2], parts[1])
        if len(parts) == 2 and parts[0] == "darwin" and parts[1] in arch_of:
            return cls("darwin", arch_of[parts[1]])
        raise ValueError(
            f"unknown platform {text!r} (linux-<family>-<libc>-<arch> or darwin-<arch>)"
        )

    @property
    def os_arch(self) -> str:
        return self.os + "/" + self.arch


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def when_matches(when: dict[str, Any] | None, platform: Platform) -> bool:
    """tsuku's WhenClause: every present dimension must match; an empty clause matches all."""
    if not when:
        return True
    if "platform" in when:
        tuples = _as_list(when["platform"])
        full = platform.os_arch + ("/" + platform.libc if platform.libc else "")
        if platform.os_arch not in tuples and full not in tuples:
            return False
    if "os" in when and platform.os not in _as_list(when["os"]):
        return False
    arch = when.get("arch")
    # tsuku's loader reads `arch` as a scalar and silently ignores the array form.
    if isinstance(arch, str) and arch and arch != platform.arch:
        return False
    family = when.get("linux_family")
    if family and (platform.os != "linux" or family != platform.family):
        return False
    if "libc" in when and platform.os == "linux" and platform.libc not in _as_list(when["libc"]):
        return False
    return not ("gpu" in when and platform.gpu not in _as_list(when["gpu"]))


def unsupported_reason(metadata: dict[str, Any], platform: Platform) -> str | None:
    """Why the recipe's metadata constraints exclude ``platform`` (None when supported)."""
    supported_os = metadata.get("supported_os")
    if supported_os is not None and platform.os not in supported_os:
        return f"supported_os {supported_os} excludes {platform.os}"
    supported_arch = metadata.get("supported_arch")
    if supported_arch is not None and platform.arch not in supported_arch:
        return f"supported_arch {supported_arch} excludes {platform.arch}"
    listed = set(_as_list(metadata.get("unsupported_platforms")))
    if platform.os_arch in listed:
        return f"unsupported_platforms lists {platform.os_arch}"
    if platform.os == "linux":
        if f"{platform.os_arch}/{platform.libc}" in listed:
            return f"unsupported_platforms lists {platform.os_arch}/{platform.libc}"
        libcs = metadata.get("supported_libc") or []
        if libcs and platform.libc not in libcs:
            return f"supported_libc {libcs} excludes {platform.libc}"
    return None


# --- verify patterns --------------------------------------------------------------------------


def pattern_matches(pattern: str, output: str, version: str | None) -> tuple[bool, str | None]:
    """Does ``output`` contain ``pattern`` (``{version}`` = the installed or any version)?

    Returns (matched, version seen in the output when the pattern names one).
    """
    if not pattern:
        return True, None
    if "{version}" not in pattern:
        return pattern in output, None
    if version:
        for candidate in (version, version.lstrip("v")):
            if pattern.replace("{version}", candidate) in output:
                return True, candidate
    regex = re.escape(pattern).replace(re.escape("{version}"), VERSION_RE)
    match = re.search(regex, output)
    if match is None:
        return False, None
    # With a known version, another version in the output is a mismatch, not a pass.
    if version and match.group(1) not in (version, version.lstrip("v")):
        return False, match.group(1)
    return True, match.group(1)


# --- network ----------------------------------------------------------------------------------


def classify_network_text(text: str) -> str | None:
    lowered = text.lower()
    for subcategory, needles in NETWORK_SIGNATURES:
        if any(needle in lowered for needle in needles):
            return subcategory
    return None


def _network_failure(url: str, exc: BaseException) -> StepFailure:
    if isinstance(exc, urllib.error.HTTPError):
        code = exc.code
        if code in (408, 429) or code >= 500:
            return StepFailure(NETWORK, f"http_{code}", f"GET {url}: HTTP {code}")
        return StepFailure(INSTALL_FAILED, f"http_{code}", f"GET {url}: HTTP {code}")
    reason = getattr(exc, "reason", exc)
    # Two types on 3.9 (socket.timeout became an alias of TimeoutError in 3.10).
    if isinstance(reason, (socket.timeout, TimeoutError)):
        sub = "timeout"
    elif isinstance(reason, socket.gaierror):
        sub = "dns_error"
    elif isinstance(reason, ssl.SSLError):
        sub = "tls_error"
    else:
        sub = classify_network_text(str(reason)) or "connection_error"
    return StepFailure(NETWORK, sub, f"GET {url}: {reason}")


def _open(url: str, timeout: float, headers: dict[str, str] | None = None) -> IO[bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        response: IO[bytes] = urllib.request.urlopen(request, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        raise _network_failure(url, exc) from None
    return response


def fetch_bytes(url: str, timeout: float = 60, headers: dict[str, str] | None = None) -> bytes:
    with _open(url, timeout, headers) as response:
        try:
            return response.read()
        except OSError as exc:
            raise _network_failure(url, exc) from None


def fetch_json(url: str, timeout: float = 60, headers: dict[str, str] | None = None) -> Any:
    data = fetch_bytes(url, timeout, headers)
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        raise StepFailure(INSTALL_FAILED, "bad_response", f"GET {url}: not JSON") from None


def download(
    url: str,
    dest: str,
    sha256: str | None = None,
    timeout: float = 300,
    headers: dict[str, str] | None = None,
) -> str:
    """Stream ``url`` to ``dest``; verify ``sha256`` when known."""
    digest = hashlib.sha256()
    with _open(url, timeout, headers) as response, open(dest, "wb") as handle:
        while True:
            try:
                chunk = response.read(1 << 20)
            except OSError as exc:
                raise _network_failure(url, exc) from None
            if not chunk:
                break
            digest.update(chunk)
            handle.write(chunk)
    if sha256:
        expected = sha256.split(":", 1)[-1].strip().lower()
        if digest.hexdigest() != expected:
            raise StepFailure(
                INSTALL_FAILED,
                "checksum_mismatch",
                f"{url}: sha256 {digest.hexdigest()}, expected {expected}",
            )
    return dest


# --- safe extraction --------------------------------------------------------------------------

# What a damaged archive raises while it is read (tarfile and zipfile do not wrap all of it).
_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, LZMAError, EOFError)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def member_parts(name: str, strip: int) -> list[str] | None:
    """Archive name -> path components below the extraction dir (None: stripped away)."""
    if not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"absolute path in archive: {name!r}")
    raw = re.split(r"[/\\]", name)
    if ".." in raw:
        raise UnsafeArchive(f"parent reference in archive path: {name!r}")
    if "\x00" in name:
        raise UnsafeArchive(f"NUL byte in archive path: {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    parts = parts[strip:]
    return parts or None


def _safe_parent(dest: str, parts: list[str]) -> str:
    """Create the member's parent directory, refusing one that resolves outside ``dest``."""
    parent = os.path.join(dest, *parts[:-1])
    if not _within(os.path.realpath(parent), dest):
        raise UnsafeArchive(
            "archive path {!r} goes through a link out of the tree".format("/".join(parts))
        )
    os.makedirs(parent, exist_ok=True)
    if not _within(os.path.realpath(parent), dest):
        raise UnsafeArchive(
            "archive path {!r} goes through a link out of the tree".format("/".join(parts))
        )
    return os.path.join(dest, *parts)


def _clear(target: str) -> None:
    if os.path.islink(target) or (os.path.lexists(target) and not os.path.isdir(target)):
        os.unlink(target)


def _claim(budget: list[int], size: int, name: str) -> None:
    """Take ``size`` bytes from what the archive may still write; refuse before they land."""
    if size > budget[0]:
        raise UnsafeArchive(
            f"archive expands beyond the size limit at {name!r} ({budget[1]} bytes allowed)"
        )
    budget[0] -= size


def _write_file(
    target: str, source: IO[bytes], mode: int, budget: list[int], declared: int
) -> None:
    # The declared size is claimed first (a bomb is refused before its first byte), then every
    # chunk is counted as it streams (a member that yields more than it declared is cut off).
    name = os.path.basename(target)
    _claim(budget, declared, name)
    _clear(target)
    # O_NOFOLLOW: never write through a link planted by an earlier member.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    written = 0
    with os.fdopen(fd, "wb") as handle:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            written += len(chunk)
            if written > declared:
                _claim(budget, written - declared, name)
                declared = written
            handle.write(chunk)
    # No setuid/setgid/sticky, no group/other write.
    os.chmod(target, (mode & 0o755) | 0o600)


def _make_symlink(dest: str, parts: list[str], link_target: str) -> None:
    name = "/".join(parts)
    if not link_target or link_target.startswith("/") or re.match(r"^[A-Za-z]:", link_target):
        raise UnsafeArchive(f"absolute symlink {name} -> {link_target}")
    if "\x00" in link_target:
        raise UnsafeArchive(f"NUL byte in symlink target: {name}")
    target = _safe_parent(dest, parts)
    resolved = os.path.realpath(os.path.join(os.path.dirname(target), link_target))
    if not _within(resolved, dest):
        raise UnsafeArchive(f"symlink out of the tree: {name} -> {link_target}")
    _clear(target)
    os.symlink(link_target, target)


def _make_hardlink(dest: str, parts: list[str], source: str | None, linkname: str) -> None:
    """A tar hardlink: only to a regular file this archive already extracted, still in place."""
    name = "/".join(parts)
    if (
        source is None
        or not os.path.lexists(source)
        or not stat.S_ISREG(os.lstat(source).st_mode)
        or not _within(os.path.realpath(source), dest)
    ):
        # The member it names may have been replaced by a symlink or a directory since: copying
        # that would plant a link whose relative target means something else at the new place.
        raise UnsafeArchive(
            f"hardlink to something that is not a regular file of the tree: {name} -> {linkname}"
        )
    target = _safe_parent(dest, parts)
    _clear(target)
    os.link(source, target, follow_symlinks=False)


def _check_links(root: str) -> None:
    """Every symlink in the finished tree resolves inside it.

    Checked once more at the end because a later member can change what an earlier link
    resolves to (``a -> s/../x`` is inside until ``s`` becomes a link to ``.``)."""
    for directory, dirs, files in os.walk(root):
        for entry in (*dirs, *files):
            path = os.path.join(directory, entry)
            if os.path.islink(path) and not _within(os.path.realpath(path), root):
                relative = os.path.relpath(path, root)
                raise UnsafeArchive(f"symlink out of the tree: {relative} -> {os.readlink(path)}")


def detect_format(path: str, declared: str = "") -> str:
    """``zip``, ``tar`` (any compression tarfile reads), ``tar.zst`` or ``raw``."""
    declared = (declared or "").lower().lstrip(".")
    if declared == "zip":
        return "zip"
    if declared.startswith(("tar.zst", "tzst")):
        return "tar.zst"
    if declared.startswith(("tar", "tgz", "tbz", "txz")):
        return "tar"
    with open(path, "rb") as handle:
        magic = handle.read(262)
    if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
        return "zip"
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        return "tar.zst"
    if magic[:2] == b"\x1f\x8b" or magic[:3] == b"BZh" or magic[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if magic[257:262] == b"ustar":
        return "tar"
    return "raw"


def safe_extract(
    archive: str,
    dest: str,
    archive_format: str = "",
    strip_dirs: int = 0,
    max_bytes: int = DEFAULT_EXTRACT_LIMIT,
) -> str:
    """Extract ``archive`` into ``dest``; refuse anything that would leave ``dest``.

    Rejected: absolute paths, ``..`` components, symlinks resolving outside (checked per member
    and again on the finished tree), hardlinks to anything but a regular file already extracted,
    device files and FIFOs, and more than ``max_bytes`` of content (checked before each chunk is
    written). Modes lose setuid/setgid. The archive is unpacked into a fresh directory beside
    ``dest`` and moved into place only when all of it passed: a refused or damaged archive
    leaves nothing behind. Returns ``dest`` (resolved).
    """
    fmt = detect_format(archive, archive_format)
    if fmt == "raw":
        raise StepFailure(INSTALL_FAILED, "unknown_archive", f"not an archive: {archive}")
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    staging = os.path.realpath(tempfile.mkdtemp(prefix=".extract-", dir=parent))
    budget = [max_bytes, max_bytes]  # [left, allowed]
    try:
        try:
            if fmt == "zip":
                _extract_zip(archive, staging, strip_dirs, budget)
            elif fmt == "tar.zst":
                _extract_zstd_tar(archive, staging, strip_dirs, budget)
            else:
                _extract_tar(archive, staging, strip_dirs, budget)
            _check_links(staging)
        except (OSError, ValueError, *_ARCHIVE_ERRORS) as exc:
            raise StepFailure(INSTALL_FAILED, "bad_archive", f"{archive}: {exc}") from None
        return _move_into_place(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: str, dest: str) -> str:
    """Make the checked tree ``dest``; merge it into an existing one (several archive steps)."""
    if os.path.isdir(dest) and not os.path.islink(dest) and not os.listdir(dest):
        os.rmdir(dest)
    if not os.path.lexists(dest):
        os.rename(staging, dest)
        return os.path.realpath(dest)
    if os.path.islink(dest) or not os.path.isdir(dest):
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"{dest} exists and is not a directory")
    merged = os.path.realpath(dest)
    _merge_tree(staging, merged)
    try:
        _check_links(merged)  # links of the two archives may combine into a way out
    except UnsafeArchive:
        shutil.rmtree(merged, ignore_errors=True)
        raise
    return merged


def _merge_tree(source: str, target: str) -> None:
    for entry in os.listdir(source):
        src, dst = os.path.join(source, entry), os.path.join(target, entry)
        real_dirs = (
            os.path.isdir(src)
            and not os.path.islink(src)
            and os.path.isdir(dst)
            and not os.path.islink(dst)
        )
        if real_dirs:
            _merge_tree(src, dst)
            continue
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        elif os.path.lexists(dst):
            os.unlink(dst)
        os.rename(src, dst)


def _extract_tar(archive: str, dest: str, strip: int, budget: list[int]) -> None:
    try:
        tar = tarfile.open(archive, "r:*")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError) as exc:
        raise StepFailure(INSTALL_FAILED, "bad_archive", f"{archive}: {exc}") from None
    with tar:
        _extract_tar_members(tar, dest, strip, budget)


def _extract_zstd_tar(archive: str, dest: str, strip: int, budget: list[int]) -> None:
    """Stream ``zstd -dc`` into the tar reader: the decompressed tar never lands on disk, so the
    size cap applies to what is extracted, not after a full copy was written.

    The one process not started through ``Context.runner``: a runner captures output, this
    needs a pipe read while the process runs."""
    zstd = shutil.which("zstd")
    if zstd is None:
        raise StepFailure(MISSING_RUNTIME, "zstd", f"zstd is needed to unpack {archive}")
    proc = subprocess.Popen(
        [zstd, "-dc", "--", archive],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            _extract_tar_members(tar, dest, strip, budget)
        # What follows the end-of-archive marker is padding: read a little, then stop zstd.
        proc.stdout.read(1 << 20)
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
    if code not in (0, -signal.SIGKILL):  # killed: the tar had ended before zstd's output did
        raise StepFailure(INSTALL_FAILED, "bad_archive", f"{archive}: zstd exited {code}")


def _extract_tar_members(tar: tarfile.TarFile, dest: str, strip: int, budget: list[int]) -> None:
    extracted: dict[str, str] = {}  # member path -> where its regular file was written
    for member in tar:
        parts = member_parts(member.name, strip)
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise UnsafeArchive(f"device or FIFO in archive: {member.name!r}")
        if parts is None:
            continue
        key = "/".join(parts)
        if member.isdir():
            extracted.pop(key, None)
            _safe_parent(dest, [*parts, "."])
        elif member.issym():
            extracted.pop(key, None)
            _make_symlink(dest, parts, member.linkname)
        elif member.islnk():
            source_parts = member_parts(member.linkname, strip)
            source = extracted.get("/".join(source_parts or []))
            _make_hardlink(dest, parts, source, member.linkname)
            extracted[key] = os.path.join(dest, *parts)
        elif member.isfile():
            target = _safe_parent(dest, parts)
            handle = tar.extractfile(member)
            if handle is None:
                raise UnsafeArchive(f"unreadable member {member.name!r}")
            with handle:
                _write_file(target, handle, member.mode, budget, member.size)
            extracted[key] = target
        else:
            raise UnsafeArchive(f"unsupported member type in archive: {member.name!r}")


def _extract_zip(archive: str, dest: str, strip: int, budget: list[int]) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise StepFailure(INSTALL_FAILED, "bad_archive", f"{archive}: {exc}") from None
    with zf:
        for info in zf.infolist():
            parts = member_parts(info.filename, strip)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
                raise UnsafeArchive(f"device or FIFO in archive: {info.filename!r}")
            if parts is None:
                continue
            if info.is_dir() or kind == stat.S_IFDIR:
                _safe_parent(dest, [*parts, "."])
            elif kind == stat.S_IFLNK:
                if info.file_size > ZIP_LINK_LIMIT:
                    raise UnsafeArchive(f"symlink target too long: {info.filename!r}")
                _make_symlink(dest, parts, zf.read(info).decode("utf-8", "replace"))
            else:
                target = _safe_parent(dest, parts)
                with zf.open(info) as handle:
                    _write_file(target, handle, mode or 0o644, budget, info.file_size)


# --- install context and helpers --------------------------------------------------------------


class Context:
    """Where one recipe installs, what it has produced so far, and how processes are started.

    ``runner`` starts every process (the container's :func:`run_process`, or the kit's own
    runner for local validation); ``env`` is the environment toolchain commands start from
    (None: this process's); ``python`` is the interpreter that makes virtual environments;
    ``reuse_host_tools`` lets actions use that interpreter's own package tooling instead of
    bootstrapping one per install (local validation: the kit's interpreter has it); ``uv`` is
    the provisioned uv executable PyPI installs run with, when there is one;
    ``extract_limit`` caps what one archive may unpack; ``log_to`` receives the command lines
    (stderr by default: the container's stdout carries the one result line).
    """

    def __init__(
        self,
        name: str,
        platform: Platform,
        prefix: str,
        version: str | None = None,
        timeout: float = 900,
        recipe: dict[str, Any] | None = None,
        *,
        runner: Runner | None = None,
        env: dict[str, str] | None = None,
        python: str | None = None,
        reuse_host_tools: bool = False,
        uv: str | None = None,
        extract_limit: int = DEFAULT_EXTRACT_LIMIT,
        log_to: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.platform = platform
        self.prefix = os.path.abspath(prefix)
        self.bin_dir = os.path.join(self.prefix, "bin")
        self.tool_dir = os.path.join(self.prefix, "tools", name)
        self.work_dir = os.path.join(self.prefix, "work", name)
        self.requested_version = version
        self.version: str | None = version
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.recipe = recipe or {}
        self.runner: Runner = runner or run_process
        self.env = env
        self.python = python or sys.executable
        self.reuse_host_tools = reuse_host_tools
        self.uv = uv
        self.extract_limit = extract_limit
        self.log = log_to or log
        self.executables: list[str] = []
        self.last_tree: str | None = None  # the tree an action last unpacked (install_binaries)
        # The language runtimes the actions ran on: {"name", "version", "path"} (note_runtime).
        self.runtimes: list[dict[str, str]] = []
        for directory in (self.bin_dir, self.tool_dir, self.work_dir):
            os.makedirs(directory, exist_ok=True)

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StepFailure(TIMEOUT, "install", f"install exceeded {self.timeout:.0f}s")
        return left

    def note_runtime(
        self, name: str, executable: str, version_args: tuple[str, ...] = ("--version",)
    ) -> None:
        """Record the runtime an action runs on, with the version it reports (once per name).

        The version is what ``<executable> --version`` (or ``version_args``: ``go version``)
        prints (``v26.12.1``, ``Python 3.13.5``, ``cargo 1.95.0 (...)``, ``go1.19.8``): the first
        dotted number. A runtime that cannot say is recorded with an empty version rather than
        failing the install.
        """
        if any(r["name"] == name for r in self.runtimes):
            return
        version = ""
        try:
            budget = min(30.0, self.remaining())
            argv = [executable, *version_args]
            done = self.runner(argv, self.environment(), self.work_dir, budget)
            found = re.search(r"\d+\.\d+(?:\.\d+)?", str(done.output or ""))
            if done.exit_code == 0 and found:
                version = found.group(0)
        except StepFailure:
            pass
        self.runtimes.append({"name": name, "version": version, "path": executable})

    def which(self, name: str) -> str | None:
        """``name`` on the PATH commands start with (the context's, else this process's)."""
        return shutil.which(name, path=self.environment().get("PATH"))

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a command starts with: the base one plus ``extra``."""
        merged = dict(os.environ if self.env is None else self.env)
        merged.update(extra or {})
        return merged

    def link(self, source: str, name: str | None = None) -> None:
        """Expose an installed executable as ``bin/<name>``."""
        name = name or os.path.basename(source)
        if "/" in name or name in ("", ".", ".."):
            raise StepFailure(INSTALL_FAILED, "bad_recipe", f"bad executable name {name!r}")
        if not os.path.isfile(source):
            raise StepFailure(
                INSTALL_FAILED,
                "missing_executable",
                f"expected executable {source} was not installed",
            )
        mode = os.stat(source).st_mode
        if not mode & stat.S_IXUSR:
            os.chmod(source, mode | 0o755)
        target = os.path.join(self.bin_dir, name)
        if os.path.lexists(target):
            os.unlink(target)
        os.symlink(source, target)
        if name not in self.executables:
            self.executables.append(name)

    def wrapper(self, source: str, name: str, env: dict[str, str]) -> None:
        """A shell wrapper for executables that need environment variables (a private lib path)."""
        script = os.path.join(self.tool_dir, "wrappers", name)
        os.makedirs(os.path.dirname(script), exist_ok=True)
        exports = "".join("export {}='{}'\n".format(k, v.replace("'", "")) for k, v in env.items())
        with open(script, "w") as handle:
            handle.write(f"#!/bin/sh\n{exports}exec '{source}' \"$@\"\n")
        os.chmod(script, 0o755)
        if not os.path.isfile(source):
            raise StepFailure(
                INSTALL_FAILED,
                "missing_executable",
                f"expected executable {source} was not installed",
            )
        self.link(script, name)


def run_command(
    args: list[str],
    ctx: Context,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    what: str = "",
) -> str:
    """Run an installer toolchain command; classify its failure (network, timeout, install)."""
    ctx.log("$ " + " ".join(args))
    done = ctx.runner(args, ctx.environment(env), cwd or ctx.work_dir, ctx.remaining())
    if done.missing:
        raise StepFailure(MISSING_RUNTIME, os.path.basename(args[0]), done.output)
    if done.timed_out:
        raise StepFailure(
            TIMEOUT, "install", "%s timed out" % (what or args[0]), done.output, done.exit_code
        )
    if done.exit_code != 0:
        network = classify_network_text(done.output)
        category = NETWORK if network else INSTALL_FAILED
        raise StepFailure(
            category,
            network or f"exit_{done.exit_code}",
            f"{what or ' '.join(args[:3])} exited {done.exit_code}",
            done.output,
            done.exit_code,
        )
    return str(done.output)


def configured_endpoint(ctx: Context, name: str) -> str | None:
    """The base URL ``AUTOMATION_ENDPOINT_<NAME>`` gives the kit for endpoint ``name``, as the
    action's environment has it (forwarded from the host), without a trailing slash; None when
    nothing is configured (the toolchain then uses its public registry).

    Only ``http(s)://`` URLs without whitespace, quotes or backslashes are taken: the value goes
    into toolchain configuration (a cargo ``--config`` string, ``GOPROXY``).
    """
    value = ctx.environment().get(ENDPOINT_ENV + name.upper(), "").strip()
    if not value:
        return None
    parts = urllib.parse.urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or re.search(r"[\s\"'\\]", value)
    ):
        raise StepFailure(
            INSTALL_FAILED,
            "bad_endpoint",
            f"{ENDPOINT_ENV}{name.upper()}={value[:200]!r} is not an http(s) base URL",
        )
    return value.rstrip("/")


def download_cache(ctx: Context, name: str) -> str | None:
    """``<shared download cache>/<name>``, created, or None when there is no shared cache.

    The host hands the installer one folder for package downloads
    (``AUTOMATION_DOWNLOAD_CACHE``: a host path locally, a bind mount in the containers), shared
    by local validation and every container of every environment, so a package fetched once is
    not fetched again. Each install module keeps only *downloads* there (bytes addressed by
    their URL or digest, written atomically by the package manager), never what an environment
    builds: every environment still resolves, builds and installs the tool itself. Anything
    but an absolute path means no shared cache (the package manager's own default applies).
    """
    root = ctx.environment().get(DOWNLOAD_CACHE_ENV, "").strip()
    if not root.startswith("/") or not SAFE_NAME.match(name):
        return None
    folder = os.path.join(root, name)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None  # an unwritable cache costs downloads, never the install
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


def require_tool(
    name: str,
    action: str,
    ctx: Context | None = None,
    version_args: tuple[str, ...] = ("--version",),
) -> str:
    """The path of ``name`` on the PATH commands start with, or a missing-runtime failure.

    With ``ctx`` the runtime is recorded (``Context.note_runtime``, asking it for its version
    with ``version_args``): result lines say which ``node``/``cargo``/... an install ran on and
    its version.
    """
    path = ctx.which(name) if ctx is not None else shutil.which(name)
    if path is not None and ctx is not None:
        ctx.note_runtime(name, path, version_args)
    if path is None:
        raise StepFailure(MISSING_RUNTIME, name, f"{action} needs {name}, which is not installed")
    return path


def step_executables(step: dict[str, Any]) -> list[str]:
    """The step's ``executables``, each a plain file name."""
    names = _as_list(step.get("executables"))
    for name in names:
        if "/" in name or name in ("", ".", ".."):
            raise StepFailure(INSTALL_FAILED, "bad_recipe", f"bad executable name {name!r}")
    return names


def step_field(step: dict[str, Any], key: str) -> str:
    """A required string field of the step that cannot pass for a command-line flag."""
    value = step.get(key)
    if not isinstance(value, str) or not value or value.startswith("-") or "\n" in value:
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"step needs a {key}")
    return value


def check_installed(directory: str, names: list[str]) -> None:
    """Every declared executable is a file in ``directory`` (else :class:`MissingExecutables`)."""
    missing = [name for name in names if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise MissingExecutables(directory, missing)


def link_executables(ctx: Context, directory: str, names: list[str]) -> None:
    """Expose each of ``names`` from ``directory`` as ``bin/<name>``."""
    check_installed(directory, names)
    for name in names:
        ctx.link(os.path.join(directory, name))


# --- archive actions --------------------------------------------------------------------------


def _mapped(step: dict[str, Any], platform: Platform) -> dict[str, str]:
    os_map = step.get("os_mapping") or {}
    arch_map = step.get("arch_mapping") or {}
    return {
        "os": str(os_map.get(platform.os, platform.os)),
        "arch": str(arch_map.get(platform.arch, platform.arch)),
    }


def expand(template: str, ctx: Context, step: dict[str, Any]) -> str:
    """Fill ``{os}``, ``{arch}`` (through the step's mappings) and ``{version}`` in a template."""
    if "{{" in template:
        raise StepFailure(
            INSTALL_FAILED,
            "unresolved_placeholder",
            f"template {template!r} needs a version provider this installer lacks",
        )
    values = _mapped(step, ctx.platform)
    if "{version}" in template:
        if not ctx.version:
            raise StepFailure(INSTALL_FAILED, "no_version", f"no version known for {template!r}")
        values["version"] = ctx.version
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"template {template!r}: {exc}") from None


def binary_pairs(step: dict[str, Any]) -> list[tuple[str, str]]:
    """The step's ``binaries`` as (path in the tree, name in bin/)."""
    pairs: list[tuple[str, str]] = []
    for entry in step.get("binaries") or []:
        if isinstance(entry, dict):
            src = str(entry.get("src") or "")
            dest = str(entry.get("dest") or os.path.basename(src))
        else:
            src, dest = str(entry), os.path.basename(str(entry))
        member_parts(src, 0)  # same rules as archive paths: nothing outside the tree
        pairs.append((src, dest))
    return pairs


def link_from_tree(tree: str, step: dict[str, Any], ctx: Context) -> None:
    """Expose the step's ``binaries`` from an extracted tree (explaining a wrong layout)."""
    pairs = binary_pairs(step)
    if not pairs:
        raise StepFailure(INSTALL_FAILED, "bad_recipe", "step lists no binaries")
    for src, dest in pairs:
        path = os.path.realpath(os.path.join(tree, src))
        if not _within(path, os.path.realpath(tree)):
            raise UnsafeArchive(f"binary {src!r} resolves outside the installed tree")
        if not os.path.isfile(path):
            _explain_layout(tree, src, int(step.get("strip_dirs") or 0))
        ctx.link(path, dest)


def _explain_layout(tree: str, src: str, strip_dirs: int) -> None:
    """A declared binary is not where the recipe says: when the archive holds it one directory
    deeper (a single top-level folder the recipe did not strip), say which ``strip_dirs`` would
    work instead of a bare "missing executable" (the builder guesses layouts from asset names)."""
    entries = [e for e in os.listdir(tree) if not e.startswith(".")] if os.path.isdir(tree) else []
    if len(entries) == 1 and os.path.isdir(os.path.join(tree, entries[0])):
        inner = os.path.join(tree, entries[0], src)
        if os.path.isfile(inner) and _within(os.path.realpath(inner), os.path.realpath(tree)):
            raise StepFailure(
                INSTALL_FAILED,
                "layout_mismatch",
                f"{src} is inside the archive's single top-level directory {entries[0]}/: "
                f"the recipe needs strip_dirs = {strip_dirs + 1} (it has {strip_dirs})",
            )


def extract_and_link(path: str, step: dict[str, Any], ctx: Context) -> None:
    """Unpack a downloaded archive into the tool's tree (the step's ``archive_format`` and
    ``strip_dirs``) and link the step's binaries from it."""
    tree = safe_extract(
        path,
        os.path.join(ctx.tool_dir, "tree"),
        str(step.get("archive_format") or ""),
        int(step.get("strip_dirs") or 0),
        ctx.extract_limit,
    )
    ctx.last_tree = tree
    link_from_tree(tree, step, ctx)


def action_download_archive(step: dict[str, Any], ctx: Context) -> None:
    url = expand(step_field(step, "url"), ctx, step)
    if urllib.parse.urlparse(url).scheme not in ("https", "http", "file"):
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"unsupported URL {url!r}")
    name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
    path = download(url, os.path.join(ctx.work_dir, name), step.get("checksum") or None)
    extract_and_link(path, step, ctx)


def action_install_binaries(step: dict[str, Any], ctx: Context) -> None:
    if ctx.last_tree is None:
        raise StepFailure(
            INSTALL_FAILED, "bad_recipe", "install_binaries without a preceding archive"
        )
    link_from_tree(ctx.last_tree, step, ctx)


# --- the action table and the ecosystem install modules ---------------------------------------

Action = Callable[[dict[str, Any], Context], None]
# The generic actions; each ecosystem's install.py adds its own when this module loads.
ACTIONS: dict[str, Action] = {
    "download_archive": action_download_archive,
    "install_binaries": action_install_binaries,
}
# Actions local validation may run on the user's machine (declared by the install modules).
LOCAL_ACTIONS: list[str] = []
# The toolchains' own variables for private modules and mirrors (declared by the install modules
# as ``PASS_ENV``) that the host hands to the installer, locally and in the containers, beside
# the kit's ``AUTOMATION_ENDPOINT_*`` overrides.
PASS_ENV: list[str] = []
# What a package manager's output means, declared by the install modules as ``OUTPUT_CLASSES``
# ((category, subcategory, regular expression), ...): checked in order, first match wins.
OUTPUT_CLASSES: list[tuple[str, str, re.Pattern[str]]] = []


def classify_output(text: str) -> tuple[str, str] | None:
    """(category, subcategory) for a package manager's failing output, or None."""
    for category, subcategory, pattern in OUTPUT_CLASSES:
        if pattern.search(text):
            return category, subcategory
    return None


def ecosystem_install_files(ecosystems_dir: str = ECOSYSTEMS_DIR) -> list[str]:
    """Every ``<ecosystem>/install.py`` next to this installer, sorted by ecosystem."""
    return sorted(glob.glob(os.path.join(ecosystems_dir, "*", "install.py")))


def kit_files() -> list[tuple[str, str]]:
    """(path inside the kit folder, file on this machine) for everything the container needs.

    The kit folder keeps the repository's relative layout (``containers/installer.py``,
    ``ecosystems/<name>/install.py``), so the installer finds the install modules the same way
    in both places."""
    root = os.path.dirname(HERE)
    files = [os.path.abspath(__file__), *ecosystem_install_files()]
    return [(os.path.relpath(path, root).replace(os.sep, "/"), path) for path in files]


def _load_ecosystem_actions() -> None:
    """Load each install module by path and register its ``ACTIONS`` and ``LOCAL_ACTIONS``.

    The modules find this core as ``sys.modules[KIT_MODULE]`` (they cannot import it by its
    package name: in the container there is no package, only the kit folder)."""
    sys.modules[KIT_MODULE] = sys.modules[__name__]
    for path in ecosystem_install_files():
        ecosystem = os.path.basename(os.path.dirname(path))
        spec = importlib.util.spec_from_file_location(f"{KIT_MODULE}_{ecosystem}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        table = getattr(module, "ACTIONS", None)
        if not isinstance(table, dict) or not table:
            raise ImportError(f"{path}: no ACTIONS table")
        for name, action in table.items():
            if name in ACTIONS:
                raise ImportError(f"{path}: action {name!r} is already registered")
            if not callable(action):
                raise ImportError(f"{path}: action {name!r} is not a function")
            ACTIONS[name] = action
        for name in getattr(module, "LOCAL_ACTIONS", ()):
            if name not in table:
                raise ImportError(f"{path}: LOCAL_ACTIONS names {name!r}, not in its ACTIONS")
            LOCAL_ACTIONS.append(name)
        for category, subcategory, expression in getattr(module, "OUTPUT_CLASSES", ()):
            OUTPUT_CLASSES.append((category, subcategory, re.compile(expression, re.IGNORECASE)))
        for variable in getattr(module, "PASS_ENV", ()):
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", variable) or variable.startswith(ENDPOINT_ENV):
                raise ImportError(f"{path}: PASS_ENV names {variable!r}")
            if variable not in PASS_ENV:
                PASS_ENV.append(variable)


# --- results ----------------------------------------------------------------------------------


def result(
    status: str,
    category: str = "",
    subcategory: str = "",
    message: str = "",
    output: str = "",
    version: str | None = None,
    exit_code: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    if exit_code is None:
        exit_code = 0 if status != FAIL else EXIT_CODES.get(category, 1)
    record = {
        "status": status,
        "category": category,
        "subcategory": subcategory,
        "exit_code": exit_code,
        "message": message,
        "output": output[-OUTPUT_LIMIT:],
        "version": version or "",
    }
    record.update(extra)
    return record


def failure_result(exc: StepFailure, version: str | None = None, **extra: Any) -> dict[str, Any]:
    status = SKIPPED if exc.category == UNSUPPORTED else FAIL
    return result(status, exc.category, exc.subcategory, exc.message, exc.output, version, **extra)


def matching_steps(recipe: dict[str, Any], platform: Platform) -> list[dict[str, Any]]:
    return [s for s in recipe.get("steps") or [] if when_matches(s.get("when"), platform)]


def recipe_name(recipe: dict[str, Any]) -> str:
    name = str((recipe.get("metadata") or {}).get("name") or "")
    if not SAFE_NAME.match(name) or ".." in name:
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"unsafe or missing metadata.name {name!r}")
    return name


def run_step(step: dict[str, Any], ctx: Context, index: int = 0) -> None:
    """Run one step's action (an unknown action is an install failure naming the step)."""
    action = ACTIONS.get(str(step.get("action")))
    if action is None:
        raise StepFailure(
            INSTALL_FAILED,
            "unknown_action",
            f"step {index}: action {step.get('action')!r} is not supported",
        )
    action(step, ctx)


def install(recipe: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Run every step that applies to the platform; write the state ``verify`` reads."""
    start = time.monotonic()
    try:
        reason = unsupported_reason(recipe.get("metadata") or {}, ctx.platform)
        if reason:
            raise StepFailure(UNSUPPORTED, "constraints", reason)
        steps = matching_steps(recipe, ctx.platform)
        if not steps:
            raise StepFailure(
                UNSUPPORTED, "no_matching_step", f"no step applies to {ctx.platform.os_arch}"
            )
        for index, step in enumerate(steps):
            if step.get("phase") == "post-install":
                continue
            run_step(step, ctx, index)
    except StepFailure as exc:
        return failure_result(
            exc,
            ctx.version,
            phase="install",
            duration_ms=int((time.monotonic() - start) * 1000),
            runtimes=ctx.runtimes,
        )
    state = {"version": ctx.version or "", "executables": ctx.executables}
    with open(os.path.join(ctx.tool_dir, "state.json"), "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    return result(
        PASS,
        message="installed {}".format(", ".join(ctx.executables)),
        version=ctx.version,
        phase="install",
        executables=ctx.executables,
        duration_ms=int((time.monotonic() - start) * 1000),
        runtimes=ctx.runtimes,
    )


def _run_verify(command: str, ctx: Context, timeout: float) -> tuple[int, str]:
    env = dict(os.environ)
    env["PATH"] = ctx.bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    with tempfile.TemporaryDirectory() as cwd:
        done = ctx.runner(["/bin/sh", "-c", command], env, cwd, timeout)
    if done.timed_out:
        raise StepFailure(
            TIMEOUT, "verify", f"{command!r} timed out after {timeout:.0f}s", done.output
        )
    return int(done.exit_code), str(done.output)


def verify(recipe: dict[str, Any], ctx: Context, timeout: float = 60) -> dict[str, Any]:
    """Check the executables, run ``[verify]`` commands and match their patterns."""
    start = time.monotonic()
    state_path = os.path.join(ctx.tool_dir, "state.json")
    version = ctx.version
    executables: list[str] = []
    if os.path.exists(state_path):
        with open(state_path, encoding="utf-8") as handle:
            state = json.load(handle)
        version = version or state.get("version") or None
        executables = list(state.get("executables") or [])
    outputs: list[str] = []
    try:
        for exe in executables:
            path = os.path.join(ctx.bin_dir, exe)
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise StepFailure(VERIFY_FAILED, "missing_executable", f"{path} is not executable")
        spec = recipe.get("verify") or {}
        checks: list[tuple[str, list[str]]] = []
        if spec.get("command"):
            patterns = [
                p for p in [spec.get("pattern") or "", *_as_list(spec.get("patterns"))] if p
            ]
            checks.append((str(spec["command"]), patterns))
        for extra in spec.get("additional") or []:
            if extra.get("command"):
                checks.append((str(extra["command"]), _as_list(extra.get("pattern"))))
        if not checks:
            return result(
                PASS,
                subcategory="no_verify",
                message="no [verify] command",
                version=version,
                phase="verify",
            )
        expected = int(spec.get("exit_code", 0) or 0)
        output_only = spec.get("mode") == "output"
        seen: str | None = None
        for command, patterns in checks:
            code, output = _run_verify(command, ctx, timeout)
            outputs.append(f"$ {command}\n{output}")
            if not output_only and code != expected:
                raise StepFailure(
                    VERIFY_FAILED,
                    "exit_code",
                    f"{command!r} exited {code}, expected {expected}",
                    "\n".join(outputs),
                )
            for pattern in patterns:
                ok, found = pattern_matches(pattern, output, version)
                if not ok:
                    detail = f" (saw version {found})" if found else ""
                    raise StepFailure(
                        VERIFY_FAILED,
                        "pattern_mismatch",
                        f"output of {command!r} does not match {pattern!r}{detail}",
                        "\n".join(outputs),
                    )
                seen = seen or found
    except StepFailure as exc:
        return failure_result(
            exc, version, phase="verify", duration_ms=int((time.monotonic() - start) * 1000)
        )
    return result(
        PASS,
        message="verified",
        output="\n".join(outputs),
        version=seen or version,
        phase="verify",
        duration_ms=int((time.monotonic() - start) * 1000),
    )


def load_recipe(path: str) -> dict[str, Any]:
    if path.endswith(".toml"):
        try:
            import tomllib  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise SystemExit(
                f"python {sys.version[:4]} has no tomllib: pass the recipe as JSON"
            ) from None
        with open(path, "rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
        return data
    with open(path, encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install and verify one tsuku recipe.")
    parser.add_argument("command", choices=("install", "verify", "run"))
    parser.add_argument("recipe", help="recipe as JSON (or TOML where tomllib exists)")
    parser.add_argument("--platform", required=True, help="e.g. linux-debian-glibc-x86_64")
    parser.add_argument("--prefix", default=os.path.expanduser("~/.tsuku-validate"))
    parser.add_argument("--version", dest="version", default=None, help="install this version")
    parser.add_argument("--timeout", type=float, default=900, help="install budget in seconds")
    parser.add_argument("--verify-timeout", type=float, default=60)
    parser.add_argument(
        "--python",
        default=None,
        help="the interpreter that makes virtual environments (default: this one)",
    )
    parser.add_argument(
        "--reuse-host-tools",
        action="store_true",
        help="that interpreter brings its package installer: virtual environments are made "
        "without their own, and the interpreter's installs into them (a shared installer)",
    )
    parser.add_argument(
        "--uv",
        default=None,
        help="the provisioned uv executable, for the install actions that use it when given",
    )
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    try:
        name = recipe_name(recipe)
        ctx = Context(
            name,
            Platform.parse(args.platform),
            args.prefix,
            args.version,
            args.timeout,
            recipe,
            python=args.python,
            reuse_host_tools=args.reuse_host_tools,
            uv=args.uv,
        )
    except (StepFailure, ValueError) as exc:
        record = result(FAIL, INSTALL_FAILED, "bad_recipe", str(exc), exit_code=2)
        print(json.dumps(record), flush=True)
        return 2
    if args.command == "verify":
        record = verify(recipe, ctx, args.verify_timeout)
    else:
        record = install(recipe, ctx)
        if args.command == "run" and record["status"] == PASS:
            record = verify(recipe, ctx, args.verify_timeout)
    print(json.dumps(record), flush=True)
    return int(record["exit_code"])


_load_ecosystem_actions()

if __name__ == "__main__":
    sys.exit(main())
