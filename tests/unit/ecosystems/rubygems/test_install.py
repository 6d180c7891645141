"""``gem_install``: gem reads only the configured source, the version and Ruby are recorded."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.containers import installer
from automation.containers.installer import Context, Platform, ProcessResult, StepFailure

# The install module as the installer loaded it (by path: it is not an importable package).
GEMS = SimpleNamespace(**installer.ACTIONS["gem_install"].__globals__)
DEBIAN = Platform.parse("linux-debian-glibc-x86_64")
STEP = {"action": "gem_install", "gem": "tinyhello", "executables": ["tinyhello"]}


class FakeGem:
    """Answers ``--version`` like ruby and does what ``gem install`` leaves behind."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> Any:
        self.calls.append((argv, env))
        if argv[1:] == ["--version"]:
            return ProcessResult(0, "ruby 3.1.2p20 (2022-04-12 revision 4491bb740a)\n")
        home = Path(argv[argv.index("--install-dir") + 1])
        (home / "specifications").mkdir(parents=True)
        (home / "bin").mkdir()
        for spec in ("tinyhello-extra-9.0.gemspec", "tinyhello-0.3.1.gemspec"):
            (home / "specifications" / spec).write_text("")
        (home / "bin" / "tinyhello").write_text("#!/usr/bin/env ruby\n")
        return ProcessResult(0, "Successfully installed tinyhello-0.3.1\n")


def toolchain(tmp_path: Path, *names: str) -> str:
    folder = tmp_path / "toolchain"
    folder.mkdir()
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    return str(folder)


def context(tmp_path: Path, runner: FakeGem, path: str, **env: str) -> Context:
    return Context(
        "tinyhello", DEBIAN, str(tmp_path / "p"), runner=runner, env={"PATH": path, **env}
    )


def test_a_configured_endpoint_is_the_only_gem_source(tmp_path: Path) -> None:
    runner = FakeGem()
    path = toolchain(tmp_path, "ruby", "gem")
    ctx = context(tmp_path, runner, path, AUTOMATION_ENDPOINT_RUBYGEMS="http://mirror.test/rg")
    GEMS.gem_install(dict(STEP), ctx)
    argv, env = runner.calls[-1]
    assert argv[:5] == [
        f"{path}/gem",
        "install",
        "--no-document",
        "--clear-sources",
        "--source=http://mirror.test/rg/",
    ]
    assert argv[-1] == "tinyhello"
    home = f"{ctx.tool_dir}/gems"
    assert (env["GEM_HOME"], env["GEM_PATH"]) == (home, home)
    # the installed version (not a dependency's) and the Ruby it ran on are recorded
    assert ctx.version == "0.3.1"
    assert ctx.runtimes == [{"name": "ruby", "version": "3.1.2", "path": f"{path}/ruby"}]
    assert ctx.executables == ["tinyhello"]


def test_without_an_endpoint_gem_keeps_its_own_sources(tmp_path: Path) -> None:
    runner = FakeGem()
    ctx = context(tmp_path, runner, toolchain(tmp_path, "ruby", "gem"))
    GEMS.gem_install(dict(STEP), ctx)
    argv, _ = runner.calls[-1]
    assert not [a for a in argv if a.startswith(("--source", "--clear-sources"))]


def test_a_requested_version_is_pinned(tmp_path: Path) -> None:
    runner = FakeGem()
    ctx = context(tmp_path, runner, toolchain(tmp_path, "ruby", "gem"))
    ctx.requested_version = "0.3.1"
    GEMS.gem_install(dict(STEP), ctx)
    assert runner.calls[-1][0][-2:] == ["--version", "0.3.1"]


def test_without_ruby_the_missing_toolchain_is_named(tmp_path: Path) -> None:
    ctx = context(tmp_path, FakeGem(), toolchain(tmp_path, "gem"))
    with pytest.raises(StepFailure) as caught:
        GEMS.gem_install(dict(STEP), ctx)
    assert (caught.value.category, caught.value.subcategory) == ("missing_runtime", "ruby")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["tinyhello-0.3.1.gemspec"], "0.3.1"),
        (["tinyhello-extra-2.0.gemspec", "tinyhello-1.2.0.pre.gemspec"], "1.2.0.pre"),
        (["tinyhello-1.15.0-x86_64-linux.gemspec"], "1.15.0"),
        (["tinyhello-extra-2.0.gemspec"], None),
        ([], None),
    ],
)
def test_installed_version_is_read_from_the_gemspec_name(
    tmp_path: Path, files: list[str], expected: str | None
) -> None:
    (tmp_path / "specifications").mkdir()
    for name in files:
        (tmp_path / "specifications" / name).write_text("")
    assert GEMS.installed_version(str(tmp_path), "tinyhello") == expected


def test_gem_s_not_found_output_reads_as_package_not_found() -> None:
    text = "ERROR:  Could not find a valid gem 'nosuchgem' (>= 0) in any repository\n"
    assert installer.classify_output(text) == ("recipe_not_found", "package_not_found")
