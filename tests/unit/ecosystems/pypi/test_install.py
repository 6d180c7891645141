"""The installer's pipx_install: a package spec with extras installs and reports its version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automation.containers import installer
from automation.containers.installer import Context, Platform, ProcessResult

PIPX = installer.ACTIONS["pipx_install"]
requirement_spec: Callable[[str, str | None], str] = PIPX.__globals__["requirement_spec"]
project_name: Callable[[str], str] = PIPX.__globals__["project_name"]


@pytest.mark.parametrize(
    ("package", "version", "expected"),
    [
        ("httpx", "0.28.1", "httpx==0.28.1"),
        ("httpx", None, "httpx"),
        ("httpx[cli]", "0.28.1", "httpx[cli]==0.28.1"),
        ("fastapi[standard, all]", "1.0", "fastapi[standard,all]==1.0"),
        ("python-dotenv[cli]", None, "python-dotenv[cli]"),
    ],
)
def test_requirement_spec_puts_the_version_after_the_extras(
    package: str, version: str | None, expected: str
) -> None:
    assert requirement_spec(package, version) == expected


@pytest.mark.parametrize(
    ("package", "expected"),
    [("httpx", "httpx"), ("httpx[cli]", "httpx"), ("python-dotenv[cli]", "python-dotenv")],
)
def test_project_name_strips_the_extras(package: str, expected: str) -> None:
    assert project_name(package) == expected


class FakePip:
    """Records commands; pip creates the executables; importlib.metadata knows only ``httpx``."""

    def __init__(self, executables: list[str]) -> None:
        self.executables = executables
        self.commands: list[list[str]] = []

    def __call__(self, argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> Any:
        self.commands.append(list(argv))
        if argv[1:] == ["--version"]:
            return ProcessResult(0, "Python 3.13.5\n")
        if "venv" in argv:
            return ProcessResult(0, "")
        if "install" in argv:
            bin_dir = Path(argv[argv.index("--python") + 1]).parent
            bin_dir.mkdir(parents=True, exist_ok=True)
            for name in self.executables:
                (bin_dir / name).write_text("#!/bin/sh\n")
                (bin_dir / name).chmod(0o755)
            return ProcessResult(0, "")
        if "-c" in argv:
            if argv[-1] == "httpx":
                return ProcessResult(0, "0.28.1\n")
            return ProcessResult(1, "importlib.metadata.PackageNotFoundError: " + argv[-1])
        raise AssertionError(argv)


@pytest.mark.parametrize(
    ("requested", "spec"), [("0.28.1", "httpx[cli]==0.28.1"), (None, "httpx[cli]")]
)
def test_pipx_install_of_a_package_with_an_extra(
    tmp_path: Path, requested: str | None, spec: str
) -> None:
    runner = FakePip(["httpx"])
    ctx = Context(
        "httpx",
        Platform.parse("linux-debian-glibc-x86_64"),
        str(tmp_path),
        requested,
        runner=runner,
        reuse_host_tools=True,
        log_to=lambda _line: None,
    )
    step = {"action": "pipx_install", "package": "httpx[cli]", "executables": ["httpx"]}
    PIPX(step, ctx)
    pip = next(c for c in runner.commands if "install" in c)
    assert pip[-1] == spec
    assert "--no-compile" in pip  # byte-compiling decides nothing and costs seconds
    # Wheels only, as tsuku's pipx_install: nothing is built from a source distribution.
    assert pip[pip.index("--only-binary") + 1] == ":all:"
    probe = next(c for c in runner.commands if "-c" in c)
    assert probe[-1] == "httpx"  # the distribution's name, which the probe can find
    assert ctx.version == "0.28.1"  # unpinned: known only from the probe
    assert (tmp_path / "bin" / "httpx").exists()
    # The interpreter the venv was made from is recorded with the version it reported.
    assert ctx.runtimes == [{"name": "python3", "version": "3.13.5", "path": ctx.python}]


def _ctx_with(env: dict[str, str], tmp_path: Path) -> Context:
    return Context(
        "httpx",
        Platform.parse("linux-debian-glibc-x86_64"),
        str(tmp_path),
        None,
        env=env,
        log_to=lambda _line: None,
    )


def test_pip_uses_the_kits_pypi_mirror_when_one_is_configured(tmp_path: Path) -> None:
    index_args: Callable[[Context], list[str]] = PIPX.__globals__["index_args"]
    assert index_args(_ctx_with({}, tmp_path)) == []
    mirror = _ctx_with({"AUTOMATION_ENDPOINT_PYPI": "http://127.0.0.1:8080/"}, tmp_path)
    assert index_args(mirror) == ["--index-url", "http://127.0.0.1:8080/simple/"]
    # Not a URL (a typo, an injected option): a clear install failure, never handed to pip.
    with pytest.raises(installer.StepFailure, match="AUTOMATION_ENDPOINT_PYPI"):
        index_args(_ctx_with({"AUTOMATION_ENDPOINT_PYPI": "--trusted-host=evil"}, tmp_path))


def test_pip_shares_only_its_http_cache_through_the_download_cache(tmp_path: Path) -> None:
    """Downloads come from (and go to) the shared cache; wheels pip builds stay the install's."""
    shared = tmp_path / "shared"
    runner = FakePip(["httpx"])
    seen: list[dict[str, str]] = []

    def recording(argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> Any:
        if "install" in argv:
            seen.append(dict(env))
        return runner(argv, env, cwd, timeout)

    ctx = Context(
        "httpx",
        Platform.parse("linux-debian-glibc-x86_64"),
        str(tmp_path / "prefix"),
        None,
        runner=recording,
        env={"AUTOMATION_DOWNLOAD_CACHE": str(shared)},
        reuse_host_tools=True,
        log_to=lambda _line: None,
    )
    PIPX({"action": "pipx_install", "package": "httpx", "executables": ["httpx"]}, ctx)
    [env] = seen
    private = Path(env["PIP_CACHE_DIR"])
    assert private.is_relative_to(Path(ctx.work_dir))  # the install's own cache folder
    for folder in ("http-v2", "http"):
        assert (private / folder).is_symlink()
        assert (private / folder).resolve() == (shared / "pip" / folder).resolve()
    assert not (private / "wheels").exists() and not (shared / "pip" / "wheels").exists()


def test_without_a_download_cache_pip_keeps_its_default(tmp_path: Path) -> None:
    pip_cache_environment: Callable[[Context], dict[str, str]] = PIPX.__globals__[
        "pip_cache_environment"
    ]
    assert pip_cache_environment(_ctx_with({}, tmp_path)) == {}
    # Only an absolute path is a cache folder (an "off" that slipped through is none).
    assert pip_cache_environment(_ctx_with({"AUTOMATION_DOWNLOAD_CACHE": "off"}, tmp_path)) == {}


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "ERROR: Could not find a version that satisfies the requirement numpy==1.26.4 "
            "(from databricks-connect) (from versions: 2.1.0, 2.1.1)\n"
            "ERROR: No matching distribution found for numpy==1.26.4",
            ("install_failed", "no_wheel"),
        ),
        (
            "ERROR: Could not find a version that satisfies the requirement no-such-tool "
            "(from versions: none)\nERROR: No matching distribution found for no-such-tool",
            ("recipe_not_found", "package_not_found"),
        ),
    ],
)
def test_a_dependency_without_a_wheel_is_not_a_missing_package(
    output: str, expected: tuple[str, str]
) -> None:
    """pip's words (pip 23-26, ``--only-binary :all:``): a dependency it cannot take as a wheel
    names its parent; a project that does not exist names only its versions."""
    assert installer.classify_output(output) == expected


class FakeUv(FakePip):
    """A provisioned uv that answers ``--version`` and installs as pip does."""

    def __init__(self, executables: list[str], version_output: str = "uv 0.13.9\n") -> None:
        super().__init__(executables)
        self.version_output = version_output
        self.envs: list[dict[str, str]] = []

    def __call__(self, argv: list[str], env: dict[str, str], cwd: str, timeout: float) -> Any:
        if argv[0].endswith("/uv") and argv[1:] == ["--version"]:
            self.commands.append(list(argv))
            return ProcessResult(0 if self.version_output else 126, self.version_output)
        if "install" in argv:
            self.envs.append(dict(env))
        return super().__call__(argv, env, cwd, timeout)


def _uv_binary(tmp_path: Path) -> str:
    binary = tmp_path / "uv-runtime" / "bin" / "uv"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return str(binary)


def _uv_ctx(
    tmp_path: Path, runner: FakeUv, env: dict[str, str], reuse_host_tools: bool = False
) -> Context:
    return Context(
        "httpx",
        Platform.parse("linux-debian-glibc-x86_64"),
        str(tmp_path / "prefix"),
        "0.28.1",
        runner=runner,
        env=env,
        uv=_uv_binary(tmp_path),
        reuse_host_tools=reuse_host_tools,
        log_to=lambda _line: None,
    )


def test_a_provisioned_uv_installs_wheels_only_with_the_shared_cache(tmp_path: Path) -> None:
    """With uv: one ``uv pip install`` into a venv without pip, wheels only, its cache in the
    shared download cache, no configuration files or Python downloads; uv is recorded."""
    runner = FakeUv(["httpx"])
    shared = tmp_path / "shared"
    ctx = _uv_ctx(tmp_path, runner, {"AUTOMATION_DOWNLOAD_CACHE": str(shared)})
    PIPX({"action": "pipx_install", "package": "httpx[cli]", "executables": ["httpx"]}, ctx)
    venv = next(c for c in runner.commands if "venv" in c)
    assert "--without-pip" in venv  # uv installs from outside: the venv needs no pip
    install = next(c for c in runner.commands if "install" in c)
    assert install[:3] == [ctx.uv, "pip", "install"]
    assert install[install.index("--python") + 1].endswith("/tools/httpx/venv/bin/python")
    assert install[install.index("--only-binary") + 1] == ":all:"
    assert install[-1] == "httpx[cli]==0.28.1"
    [env] = runner.envs
    assert env["UV_CACHE_DIR"] == str(shared / "uv")
    assert (env["UV_NO_CONFIG"], env["UV_PYTHON_DOWNLOADS"], env["UV_LINK_MODE"]) == (
        "1",
        "never",
        "copy",
    )
    assert "UV_DEFAULT_INDEX" not in env
    assert {"name": "uv", "version": "0.13.9", "path": ctx.uv} in ctx.runtimes
    assert (tmp_path / "prefix" / "bin" / "httpx").exists()


def test_uv_takes_the_kits_mirror_or_the_users_pip_index(tmp_path: Path) -> None:
    install_args = PIPX.__globals__["install_args"]
    python = str(tmp_path / "venv" / "bin" / "python")
    user = {"PIP_INDEX_URL": "https://pypi.corp.example/simple"}
    command, env = install_args(_uv_ctx(tmp_path / "a", FakeUv([]), user), python, "ruff")
    assert env["UV_DEFAULT_INDEX"] == "https://pypi.corp.example/simple"
    assert "--index-url" not in command
    mirror = {**user, "AUTOMATION_ENDPOINT_PYPI": "http://127.0.0.1:8080"}
    command, env = install_args(_uv_ctx(tmp_path / "b", FakeUv([]), mirror), python, "ruff")
    assert command[command.index("--index-url") + 1] == "http://127.0.0.1:8080/simple/"
    assert "UV_DEFAULT_INDEX" not in env  # the kit's mirror wins
    # Without a shared download cache, the cache is the install's own.
    assert env["UV_CACHE_DIR"].startswith(str(tmp_path / "b" / "prefix" / "work"))


def test_a_uv_that_does_not_run_here_leaves_the_install_to_pip(tmp_path: Path) -> None:
    """A uv built for another machine (an emulated architecture) reports no version: pip."""
    runner = FakeUv(["httpx"], version_output="")
    ctx = _uv_ctx(tmp_path, runner, {}, reuse_host_tools=True)
    PIPX({"action": "pipx_install", "package": "httpx", "executables": ["httpx"]}, ctx)
    install = next(c for c in runner.commands if "install" in c)
    assert install[0] != ctx.uv and install[1:3] == ["-m", "pip"]
    assert [r["name"] for r in ctx.runtimes if r["version"]] == ["python3"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # uv 0.13 (``uv pip install --only-binary :all:``), as printed on this machine.
        (
            "error: No solution found when resolving dependencies\n  cause: Because "
            "ibm-watsonx-ai>=0.1.4,<=0.1.8 has no usable wheels and only the following "
            "versions of ibm-watsonx-ai are available: ...\n         And because "
            "langchain-ibm<=0.0.1 depends on ibm-watsonx-ai>=0.1.4,<0.2.0, we can conclude ...",
            ("install_failed", "no_wheel"),
        ),
        (
            "  cause: Because all versions of docopt have no usable wheels and all versions of "
            "pymongo-schema depend on docopt, we can conclude that all versions of "
            "pymongo-schema cannot be used.",
            ("install_failed", "no_wheel"),
        ),
        (
            "error: No solution found when resolving dependencies\n  cause: Because "
            "numba==0.58.0 has no usable wheels and you require numba==0.58.0, we can conclude "
            "that your requirements are unsatisfiable.",
            ("recipe_not_found", "package_not_found"),
        ),
        (
            "  cause: Because this-package-does-not-exist-xyz123 was not found in the package "
            "registry and you require this-package-does-not-exist-xyz123, we can conclude ...",
            ("recipe_not_found", "package_not_found"),
        ),
        (
            "  cause: Because there is no version of httpie==0.0.1 and you require "
            "httpie==0.0.1, we can conclude that your requirements are unsatisfiable.",
            ("recipe_not_found", "package_not_found"),
        ),
        (
            "  cause: Because the current Python version (3.13.5) does not satisfy Python>=3.14 "
            "and tool==2.0 depends on Python>=3.14, we can conclude that tool==2.0 cannot be "
            "used.",
            ("install_failed", "runtime_version"),
        ),
    ],
)
def test_uv_failures_take_the_codes_pip_failures_take(
    output: str, expected: tuple[str, str]
) -> None:
    assert installer.classify_output(output) == expected
