"""``cargo_install``: crates.io or the configured mirror by source replacement, same command."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from automation.containers import installer
from automation.containers.installer import Context, Platform, ProcessResult, StepFailure

DEBIAN = Platform.parse("linux-debian-glibc-x86_64")
STEP = {"action": "cargo_install", "crate": "tinyhello", "executables": ["tinyhello"]}


def install_module() -> SimpleNamespace:
    """The install module as the installer loaded it (by path, outside any package)."""
    return SimpleNamespace(**installer.ACTIONS["cargo_install"].__globals__)


class FakeCargo:
    """Answers like cargo: its version, an install that puts the binary in --root, the list."""

    def __init__(self, version: str = "cargo 1.95.0 (f2d3ce0bd 2026-03-21)") -> None:
        self.version = version
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> object:
        self.calls.append((argv, env))
        if argv[1:] == ["--version"]:
            return ProcessResult(0, self.version + "\n")
        root = argv[argv.index("--root") + 1]
        if "--list" in argv:
            return ProcessResult(0, "tinyhello v0.4.2:\n    tinyhello\n")
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        exe = os.path.join(root, "bin", "tinyhello")
        Path(exe).write_text("#!/bin/sh\necho tinyhello 0.4.2\n")
        os.chmod(exe, 0o755)
        return ProcessResult(0, "  Installed package `tinyhello v0.4.2`\n")

    def install_argv(self) -> list[str]:
        return next(a for a, _ in self.calls if a[1] == "install" and "--list" not in a)


def context(tmp_path: Path, runner: FakeCargo, **env: str) -> Context:
    fake_bin = tmp_path / "toolchain"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "cargo").write_text("#!/bin/sh\n")
    (fake_bin / "cargo").chmod(0o755)
    return Context(
        "tinyhello",
        DEBIAN,
        str(tmp_path / "prefix"),
        runner=runner,
        env={"PATH": str(fake_bin), "HOME": str(tmp_path / "home"), **env},
    )


def test_without_a_mirror_cargo_reaches_crates_io_unchanged(tmp_path: Path) -> None:
    cargo = FakeCargo()
    ctx = context(tmp_path, cargo)
    installer.run_step(dict(STEP), ctx)
    argv = cargo.install_argv()
    assert argv[1:] == ["install", "--locked", "--root", ctx.tool_dir, "tinyhello"]
    assert ctx.version == "0.4.2"  # what cargo install --list says it installed
    assert ctx.executables == ["tinyhello"]
    assert ctx.runtimes[0]["name"] == "cargo" and ctx.runtimes[0]["version"] == "1.95.0"


def test_a_configured_mirror_replaces_crates_io_by_source_replacement(tmp_path: Path) -> None:
    cargo = FakeCargo()
    ctx = context(tmp_path, cargo, AUTOMATION_ENDPOINT_CRATESIO="http://127.0.0.1:8080/")
    installer.run_step(dict(STEP), ctx)
    argv = cargo.install_argv()
    assert argv[-4:] == [
        "--config",
        'source.crates-io.replace-with="automation-mirror"',
        "--config",
        'source.automation-mirror.registry="sparse+http://127.0.0.1:8080/"',
    ]
    assert "-Z" not in argv


def test_a_cargo_before_1_68_gets_its_unstable_sparse_flag(tmp_path: Path) -> None:
    cargo = FakeCargo("cargo 1.65.0")  # Debian 12's
    ctx = context(tmp_path, cargo, AUTOMATION_ENDPOINT_CRATESIO="http://127.0.0.1:8080")
    installer.run_step(dict(STEP), ctx)
    assert cargo.install_argv()[-2:] == ["-Z", "sparse-registry"]
    # Without a mirror nothing sparse is asked of it.
    cargo = FakeCargo("cargo 1.65.0")
    installer.run_step(dict(STEP), context(tmp_path, cargo))
    assert "-Z" not in cargo.install_argv()


def test_a_bad_mirror_value_never_reaches_cargo(tmp_path: Path) -> None:
    cargo = FakeCargo()
    ctx = context(tmp_path, cargo, AUTOMATION_ENDPOINT_CRATESIO='http://x/" --config evil')
    with pytest.raises(StepFailure) as caught:
        installer.run_step(dict(STEP), ctx)
    assert caught.value.subcategory == "bad_endpoint"
    assert all(a[1] != "install" for a, _ in cargo.calls)


def test_a_rustup_cargo_keeps_its_toolchains_under_the_throwaway_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = install_module()
    user_home = tmp_path / "user"
    (user_home / ".rustup").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(user_home))
    assert module.rustup_environment({"HOME": str(tmp_path / "throwaway")}) == {
        "RUSTUP_HOME": str(user_home / ".rustup")
    }
    assert module.rustup_environment({"RUSTUP_HOME": "/opt/rustup"}) == {}
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    assert module.rustup_environment({}) == {}
    # The whole action: cargo's --version already runs with it.
    monkeypatch.setenv("HOME", str(user_home))
    cargo = FakeCargo()
    installer.run_step(dict(STEP), context(tmp_path, cargo))
    assert all(env["RUSTUP_HOME"] == str(user_home / ".rustup") for _, env in cargo.calls)


@pytest.mark.parametrize(
    ("listing", "expected"),
    [
        ("tinyhello v0.4.2:\n    tinyhello\n", "0.4.2"),
        ("other v1.0.0:\n    other\ntinyhello v1.2.3-rc.1:\n    tinyhello\n", "1.2.3-rc.1"),
        ("tinyhello-extra v9.9.9:\n", None),
        ("", None),
    ],
)
def test_installed_version_is_read_from_the_list(listing: str, expected: str | None) -> None:
    assert install_module().installed_version(listing, "tinyhello") == expected
