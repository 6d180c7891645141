"""uv, the installer the kit's ``pipx_install`` runs when it is provisioned (pip otherwise).

Why: tsuku's ``pipx_install`` resolves with pip and installs wheels only. The verdict a
validation gives is the same question, "does a wheels-only install of this release resolve on
this platform and Python, and does the tool then run", and uv answers it with a complete
resolver at a fraction of pip's CPU: measured on this 2-core machine, ``poetry`` into a fresh
venv took pip 4.4 s (2.7 s user + 1.3 s system), uv 1.4 s cold and 0.6 s from its cache; for
``cuga``, whose dependencies have no wheels-only solution, pip backtracked at 100% CPU for more
than five minutes where uv reported the conflict in 17 s. uv's cache keeps downloaded wheels by
URL and digest (unlike pip, whose HTTP cache stores nothing when the index sends no caching
headers), so the shared download cache serves the second and third environment.

What differs from pip stays small and is said where it matters: uv does not read ``pip.conf``
(the kit's mirror, ``AUTOMATION_ENDPOINT_PYPI``, or ``PIP_INDEX_URL`` is passed to it), and a
resolution pip would give up on after deep backtracking can succeed with uv. Validation with
pip stays one setting away: ``[validate] pypi_installer = "pip"`` (``automation.toml``).

Provisioning: the official wheel from PyPI for this machine's architecture, checked against
the sha256 pinned below (the one PyPI publishes), its ``uv`` executable unpacked into
``<runtimes>/uv/<version>/bin/uv`` and bind-mounted read-only into the containers.
"""

from __future__ import annotations

import os
import platform
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from automation.containers.runtimes import Log, RuntimeUnavailable
from automation.core.config import Config
from automation.core.ecosystem_facts import RuntimePin
from automation.core.http import HttpClient, HttpError
from automation.core.process import run_process

MOUNT_POINT = "/opt/registry-automation/uv"
MAX_WHEEL_BYTES = 64 * 1024 * 1024
MAX_BINARY_BYTES = 128 * 1024 * 1024
# version -> machine -> (wheel file name, its sha256 as PyPI publishes it)
WHEELS: dict[str, dict[str, tuple[str, str]]] = {
    "0.13.9": {
        "x86_64": (
            "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
        ),
        "aarch64": (
            "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
            "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
        ),
    },
}
MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def pinned_wheel(version: str, machine: str) -> tuple[str, str]:
    """The wheel file and sha256 pinned for ``version`` on ``machine`` (``platform.machine()``)."""
    arch = MACHINES.get(machine.lower())
    found = WHEELS.get(version, {}).get(arch or "")
    if found is None:
        raise RuntimeUnavailable(
            f"no uv {version} wheel is pinned for machine {machine!r}: add its file name and "
            "sha256 (from https://pypi.org/pypi/uv/json) to automation/ecosystems/pypi/uv.py"
        )
    return found


def wheel_url(release: object, filename: str, json_url: str) -> str:
    """The download URL PyPI's JSON gives for ``filename`` (relative URLs resolved against the
    document's own), or RuntimeUnavailable when the release does not list it."""
    files = release.get("urls") if isinstance(release, dict) else None
    for item in files if isinstance(files, list) else []:
        if isinstance(item, dict) and item.get("filename") == filename:
            url = item.get("url")
            if isinstance(url, str) and url:
                return urljoin(json_url, url)
    raise RuntimeUnavailable(f"PyPI's uv release does not list {filename}")


def unpack_binary(wheel: Path, version: str, target: Path) -> Path:
    """Write the wheel's ``uv-<version>.data/scripts/uv`` to ``target/bin/uv`` (0755); nothing
    else of the archive is read or written, whatever names it holds."""
    member = f"uv-{version}.data/scripts/uv"
    binary = target / "bin" / "uv"
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(member)
            if info.file_size > MAX_BINARY_BYTES:
                raise RuntimeUnavailable(f"{member} is {info.file_size} bytes: too large")
            binary.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, binary.open("wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
    except KeyError:
        raise RuntimeUnavailable(f"the uv wheel has no {member}") from None
    except zipfile.BadZipFile as exc:
        raise RuntimeUnavailable(f"the uv wheel is not a zip archive: {exc}") from None
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


@dataclass(frozen=True, slots=True)
class UvWheel:
    """uv's official PyPI wheel, sha256-pinned, unpacked to ``bin/uv``."""

    mount_point: str = MOUNT_POINT
    interpreter: str | None = None
    machine: str = ""  # default: this machine's

    def build_description(self, pin: RuntimePin) -> str:
        filename, _sha = pinned_wheel(pin.version, self.machine or platform.machine())
        return f"uv {pin.version} from PyPI ({filename}, sha256-pinned), the kit's PyPI installer"

    def provision(self, pin: RuntimePin, target: Path, config: Config, log: Log) -> None:
        filename, pinned = pinned_wheel(pin.version, self.machine or platform.machine())
        log(f"  downloading {filename} from PyPI")
        with tempfile.TemporaryDirectory(prefix="ra-uv-") as tmp:
            wheel = Path(tmp) / filename
            try:
                with HttpClient(config) as http:
                    json_url = config.url("pypi", "/pypi/uv/json")
                    url = wheel_url(http.get_json("pypi", "/pypi/uv/json"), filename, json_url)
                    digest = http.download(None, url, wheel, max_bytes=MAX_WHEEL_BYTES)["sha256"]
            except HttpError as exc:
                raise RuntimeUnavailable(f"cannot download uv from PyPI: {exc}") from None
            if digest.hex() != pinned:
                raise RuntimeUnavailable(
                    f"{filename}: sha256 mismatch (expected {pinned}, got {digest.hex()})"
                )
            unpack_binary(wheel, pin.version, target)

    def installed_version(self, root: Path, pin: RuntimePin) -> str:
        done = run_process([os.fspath(root / "bin" / "uv"), "--version"], timeout=60)
        words = done.output.split()
        if not done.ok or len(words) < 2 or words[0] != "uv":
            raise RuntimeUnavailable(
                f"the provisioned uv does not run (exit {done.exit_code}): "
                f"{done.output.strip()[-300:]}"
            )
        return words[1]


PROVIDER = UvWheel()
