"""The platform string of the machine we run on, in the reference form."""

from __future__ import annotations

import os
import platform
from pathlib import Path

_FAMILIES = {
    "debian": "debian",
    "ubuntu": "debian",
    "fedora": "rhel",
    "rhel": "rhel",
    "centos": "rhel",
    "rocky": "rhel",
    "almalinux": "rhel",
    "arch": "arch",
    "alpine": "alpine",
    "suse": "suse",
    "opensuse": "suse",
    "opensuse-leap": "suse",
    "opensuse-tumbleweed": "suse",
    "sles": "suse",
}


def _os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip('"')
    return values


def linux_family(os_release: dict[str, str]) -> str:
    for candidate in [os_release.get("ID", ""), *os_release.get("ID_LIKE", "").split()]:
        if candidate in _FAMILIES:
            return _FAMILIES[candidate]
    return "unknown"


def arch_name(machine: str) -> str:
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine.lower(), machine.lower()
    )


def host_platform() -> str:
    """``linux-debian-glibc-x86_64`` on a Debian machine; ``darwin-arm64`` on Apple silicon."""
    arch = arch_name(platform.machine())
    if platform.system() == "Darwin":
        return f"darwin-{arch}"
    try:
        libc = "glibc" if os.confstr("CS_GNU_LIBC_VERSION") else "musl"
    except (ValueError, OSError):
        libc = "musl"
    return f"linux-{linux_family(_os_release())}-{libc}-{arch}"
