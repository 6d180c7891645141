"""``go_install``: the Go proxy or the configured mirror, the checksum database never off."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from automation.containers import installer
from automation.containers.installer import Context, Platform, ProcessResult

DEBIAN = Platform.parse("linux-debian-glibc-x86_64")
MODULE = "example.com/hellogo"
STEP = {"action": "go_install", "module": MODULE, "executables": ["hellogo"]}
VERSION_M = (
    "/p/bin/hellogo: go1.19.8\n\tpath\texample.com/hellogo\n"
    "\tmod\texample.com/hellogo\tv0.2.1\th1:abc=\n\tbuild\t-compiler=gc\n"
)


def install_module() -> SimpleNamespace:
    """The install module as the installer loaded it (by path, outside any package)."""
    return SimpleNamespace(**installer.ACTIONS["go_install"].__globals__)


class FakeGo:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> object:
        self.calls.append((argv, env))
        if argv[1:] == ["version"]:
            return ProcessResult(0, "go version go1.19.8 linux/amd64\n")
        if argv[1:3] == ["version", "-m"]:
            return ProcessResult(0, VERSION_M)
        os.makedirs(env["GOBIN"], exist_ok=True)
        exe = Path(env["GOBIN"]) / "hellogo"
        exe.write_text("#!/bin/sh\necho hellogo v0.2.1\n")
        exe.chmod(0o755)
        return ProcessResult(0, "")

    def install_call(self) -> tuple[list[str], dict[str, str]]:
        return next(c for c in self.calls if c[0][1] == "install")


def context(tmp_path: Path, runner: FakeGo, **env: str) -> Context:
    fake_bin = tmp_path / "toolchain"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "go").write_text("#!/bin/sh\n")
    (fake_bin / "go").chmod(0o755)
    return Context(
        "hellogo", DEBIAN, str(tmp_path / "prefix"), runner=runner,
        env={"PATH": str(fake_bin), "HOME": str(tmp_path / "home"), **env},
    )  # fmt: skip


def test_without_a_mirror_go_uses_its_defaults(tmp_path: Path) -> None:
    go = FakeGo()
    ctx = context(tmp_path, go)
    installer.run_step(dict(STEP), ctx)
    argv, env = go.install_call()
    assert argv[1:] == ["install", f"{MODULE}@latest"]
    assert "GOPROXY" not in env and "GOSUMDB" not in env
    assert env["GOTOOLCHAIN"] == "local"  # the environment's go, never a downloaded one
    assert env["GOBIN"] == os.path.join(ctx.tool_dir, "bin")
    assert ctx.version == "v0.2.1"  # from the binary's build information
    assert ctx.runtimes == [{"name": "go", "version": "1.19.8", "path": argv[0]}]


def test_a_configured_mirror_is_the_only_proxy_and_the_sum_database_stays_on(
    tmp_path: Path,
) -> None:
    go = FakeGo()
    ctx = context(
        tmp_path, go, AUTOMATION_ENDPOINT_GOPROXY="http://127.0.0.1:8080/", GONOSUMDB="example.com"
    )
    installer.run_step(dict(STEP), ctx)
    _, env = go.install_call()
    assert env["GOPROXY"] == "http://127.0.0.1:8080"  # no ",direct": nothing goes elsewhere
    assert "GOSUMDB" not in env  # never "off": exemptions are by module (GONOSUMDB) only
    assert env["GONOSUMDB"] == "example.com"


def test_a_pinned_version_is_installed_as_asked(tmp_path: Path) -> None:
    go = FakeGo()
    ctx = context(tmp_path, go)
    ctx.requested_version = ctx.version = "v0.2.0"
    installer.run_step(dict(STEP), ctx)
    assert go.install_call()[0][-1] == f"{MODULE}@v0.2.0"
    assert ctx.version == "v0.2.0"


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (MODULE, "v0.2.1"),
        ("example.com/hellogo/cmd/x", "v0.2.1"),  # a package inside the module
        ("example.com/hello", None),  # a prefix of another module is not it
    ],
)
def test_module_version_reads_the_main_module_line(module: str, expected: str | None) -> None:
    assert install_module().module_version(VERSION_M, module) == expected
    assert install_module().module_version("\tmod\tx.org/y\t(devel)\t\n", "x.org/y") is None


def test_go_declares_its_private_module_settings_for_forwarding() -> None:
    assert set(install_module().PASS_ENV) == {"GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"}
    assert "GOSUMDB" not in installer.PASS_ENV


def test_downloaded_modules_come_from_the_shared_cache_and_builds_stay_private(
    tmp_path: Path,
) -> None:
    go = FakeGo()
    shared = tmp_path / "shared"
    ctx = context(tmp_path, go, AUTOMATION_DOWNLOAD_CACHE=str(shared))
    installer.run_step(dict(STEP), ctx)
    _, env = go.install_call()
    assert env["GOMODCACHE"] == str(shared / "go-mod")
    assert "GOCACHE" not in env  # what go builds is this environment's own
    other = FakeGo()
    (tmp_path / "again").mkdir()
    installer.run_step(dict(STEP), context(tmp_path / "again", other))
    assert "GOMODCACHE" not in other.install_call()[1]
