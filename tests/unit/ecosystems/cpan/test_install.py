"""``cpan_install``: cpanm reads only the configured mirror, the version and Perl are recorded."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.containers import installer
from automation.containers.installer import Context, Platform, ProcessResult, StepFailure

# The install module as the installer loaded it (by path: it is not an importable package).
CPAN = SimpleNamespace(**installer.ACTIONS["cpan_install"].__globals__)
DEBIAN = Platform.parse("linux-debian-glibc-x86_64")
STEP = {"action": "cpan_install", "distribution": "App-Perlhello", "executables": ["perlhello"]}
ARCH = "x86_64-linux-gnu-thread-multi"


def record_install(local: Path, release: str, dist_field: str | None = None) -> None:
    """What cpanm leaves in a local lib for one release (install.json's version is a number)."""
    meta = local / "lib" / "perl5" / ARCH / ".meta" / release
    meta.mkdir(parents=True)
    (meta / "install.json").write_text(
        json.dumps({"dist": dist_field or release, "name": "App::Perlhello", "version": 1.1})
    )


class FakeCpanm:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> Any:
        self.calls.append((argv, env))
        if argv[1:] == ["--version"]:
            return ProcessResult(0, "This is perl 5, version 36, subversion 0 (v5.36.0)\n")
        local = Path(argv[argv.index("--local-lib-contained") + 1])
        record_install(local, "App-Perlhello-Extra-2.0")
        record_install(local, "App-Perlhello-1.10")
        (local / "bin").mkdir(parents=True)
        (local / "bin" / "perlhello").write_text("#!/usr/bin/perl\n")
        return ProcessResult(0, "Successfully installed App-Perlhello-1.10\n")


def toolchain(tmp_path: Path, *names: str) -> str:
    folder = tmp_path / "toolchain"
    folder.mkdir()
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    return str(folder)


def context(tmp_path: Path, runner: FakeCpanm, path: str, **env: str) -> Context:
    return Context(
        "perlhello", DEBIAN, str(tmp_path / "p"), runner=runner, env={"PATH": path, **env}
    )


def test_a_configured_endpoint_is_the_only_mirror(tmp_path: Path) -> None:
    runner = FakeCpanm()
    path = toolchain(tmp_path, "perl", "cpanm")
    ctx = context(
        tmp_path, runner, path, AUTOMATION_ENDPOINT_CPAN="http://mirror.test/cpan", PERL5LIB="/x"
    )
    CPAN.cpan_install(dict(STEP), ctx)
    argv, env = runner.calls[-1]
    assert argv == [
        f"{path}/cpanm",
        "--notest",
        "--mirror=http://mirror.test/cpan/",
        "--mirror-only",
        "--local-lib-contained",
        f"{ctx.tool_dir}/perl5",
        "App::Perlhello",
    ]
    assert env["PERL5LIB"] == ""  # the caller's own Perl libraries do not leak into the install
    # the release's version as cpanm named it (1.10, not the number 1.1), and the Perl it ran on
    assert ctx.version == "1.10"
    assert ctx.runtimes == [{"name": "perl", "version": "5.36.0", "path": f"{path}/perl"}]
    assert ctx.executables == ["perlhello"]


def test_without_an_endpoint_cpanm_keeps_its_defaults(tmp_path: Path) -> None:
    runner = FakeCpanm()
    ctx = context(tmp_path, runner, toolchain(tmp_path, "perl", "cpanm"))
    ctx.requested_version = "1.10"
    CPAN.cpan_install(dict(STEP), ctx)
    argv, _ = runner.calls[-1]
    assert not [a for a in argv if a.startswith("--mirror")]
    assert argv[-1] == "App::Perlhello@1.10"


def test_an_explicit_module_is_what_cpanm_installs(tmp_path: Path) -> None:
    runner = FakeCpanm()
    ctx = context(tmp_path, runner, toolchain(tmp_path, "perl", "cpanm"))
    CPAN.cpan_install({**STEP, "module": "App::Perlhello::CLI"}, ctx)
    assert runner.calls[-1][0][-1] == "App::Perlhello::CLI"
    assert ctx.version == "1.10"  # still read for the distribution


def test_without_cpanm_the_missing_toolchain_is_named(tmp_path: Path) -> None:
    ctx = context(tmp_path, FakeCpanm(), toolchain(tmp_path, "perl"))
    with pytest.raises(StepFailure) as caught:
        CPAN.cpan_install(dict(STEP), ctx)
    assert (caught.value.category, caught.value.subcategory) == ("missing_runtime", "cpanm")


def test_installed_version_needs_cpanm_s_own_record(tmp_path: Path) -> None:
    record_install(tmp_path, "App-Perlhello-v3.7.0")
    assert CPAN.installed_version(str(tmp_path), "App-Perlhello") == "v3.7.0"
    assert CPAN.installed_version(str(tmp_path), "App") is None  # "Perlhello-v3.7.0" no version
    other = tmp_path / "other"
    record_install(other, "App-Perlhello-2.0", dist_field="Something-Else-2.0")
    assert CPAN.installed_version(str(other), "App-Perlhello") is None
    assert CPAN.installed_version(str(tmp_path / "nothing"), "App-Perlhello") is None


def test_cpanm_s_not_found_output_reads_as_package_not_found() -> None:
    text = "! Couldn't find module or a distribution App::Nope\n"
    assert installer.classify_output(text) == ("recipe_not_found", "package_not_found")
