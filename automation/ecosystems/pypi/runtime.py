"""The Python that PyPI tools run on: CPython of the minor version tsuku's ``python`` recipe pins.

tsuku's ``python`` recipe installs python-build-standalone's CPython 3.13 (its asset pattern pins
``cpython-3.13.*``). Those builds come from GitHub, which this kit's machines cannot reach, so the
kit provides the same minor version another honest way: it builds CPython from Debian 13's source
package (``python3.13_<version>.orig.tar.xz``, the upstream release tarball, checked against the
sha256 pinned below, which is the one in trixie's ``Sources`` index) into a relocatable prefix,
once per machine. The prefix is ``/opt/tsuku-python/3.13``: local validation runs it from the
cache folder (CPython finds its library relative to the executable), containers bind-mount the
cache folder read-only at exactly that path. Result lines name this build.

Building takes about 3.5 minutes on 2 cores and needs a C compiler and the usual development
headers (OpenSSL, zlib, libffi, SQLite, bz2, lzma); the check after the build imports the
modules pip needs and fails loudly when one is missing.
"""

from __future__ import annotations

import os
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

MOUNT_POINT = "/opt/tsuku-python/3.13"
MAX_SOURCE_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
BUILD_TIMEOUT = 3600.0
# version -> sha256 of Debian's python3.13_<version>.orig.tar.xz (trixie Sources, Checksums-Sha256)
SOURCE_SHA256 = {
    "3.13.5": "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640",
}
# What pip and common tools import; a build missing one of them is not a usable runtime.
REQUIRED_MODULES = ("ssl", "sqlite3", "ctypes", "zlib", "lzma", "bz2", "venv", "ensurepip")


def source_path(version: str) -> str:
    """Where Debian's pool keeps the source tarball, relative to the archive root."""
    minor = ".".join(version.split(".")[:2])
    return f"/pool/main/p/python{minor}/python{minor}_{version}.orig.tar.xz"


@dataclass(frozen=True, slots=True)
class DebianSourceBuild:
    """CPython built from Debian's source package into ``/opt/tsuku-python/<minor>``."""

    mount_point: str = MOUNT_POINT
    interpreter: str | None = "bin/python3.13"
    jobs: int = max(os.cpu_count() or 1, 1)

    def build_description(self, pin: RuntimePin) -> str:
        return (
            f"CPython {pin.version} built from Debian's source package "
            f"python{pin.series}_{pin.version} (sha256-verified) into {self.mount_point}"
        )

    def _run(self, argv: list[str], cwd: Path, log_file: Path, what: str) -> None:
        done = run_process(argv, cwd=cwd, timeout=BUILD_TIMEOUT, output_limit=None)
        with log_file.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(argv)}\n{done.output}\n")
        if not done.ok:
            raise RuntimeUnavailable(
                f"{what} failed (exit {done.exit_code}; full log {log_file}):\n"
                f"{done.output.strip()[-800:]}"
            )

    def provision(self, pin: RuntimePin, target: Path, config: Config, log: Log) -> None:
        pinned = SOURCE_SHA256.get(pin.version)
        if pinned is None:
            raise RuntimeUnavailable(
                f"no pinned sha256 for Debian's python{pin.series}_{pin.version}.orig.tar.xz: "
                "add it (from the suite's Sources index) to automation/ecosystems/pypi/runtime.py"
            )
        log_file = target.parent / f"build-{pin.version}.log"
        log_file.write_text("", encoding="utf-8")
        with tempfile.TemporaryDirectory(prefix="ra-python-build-") as tmp:
            work = Path(tmp)
            archive = work / "source.tar.xz"
            log(f"  downloading {source_path(pin.version)} from the Debian archive")
            try:
                with HttpClient(config) as http:
                    digests = http.download(
                        "debian", source_path(pin.version), archive, max_bytes=MAX_SOURCE_BYTES
                    )
            except HttpError as exc:
                raise RuntimeUnavailable(f"cannot download the Python source: {exc}") from None
            if digests["sha256"].hex() != pinned:
                raise RuntimeUnavailable(
                    f"python{pin.series}_{pin.version}.orig.tar.xz: sha256 mismatch "
                    f"(expected {pinned}, got {digests['sha256'].hex()})"
                )
            source = work / "src"
            try:
                installer.safe_extract(
                    str(archive), str(source), "tar.xz", strip_dirs=1, max_bytes=MAX_UNPACKED_BYTES
                )
            except installer.StepFailure as exc:
                raise RuntimeUnavailable(f"the Python source archive: {exc.message}") from None
            log(f"  configure + make -j{self.jobs} (a few minutes; log: {log_file})")
            self._run(
                ["./configure", f"--prefix={self.mount_point}", "--with-ensurepip=install"],
                source,
                log_file,
                "configure",
            )
            self._run(["make", f"-j{self.jobs}"], source, log_file, "make")
            staged = work / "dest"
            self._run(["make", "install", f"DESTDIR={staged}"], source, log_file, "make install")
            prefix = staged / self.mount_point.lstrip("/")
            shutil.rmtree(prefix / "lib" / f"python{pin.series}" / "test", ignore_errors=True)
            for item in prefix.iterdir():
                os.replace(item, target / item.name)
        if not (target / "bin" / "python3").exists():
            os.symlink(f"python{pin.series}", target / "bin" / "python3")

    def installed_version(self, root: Path, pin: RuntimePin) -> str:
        interpreter = root / (self.interpreter or "bin/python3")
        probe = (
            "import importlib, sys; "
            f"[importlib.import_module(m) for m in {list(REQUIRED_MODULES)!r}]; "
            "print('%d.%d.%d' % sys.version_info[:3])"
        )
        done = run_process([str(interpreter), "-c", probe], timeout=120)
        if not done.ok:
            raise RuntimeUnavailable(
                f"the built Python {pin.version} is not usable (exit {done.exit_code}): "
                f"{done.output.strip()[-500:]}"
            )
        return done.output.strip().splitlines()[-1]


PROVIDER = DebianSourceBuild()
