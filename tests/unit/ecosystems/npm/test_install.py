"""The installer's npm_install: the kit's npm mirror, the installed version, the bin links."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automation.containers import installer
from automation.containers.installer import Context, Platform, ProcessResult

NPM = installer.ACTIONS["npm_install"]
registry_args: Callable[[Context], list[str]] = NPM.__globals__["registry_args"]


def _ctx_with(env: dict[str, str], tmp_path: Path) -> Context:
    return Context(
        "cowsay",
        Platform.parse("linux-debian-glibc-x86_64"),
        str(tmp_path),
        None,
        env=env,
        log_to=lambda _line: None,
    )


def test_npm_uses_the_kits_npm_mirror_when_one_is_configured(tmp_path: Path) -> None:
    assert registry_args(_ctx_with({}, tmp_path)) == []
    mirror = _ctx_with({"AUTOMATION_ENDPOINT_NPM": "http://127.0.0.1:4873"}, tmp_path)
    assert registry_args(mirror) == ["--registry", "http://127.0.0.1:4873/"]
    with pytest.raises(installer.StepFailure, match="AUTOMATION_ENDPOINT_NPM"):
        registry_args(_ctx_with({"AUTOMATION_ENDPOINT_NPM": "--userconfig=/x"}, tmp_path))


class FakeNpm:
    """npm "installs" by writing the package's manifest and its bin script."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> Any:
        self.commands.append(list(argv))
        if argv[1:] == ["--version"]:
            return ProcessResult(0, "v26.12.1\n")
        if "install" in argv:
            root = Path(argv[argv.index("--prefix") + 1])
            package = root / "lib" / "node_modules" / "cowsay"
            package.mkdir(parents=True)
            (package / "package.json").write_text(json.dumps({"version": "1.6.0"}))
            (root / "bin").mkdir(parents=True)
            (root / "bin" / "cowsay").write_text("#!/bin/sh\n")
            (root / "bin" / "cowsay").chmod(0o755)
            return ProcessResult(0, "")
        raise AssertionError(argv)


def test_npm_install_through_a_mirror(tmp_path: Path) -> None:
    tools = tmp_path / "path"
    tools.mkdir()
    for name in ("npm", "node"):
        (tools / name).write_text("#!/bin/sh\n")
        (tools / name).chmod(0o755)
    runner = FakeNpm()
    ctx = Context(
        "cowsay",
        Platform.parse("linux-debian-glibc-x86_64"),
        str(tmp_path / "tool"),
        None,
        runner=runner,
        env={"PATH": str(tools), "AUTOMATION_ENDPOINT_NPM": "http://127.0.0.1:4873"},
        log_to=lambda _line: None,
    )
    NPM({"action": "npm_install", "package": "cowsay", "executables": ["cowsay"]}, ctx)
    install = next(c for c in runner.commands if "install" in c)
    assert install[-3:] == ["--registry", "http://127.0.0.1:4873/", "cowsay"]
    assert ctx.version == "1.6.0"
    assert (tmp_path / "tool" / "bin" / "cowsay").exists()


def test_npm_uses_the_shared_download_cache_when_there_is_one(tmp_path: Path) -> None:
    npm_cache_environment: Callable[[Context], dict[str, str]] = NPM.__globals__[
        "npm_cache_environment"
    ]
    assert npm_cache_environment(_ctx_with({}, tmp_path)) == {}
    shared = tmp_path / "shared"
    env = npm_cache_environment(_ctx_with({"AUTOMATION_DOWNLOAD_CACHE": str(shared)}, tmp_path))
    assert env == {"npm_config_cache": str(shared / "npm")}
    assert (shared / "npm").is_dir()
