"""The kit's own recipe installer: install one recipe's steps for one platform, then verify it.

Self-contained on purpose: this file is copied into validation containers and run with the
container's own ``python3`` (3.9 on debian-11), so it imports only the standard library and avoids
syntax newer than 3.9. The host passes the recipe as JSON (old Pythons have no ``tomllib``).

    python3 installer.py run RECIPE.json --platform linux-debian-glibc-x86_64 --prefix /opt/tsuku

prints ONE JSON line: {status, category, subcategory, exit_code, message, output, version, ...}.
Exit codes follow tsuku's: 0 pass/skipped, 5 network, 6 install failed, 7 verify failed,
8 missing runtime, 124 timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
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
from typing import IO, Any, Callable  # noqa: UP035 (runs on 3.9)

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
OUTPUT_LIMIT = 16 * 1024
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,127}$")
USER_AGENT = "registry-automation-installer/1"
VERSION_RE = r"v?(\d+(?:\.[0-9A-Za-z]+)*(?:[-+][0-9A-Za-z.]+)?)"

# Output fragments that mean the network, not the package, failed (pip, npm, curl, urllib).
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
    """An install or verify failure with its classification."""

    def __init__(self, category: str, subcategory: str, message: str, output: str = "") -> None:
        super().__init__(message)
        self.category = category
        self.subcategory = subcategory
        self.message = message
        self.output = output


class UnsafeArchive(StepFailure):
    """An archive member would land outside the extraction directory, or is a device file."""

    def __init__(self, message: str) -> None:
        super().__init__(INSTALL_FAILED, "unsafe_archive", message)


def log(message: str) -> None:
    print("[installer] " + message, file=sys.stderr, flush=True)


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


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _member_parts(name: str, strip: int) -> list[str] | None:
    """Archive name -> path components below the extraction dir (None: stripped away)."""
    if not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"absolute path in archive: {name!r}")
    raw = re.split(r"[/\\]", name)
    if ".." in raw:
        raise UnsafeArchive(f"parent reference in archive path: {name!r}")
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


def _write_file(target: str, source: IO[bytes], mode: int, budget: list[int]) -> None:
    _clear(target)
    # O_NOFOLLOW: never write through a link planted by an earlier member.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise UnsafeArchive("archive expands beyond the size limit")
            handle.write(chunk)
    # No setuid/setgid/sticky, no group/other write.
    os.chmod(target, (mode & 0o755) | 0o600)


def _make_symlink(dest: str, parts: list[str], link_target: str) -> None:
    name = "/".join(parts)
    if not link_target or link_target.startswith("/") or re.match(r"^[A-Za-z]:", link_target):
        raise UnsafeArchive(f"absolute symlink {name} -> {link_target}")
    target = _safe_parent(dest, parts)
    resolved = os.path.realpath(os.path.join(os.path.dirname(target), link_target))
    if not _within(resolved, dest):
        raise UnsafeArchive(f"symlink out of the tree: {name} -> {link_target}")
    _clear(target)
    os.symlink(link_target, target)


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
    archive: str, dest: str, archive_format: str = "", strip_dirs: int = 0, max_bytes: int = 4 << 30
) -> str:
    """Extract ``archive`` into ``dest``; refuse anything that would leave ``dest``.

    Rejected: absolute paths, ``..`` components, symlinks or hardlinks resolving outside,
    device files and FIFOs. Modes lose setuid/setgid. Returns ``dest``.
    """
    os.makedirs(dest, exist_ok=True)
    dest = os.path.realpath(dest)
    fmt = detect_format(archive, archive_format)
    budget = [max_bytes]
    if fmt == "zip":
        _extract_zip(archive, dest, strip_dirs, budget)
    elif fmt == "tar.zst":
        zstd = shutil.which("zstd")
        if zstd is None:
            raise StepFailure(MISSING_RUNTIME, "zstd", f"zstd is needed to unpack {archive}")
        plain = archive + ".tar"
        with open(plain, "wb") as out:
            subprocess.run([zstd, "-dc", archive], stdout=out, check=True)
        _extract_tar(plain, dest, strip_dirs, budget)
    elif fmt == "tar":
        _extract_tar(archive, dest, strip_dirs, budget)
    else:
        raise StepFailure(INSTALL_FAILED, "unknown_archive", f"not an archive: {archive}")
    return dest


def _extract_tar(archive: str, dest: str, strip: int, budget: list[int]) -> None:
    try:
        tar = tarfile.open(archive, "r:*")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError) as exc:
        raise StepFailure(INSTALL_FAILED, "bad_archive", f"{archive}: {exc}") from None
    extracted: dict[str, str] = {}
    with tar:
        for member in tar:
            parts = _member_parts(member.name, strip)
            if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
                raise UnsafeArchive(f"device or FIFO in archive: {member.name!r}")
            if parts is None:
                continue
            key = "/".join(parts)
            if member.isdir():
                _safe_parent(dest, [*parts, "."])
            elif member.issym():
                _make_symlink(dest, parts, member.linkname)
            elif member.islnk():
                source_parts = _member_parts(member.linkname, strip)
                source = extracted.get("/".join(source_parts or []))
                if source is None:
                    raise UnsafeArchive(
                        "hardlink to a path outside the extracted tree: "
                        f"{member.name} -> {member.linkname}"
                    )
                target = _safe_parent(dest, parts)
                _clear(target)
                shutil.copy2(source, target, follow_symlinks=False)
                extracted[key] = target
            elif member.isfile():
                target = _safe_parent(dest, parts)
                handle = tar.extractfile(member)
                if handle is None:
                    raise UnsafeArchive(f"unreadable member {member.name!r}")
                with handle:
                    _write_file(target, handle, member.mode, budget)
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
            parts = _member_parts(info.filename, strip)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind and kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
                raise UnsafeArchive(f"device or FIFO in archive: {info.filename!r}")
            if parts is None:
                continue
            if info.is_dir() or kind == stat.S_IFDIR:
                _safe_parent(dest, [*parts, "."])
            elif kind == stat.S_IFLNK:
                _make_symlink(dest, parts, zf.read(info).decode("utf-8", "replace"))
            else:
                target = _safe_parent(dest, parts)
                with zf.open(info) as handle:
                    _write_file(target, handle, mode or 0o644, budget)


# --- install context and helpers --------------------------------------------------------------


class Context:
    """Where one recipe installs, and what it has produced so far."""

    def __init__(
        self,
        name: str,
        platform: Platform,
        prefix: str,
        version: str | None = None,
        timeout: float = 900,
        recipe: dict[str, Any] | None = None,
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
        self.executables: list[str] = []
        self.last_tree: str | None = None  # where install_binaries looks (homebrew keg)
        for directory in (self.bin_dir, self.tool_dir, self.work_dir):
            os.makedirs(directory, exist_ok=True)

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise StepFailure(TIMEOUT, "install", f"install exceeded {self.timeout:.0f}s")
        return left

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
        """A shell wrapper for executables that need environment variables (gems, cpan)."""
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
    merged = dict(os.environ)
    merged.update(env or {})
    log("$ " + " ".join(args))
    try:
        proc = subprocess.run(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=merged,
            cwd=cwd or ctx.work_dir,
            timeout=ctx.remaining(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else ""
        raise StepFailure(TIMEOUT, "install", "%s timed out" % (what or args[0]), out) from None
    except OSError as exc:
        raise StepFailure(MISSING_RUNTIME, os.path.basename(args[0]), str(exc)) from None
    output = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        network = classify_network_text(output)
        category = NETWORK if network else INSTALL_FAILED
        raise StepFailure(
            category,
            network or f"exit_{proc.returncode}",
            f"{what or ' '.join(args[:3])} exited {proc.returncode}",
            output,
        )
    return output


def require_tool(name: str, action: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StepFailure(MISSING_RUNTIME, name, f"{action} needs {name}, which is not installed")
    return path


def _executables(step: dict[str, Any]) -> list[str]:
    names = _as_list(step.get("executables"))
    for name in names:
        if "/" in name or name in ("", ".", ".."):
            raise StepFailure(INSTALL_FAILED, "bad_recipe", f"bad executable name {name!r}")
    return names


def _package(step: dict[str, Any], key: str) -> str:
    value = step.get(key)
    if not isinstance(value, str) or not value or value.startswith("-") or "\n" in value:
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"step needs a {key}")
    return value


# --- ecosystem actions ------------------------------------------------------------------------


def action_npm_install(step: dict[str, Any], ctx: Context) -> None:
    package = _package(step, "package")
    npm = require_tool("npm", "npm_install")
    require_tool("node", "npm_install")
    root = os.path.join(ctx.tool_dir, "npm")
    spec = package + ("@" + ctx.requested_version if ctx.requested_version else "")
    run_command(
        [
            npm,
            "install",
            "--global",
            "--prefix",
            root,
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            spec,
        ],
        ctx,
        what="npm install " + spec,
    )
    manifest = os.path.join(root, "lib", "node_modules", package, "package.json")
    try:
        with open(manifest, encoding="utf-8") as handle:
            ctx.version = str(json.load(handle).get("version") or "") or ctx.version
    except (OSError, ValueError):
        pass
    for exe in _executables(step):
        ctx.link(os.path.join(root, "bin", exe))


def action_pipx_install(step: dict[str, Any], ctx: Context) -> None:
    """One venv per package (what pipx does), with the interpreter running this installer."""
    package = _package(step, "package")
    venv = os.path.join(ctx.tool_dir, "venv")
    run_command([sys.executable, "-m", "venv", venv], ctx, what="python3 -m venv")
    python = os.path.join(venv, "bin", "python")
    spec = package + ("==" + ctx.requested_version if ctx.requested_version else "")
    run_command(
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            spec,
        ],
        ctx,
        what="pip install " + spec,
    )
    probe = "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))"
    with contextlib.suppress(StepFailure):
        ctx.version = run_command([python, "-c", probe, package], ctx).strip() or ctx.version
    for exe in _executables(step):
        ctx.link(os.path.join(venv, "bin", exe))


def action_cargo_install(step: dict[str, Any], ctx: Context) -> None:
    crate = _package(step, "crate")
    cargo = require_tool("cargo", "cargo_install")
    args = [cargo, "install", "--locked", "--root", ctx.tool_dir, crate]
    if ctx.requested_version:
        args += ["--version", ctx.requested_version]
    run_command(args, ctx, what="cargo install " + crate)
    for exe in _executables(step):
        ctx.link(os.path.join(ctx.tool_dir, "bin", exe))


def action_gem_install(step: dict[str, Any], ctx: Context) -> None:
    gem_name = _package(step, "gem")
    gem = require_tool("gem", "gem_install")
    home = os.path.join(ctx.tool_dir, "gems")
    args = [
        gem,
        "install",
        "--no-document",
        "--install-dir",
        home,
        "--bindir",
        os.path.join(home, "bin"),
        gem_name,
    ]
    if ctx.requested_version:
        args += ["--version", ctx.requested_version]
    run_command(args, ctx, what="gem install " + gem_name)
    for exe in _executables(step):
        ctx.wrapper(os.path.join(home, "bin", exe), exe, {"GEM_HOME": home, "GEM_PATH": home})


def action_go_install(step: dict[str, Any], ctx: Context) -> None:
    module = _package(step, "module")
    go = require_tool("go", "go_install")
    gobin = os.path.join(ctx.tool_dir, "bin")
    target = "{}@{}".format(module, ctx.requested_version or "latest")
    run_command(
        [go, "install", target],
        ctx,
        what="go install " + target,
        env={
            "GOBIN": gobin,
            "GOPATH": os.path.join(ctx.tool_dir, "gopath"),
            "GOFLAGS": "-modcacherw",
        },
    )
    for exe in _executables(step):
        ctx.link(os.path.join(gobin, exe))


def action_cpan_install(step: dict[str, Any], ctx: Context) -> None:
    dist = step.get("module") or _package(step, "distribution")
    module = str(dist).replace("-", "::")
    cpanm = require_tool("cpanm", "cpan_install")
    require_tool("perl", "cpan_install")
    local = os.path.join(ctx.tool_dir, "perl5")
    run_command(
        [cpanm, "--notest", "--local-lib-contained", local, module], ctx, what="cpanm " + module
    )
    lib = os.path.join(local, "lib", "perl5")
    for exe in _executables(step):
        ctx.wrapper(os.path.join(local, "bin", exe), exe, {"PERL5LIB": lib})


# --- archive actions --------------------------------------------------------------------------


def _mapped(step: dict[str, Any], platform: Platform) -> dict[str, str]:
    os_map = step.get("os_mapping") or {}
    arch_map = step.get("arch_mapping") or {}
    return {
        "os": str(os_map.get(platform.os, platform.os)),
        "arch": str(arch_map.get(platform.arch, platform.arch)),
    }


def expand(template: str, ctx: Context, step: dict[str, Any]) -> str:
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


def _binary_pairs(step: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for entry in step.get("binaries") or []:
        if isinstance(entry, dict):
            src = str(entry.get("src") or "")
            dest = str(entry.get("dest") or os.path.basename(src))
        else:
            src, dest = str(entry), os.path.basename(str(entry))
        _member_parts(src, 0)  # same rules as archive paths: nothing outside the tree
        pairs.append((src, dest))
    return pairs


def _link_from_tree(tree: str, step: dict[str, Any], ctx: Context) -> None:
    pairs = _binary_pairs(step)
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


def _github_release(repo: str, ctx: Context) -> tuple[str, str]:
    """(tag, version) of the requested or latest release."""
    prefix = str((ctx.recipe.get("version") or {}).get("tag_prefix") or "")
    if ctx.requested_version:
        return (prefix or "v") + ctx.requested_version, ctx.requested_version
    api = os.environ.get("TSUKU_GITHUB_API", "https://api.github.com").rstrip("/")
    headers = {"Accept": "application/vnd.github+json"}
    token = os.environ.get("GITHUB_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    release = fetch_json(f"{api}/repos/{repo}/releases/latest", headers=headers)
    tag = str(release.get("tag_name") or "")
    if not tag:
        raise StepFailure(INSTALL_FAILED, "no_version", f"{repo} has no latest release")
    version = tag[len(prefix) :] if prefix and tag.startswith(prefix) else tag.lstrip("v")
    return tag, version


def _checksum_from_asset(url: str, asset: str) -> str | None:
    text = fetch_bytes(url).decode("utf-8", "replace")
    for line in text.splitlines():
        fields = line.replace("*", " ").split()
        if len(fields) >= 2 and fields[-1] == asset and re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
            return fields[0]
    single = text.split()
    if len(single) == 1 and re.fullmatch(r"[0-9a-fA-F]{64}", single[0]):
        return single[0]
    raise StepFailure(INSTALL_FAILED, "checksum_missing", f"no sha256 for {asset} in {url}")


def _github_download(step: dict[str, Any], ctx: Context) -> tuple[str, str]:
    repo = _package(step, "repo")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"bad repo {repo!r}")
    tag, ctx.version = _github_release(repo, ctx)
    asset = expand(_package(step, "asset_pattern"), ctx, step)
    if "/" in asset:
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"asset name {asset!r} has a slash")
    base = os.environ.get("TSUKU_GITHUB_DOWNLOAD", "https://github.com").rstrip("/")
    url = f"{base}/{repo}/releases/download/{urllib.parse.quote(tag)}/{asset}"
    sha = step.get("checksum") or None
    if not sha and step.get("checksum_asset"):
        checksum_asset = expand(str(step["checksum_asset"]), ctx, step)
        sha = _checksum_from_asset(
            f"{base}/{repo}/releases/download/{urllib.parse.quote(tag)}/{checksum_asset}", asset
        )
    path = download(url, os.path.join(ctx.work_dir, asset), sha)
    return path, asset


def action_github_archive(step: dict[str, Any], ctx: Context) -> None:
    path, _ = _github_download(step, ctx)
    tree = safe_extract(
        path,
        os.path.join(ctx.tool_dir, "tree"),
        str(step.get("archive_format") or ""),
        int(step.get("strip_dirs") or 0),
    )
    ctx.last_tree = tree
    _link_from_tree(tree, step, ctx)


def action_github_file(step: dict[str, Any], ctx: Context) -> None:
    path, asset = _github_download(step, ctx)
    files = os.path.join(ctx.tool_dir, "files")
    os.makedirs(files, exist_ok=True)
    if step.get("binary"):
        pairs = [(asset, str(step["binary"]))]
    else:
        pairs = _binary_pairs(step) or [(asset, asset)]
    for _src, dest in pairs:
        if "/" in dest or dest in ("", ".", ".."):
            raise StepFailure(INSTALL_FAILED, "bad_recipe", f"bad binary name {dest!r}")
        target = os.path.join(files, dest)
        shutil.copyfile(path, target)
        os.chmod(target, 0o755)
        ctx.link(target, dest)


def action_download_archive(step: dict[str, Any], ctx: Context) -> None:
    url = expand(_package(step, "url"), ctx, step)
    if urllib.parse.urlparse(url).scheme not in ("https", "http", "file"):
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"unsupported URL {url!r}")
    name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
    path = download(url, os.path.join(ctx.work_dir, name), step.get("checksum") or None)
    tree = safe_extract(
        path,
        os.path.join(ctx.tool_dir, "tree"),
        str(step.get("archive_format") or ""),
        int(step.get("strip_dirs") or 0),
    )
    ctx.last_tree = tree
    _link_from_tree(tree, step, ctx)


def _bottle_tag(platform: Platform) -> str:
    if platform.os != "linux":
        raise StepFailure(UNSUPPORTED, "homebrew", "macOS bottles are not validated in containers")
    return "x86_64_linux" if platform.arch == "amd64" else "arm64_linux"


def action_homebrew(step: dict[str, Any], ctx: Context) -> None:
    """Download the formula's bottle for this platform and unpack its keg (no relocation of ELF)."""
    formula = _package(step, "formula")
    if not SAFE_NAME.match(formula):
        raise StepFailure(INSTALL_FAILED, "bad_recipe", f"bad formula name {formula!r}")
    api = os.environ.get("TSUKU_HOMEBREW_API", "https://formulae.brew.sh/api").rstrip("/")
    info = fetch_json(f"{api}/formula/{formula}.json")
    ctx.version = str(((info.get("versions") or {}).get("stable")) or "") or ctx.version
    files = (((info.get("bottle") or {}).get("stable") or {}).get("files")) or {}
    tag = _bottle_tag(ctx.platform)
    bottle = files.get(tag) or files.get("all")
    if not bottle:
        raise StepFailure(INSTALL_FAILED, "no_bottle", f"{formula} has no {tag} bottle")
    url = str(bottle["url"])
    headers: dict[str, str] = {}
    if urllib.parse.urlparse(url).hostname == "ghcr.io":
        token_url = (
            "https://ghcr.io/token?service=ghcr.io&scope=repository:homebrew/core/{}:pull".format(
                formula.replace("@", "/")
            )
        )
        headers["Authorization"] = "Bearer " + str(fetch_json(token_url).get("token") or "")
    path = download(
        url,
        os.path.join(ctx.work_dir, formula + ".bottle.tar.gz"),
        bottle.get("sha256"),
        headers=headers,
    )
    # Bottles hold <formula>/<version>/...: strip both so the keg is the tree root.
    keg = safe_extract(path, os.path.join(ctx.tool_dir, "keg"), "tar", 2)
    _relocate_text(keg, ctx.prefix)
    ctx.last_tree = keg


def _relocate_text(tree: str, prefix: str) -> None:
    """Replace Homebrew's placeholders in scripts (binaries would need patchelf)."""
    for root, _dirs, files in os.walk(tree):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or os.path.getsize(path) > 4 << 20:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if b"@@HOMEBREW_" not in data or b"\x00" in data:
                continue
            for placeholder in (b"@@HOMEBREW_PREFIX@@", b"@@HOMEBREW_CELLAR@@"):
                data = data.replace(placeholder, prefix.encode())
            with open(path, "wb") as handle:
                handle.write(data)


def action_install_binaries(step: dict[str, Any], ctx: Context) -> None:
    if ctx.last_tree is None:
        raise StepFailure(
            INSTALL_FAILED, "bad_recipe", "install_binaries without a preceding archive"
        )
    _link_from_tree(ctx.last_tree, step, ctx)


ACTIONS: dict[str, Callable[[dict[str, Any], Context], None]] = {
    "npm_install": action_npm_install,
    "pipx_install": action_pipx_install,
    "cargo_install": action_cargo_install,
    "gem_install": action_gem_install,
    "go_install": action_go_install,
    "cpan_install": action_cpan_install,
    "github_archive": action_github_archive,
    "github_file": action_github_file,
    "download_archive": action_download_archive,
    "homebrew": action_homebrew,
    "install_binaries": action_install_binaries,
}


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
            action = ACTIONS.get(str(step.get("action")))
            if action is None:
                raise StepFailure(
                    INSTALL_FAILED,
                    "unknown_action",
                    f"step {index}: action {step.get('action')!r} is not supported",
                )
            action(step, ctx)
    except StepFailure as exc:
        return failure_result(
            exc, ctx.version, phase="install", duration_ms=int((time.monotonic() - start) * 1000)
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
    )


def _run_verify(command: str, ctx: Context, timeout: float) -> tuple[int, str]:
    env = dict(os.environ)
    env["PATH"] = ctx.bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    with tempfile.TemporaryDirectory() as cwd:
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", command],
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
            raise StepFailure(
                TIMEOUT, "verify", f"{command!r} timed out after {timeout:.0f}s", out
            ) from None
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


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
    args = parser.parse_args(argv)
    recipe = load_recipe(args.recipe)
    try:
        name = recipe_name(recipe)
        ctx = Context(
            name, Platform.parse(args.platform), args.prefix, args.version, args.timeout, recipe
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


if __name__ == "__main__":
    sys.exit(main())
