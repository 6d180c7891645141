"""Each validation image has what the installer relies on (run with `make test-containers`)."""

from __future__ import annotations

import re

import pytest

from automation.containers.runtime import CA_ENV_VARS, CONTAINER_CA_PATH
from tests.containers.container_spec import Running

pytestmark = pytest.mark.containers

PACKAGE_MANAGER = {
    "apt": "apt-get",
    "dnf": "dnf",
    "apk": "apk",
    "pacman": "pacman",
    "zypper": "zypper",
}
CA_STORE = {
    "debian": "/etc/ssl/certs/ca-certificates.crt",
    "alpine": "/etc/ssl/certs/ca-certificates.crt",
    "arch": "/etc/ssl/certs/ca-certificates.crt",
    "rhel": "/etc/pki/tls/certs/ca-bundle.crt",
    "suse": "/etc/ssl/ca-bundle.pem",
}


def test_package_manager_is_present(running: Running) -> None:
    assert running.host.exists(PACKAGE_MANAGER[running.env.package_manager])


def test_libc_is_the_declared_one(running: Running) -> None:
    out = running.host.run("ldd --version 2>&1 || true").stdout.lower()
    if running.env.libc == "musl":
        assert "musl" in out
    else:
        assert "glibc" in out or "gnu libc" in out


def test_ca_store_is_installed(running: Running) -> None:
    assert running.host.file(CA_STORE[running.env.family]).exists


def test_python_and_node_are_usable(running: Running) -> None:
    python = running.host.run(
        f"{running.env.python} -c 'import sys, venv; print(sys.version_info[:2])'"
    )
    assert python.rc == 0, python.stderr
    major, minor = map(int, re.findall(r"\d+", python.stdout)[:2])
    assert (major, minor) >= (3, 9)
    assert running.host.run("node --version").rc == 0
    assert running.host.exists("npm")
    for tool in ("tar", "gzip", "xz", "unzip", "curl"):
        assert running.host.exists(tool), tool


def test_host_ca_bundle_is_passed_at_run_time(running: Running) -> None:
    bundle = running.host.file(CONTAINER_CA_PATH)
    assert bundle.exists and "BEGIN CERTIFICATE" in bundle.content_string
    env = running.host.run("env").stdout
    for name in CA_ENV_VARS:
        assert f"{name}={CONTAINER_CA_PATH}" in env
