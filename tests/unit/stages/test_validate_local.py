"""Local validation with a scripted runner, plus one real install per ecosystem (network)."""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from automation.core.process import Completed
from automation.stages.validate_local import (
    LocalValidator,
    apply_verify,
    version_pattern,
)

PIPX = {
    "metadata": {"name": "tool"},
    "steps": [{"action": "pipx_install", "package": "tool", "executables": ["tool"]}],
    "verify": {"command": "tool --version", "pattern": ""},
}


class ScriptedRunner:
    """Answers by the command's first distinctive word; creates the executables pip would."""

    def __init__(self, *, install: Completed, verify: dict[str, Completed], version: str = "1.2.3"):
        self.install = install
        self.verify = verify
        self.version = version
        self.calls: list[list[str]] = []

    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        self.calls.append(list(argv))
        if "venv" in argv:
            return Completed(0, "")
        if "pip" in argv:
            if self.install.exit_code == 0:
                bin_dir = Path(argv[argv.index("--python") + 1]).parent
                bin_dir.mkdir(parents=True, exist_ok=True)
                exe = bin_dir / "tool"
                exe.write_text("#!/bin/sh\n")
                exe.chmod(0o755)
            return self.install
        if "-c" in argv:
            return Completed(0, self.version + "\n")
        flag = " ".join(argv[1:])
        return self.verify.get(flag, Completed(2, "unknown option"))


def test_pass_with_version_pattern() -> None:
    runner = ScriptedRunner(
        install=Completed(0, ""), verify={"--version": Completed(0, "tool v1.2.3\n")}
    )
    result = LocalValidator(runner=runner).validate(PIPX)
    assert (result.status, result.verify_command, result.verify_pattern) == (
        "pass",
        "tool --version",
        "v{version}",
    )
    assert result.version == "1.2.3"


def test_falls_back_to_another_version_flag() -> None:
    runner = ScriptedRunner(install=Completed(0, ""), verify={"-V": Completed(0, "1.2.3")})
    result = LocalValidator(runner=runner).validate(PIPX)
    assert (result.status, result.verify_command, result.verify_pattern) == (
        "pass",
        "tool -V",
        "{version}",
    )


def test_tool_printing_no_version_gets_exit_status_check_recorded() -> None:
    runner = ScriptedRunner(install=Completed(0, ""), verify={"--version": Completed(0, "hello")})
    result = LocalValidator(runner=runner).validate(PIPX)
    assert (result.status, result.subcategory, result.verify_pattern) == (
        "pass",
        "version_not_printed",
        "",
    )
    assert "exit-status check only" in result.message


def test_verify_failure_keeps_the_tools_output() -> None:
    runner = ScriptedRunner(install=Completed(0, ""), verify={})
    result = LocalValidator(runner=runner).validate(PIPX)
    assert (result.status, result.category, result.subcategory) == (
        "fail",
        "verify_failed",
        "nonzero_exit",
    )
    assert "unknown option" in result.message


def test_only_transient_install_failures_are_retried() -> None:
    flaky = ScriptedRunner(install=Completed(1, "ERROR: Read timed out."), verify={})
    result = LocalValidator(runner=flaky, backoff=0).validate(PIPX)
    assert (result.category, result.attempts) == ("network_error", 3)
    broken = ScriptedRunner(
        install=Completed(1, "ERROR: Failed building wheel for tool"), verify={}
    )
    result = LocalValidator(runner=broken, backoff=0).validate(PIPX)
    assert (result.category, result.subcategory, result.attempts) == (
        "install_failed",
        "build_failed",
        1,
    )


def test_unsupported_action_is_skipped_not_failed() -> None:
    recipe = {"steps": [{"action": "homebrew", "formula": "jq"}]}
    result = LocalValidator(runner=ScriptedRunner(install=Completed(0, ""), verify={})).validate(
        recipe
    )
    # No category on a skip: the results-line schema admits one only on a fail.
    assert (result.status, result.category, result.subcategory) == (
        "skipped",
        None,
        "unsupported_action",
    )


def test_the_installers_pipx_action_runs_through_the_injected_runner() -> None:
    """Local validation runs the containers' installer code: the runtime's version, venv, pip,
    the version probe, then the verify candidates; every process through the one runner."""
    runner = ScriptedRunner(
        install=Completed(0, ""), verify={"--version": Completed(0, "tool 1.2.3\n")}
    )
    result = LocalValidator(runner=runner).validate(PIPX)
    assert result.status == "pass"
    runtime, venv, pip, probe, verify = runner.calls
    assert runtime == [sys.executable, "--version"]  # no pinned runtime given: this interpreter
    assert result.runtimes == (
        {
            "name": "python3",
            "version": "1.2.3",
            "build": f"not provided by the kit: {sys.executable}",
        },
    )
    assert venv[1:4] == ["-m", "venv", "--without-pip"]
    assert pip[1:3] == ["-m", "pip"] and pip[-1] == "tool"
    assert probe[1] == "-c" and probe[-1] == "tool"
    assert Path(verify[0]).name == "tool" and verify[1:] == ["--version"]
    assert Path(verify[0]).parent.name == "bin"  # the installer's bin/, where it linked it


def test_the_shared_download_cache_reaches_the_installers_actions(tmp_path: Path) -> None:
    """pip runs with a cache whose HTTP folders are the shared download cache's: what local
    downloads, the containers find (and the other way round)."""
    seen: list[Mapping[str, str]] = []
    runner = ScriptedRunner(
        install=Completed(0, ""), verify={"--version": Completed(0, "tool 1.2.3\n")}
    )

    def recording(
        argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        if "pip" in argv:
            seen.append(dict(env))
            cache = Path(env["PIP_CACHE_DIR"]) / "http-v2"
            (cache / "entry").write_text("a response pip cached")
        return runner(argv, env, cwd, timeout)

    shared = tmp_path / "downloads"
    result = LocalValidator(runner=recording, download_cache=shared).validate(PIPX)
    assert result.status == "pass"
    [env] = seen
    assert env["AUTOMATION_DOWNLOAD_CACHE"] == str(shared)
    # The install's throwaway folder is gone; what pip downloaded stays for the next one.
    assert (shared / "pip" / "http-v2" / "entry").read_text() == "a response pip cached"
    # Without a cache, nothing of it reaches the actions.
    plain: list[Mapping[str, str]] = []
    LocalValidator(
        runner=lambda a, e, c, t: (plain.append(e) if "pip" in a else None) or runner(a, e, c, t)
    ).validate(PIPX)
    assert "AUTOMATION_DOWNLOAD_CACHE" not in plain[0] and "PIP_CACHE_DIR" not in plain[0]


def test_missing_executable_keeps_the_local_words() -> None:
    recipe = {**PIPX, "steps": [{**PIPX["steps"][0], "executables": ["tool", "tool-admin"]}]}
    runner = ScriptedRunner(install=Completed(0, ""), verify={})
    result = LocalValidator(runner=runner).validate(recipe)
    assert (result.status, result.category, result.subcategory, result.exit_code) == (
        "fail",
        "verify_failed",
        "missing_executable",
        1,
    )
    assert (
        result.message == "declared executables not installed: ['tool-admin']; installed: ['tool']"
    )
    assert result.version == "1.2.3"


@pytest.mark.parametrize(
    ("install", "expected"),
    [
        (
            Completed(1, "ERROR: No matching distribution found for tool"),
            ("recipe_not_found", "package_not_found", 1),
        ),
        (Completed(124, "Collecting tool", timed_out=True), ("install_failed", "timeout", 124)),
        (Completed(1, "error: whatever"), ("install_failed", "package_manager_error", 1)),
    ],
)
def test_install_failures_keep_the_local_classification(
    install: Completed, expected: tuple[str, str, int]
) -> None:
    result = LocalValidator(runner=ScriptedRunner(install=install, verify={}), backoff=0).validate(
        PIPX
    )
    assert (result.category, result.subcategory, result.exit_code) == expected
    assert result.message == install.output  # the package manager's own words


class FakeNpm:
    """npm "installs" the way `npm install --global --prefix` lays a package out."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        self.calls.append(list(argv))
        if argv[1:2] == ["install"]:
            root = Path(argv[argv.index("--prefix") + 1])
            (root / "bin").mkdir(parents=True)
            (root / "bin" / "cowsay").write_text("#!/bin/sh\n")
            (root / "bin" / "cowsay").chmod(0o755)
            manifest = root / "lib" / "node_modules" / "cowsay" / "package.json"
            manifest.parent.mkdir(parents=True)
            manifest.write_text('{"version": "1.6.0"}')
            return Completed(0, "added 1 package")
        return Completed(0, "cowsay 1.6.0\n")


def test_npm_install_runs_the_installers_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for tool in ("npm", "node"):  # the action looks both up on PATH before running npm
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    recipe = {
        "steps": [{"action": "npm_install", "package": "cowsay", "executables": ["cowsay"]}],
        "verify": {"command": "cowsay --version"},
    }
    runner = FakeNpm()
    result = LocalValidator(runner=runner).validate(recipe)
    assert (result.status, result.version, result.verify_pattern) == ("pass", "1.6.0", "{version}")
    # the runtimes' versions are asked first (recorded in the result line), then npm installs
    assert runner.calls[0] == [str(tmp_path / "npm"), "--version"]
    assert runner.calls[1] == [str(tmp_path / "node"), "--version"]
    assert runner.calls[2][0] == str(tmp_path / "npm") and runner.calls[2][-1] == "cowsay"
    assert [r["name"] for r in result.runtimes] == ["npm", "node"]


def test_a_missing_toolchain_is_an_environment_gap_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No npm on this machine says nothing about the package: skipped, the gap named."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    recipe = {"steps": [{"action": "npm_install", "package": "cowsay", "executables": ["cowsay"]}]}
    result = LocalValidator(runner=FakeNpm()).validate(recipe)
    assert (result.status, result.category, result.subcategory) == (
        "skipped",
        None,
        "missing_toolchain",
    )
    assert result.message == (
        "environment lacks npm: npm_install needs npm, which is not installed"
    )
    assert result.attempts == 1  # not retried: only network trouble is


def test_skip_message_keeps_its_words() -> None:
    recipe = {"steps": [{"action": "homebrew", "formula": "x"}]}
    result = LocalValidator(runner=FakeNpm()).validate(recipe)
    assert result.message == (
        "local validation handles pipx_install and npm_install and go_install and gem_install"
        " and cpan_install and cargo_install,"
        " not ['homebrew']"
    )


def test_install_environment_carries_the_mirrors_and_nothing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The actions point their toolchains at the kit's mirrors locally, as in the containers."""
    from automation.stages.validate_local import _install_env

    monkeypatch.setenv("AUTOMATION_ENDPOINT_CRATESIO", "http://127.0.0.1:9")
    monkeypatch.setenv("GONOSUMDB", "example.com")
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    env = _install_env(tmp_path / "home", tmp_path / "bin")
    assert env["AUTOMATION_ENDPOINT_CRATESIO"] == "http://127.0.0.1:9"
    assert env["GONOSUMDB"] == "example.com"
    assert "GITHUB_TOKEN" not in env


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("tool 1.2.3", "{version}"),
        ("v1.2.3", "v{version}"),
        ("1.2.30", None),
        ("11.2.3", None),
        ("version: 1.2.3.", "{version}"),
        ("", None),
    ],
)
def test_version_pattern(output: str, expected: str | None) -> None:
    assert version_pattern(output, "1.2.3") == expected


def test_apply_verify_keeps_the_rest() -> None:
    text = (
        '# keep me\n[metadata]\nname = "tool"\n\n'
        '[verify]\ncommand = "tool --version"\npattern = ""\n'
    )
    out = apply_verify(text, "tool -V", "{version}", path="x")
    assert out.startswith("# keep me\n[metadata]")
    assert tomllib.loads(out)["verify"] == {"command": "tool -V", "pattern": "{version}"}


@pytest.mark.network
@pytest.mark.parametrize(
    ("action", "package", "executable"),
    [("pipx_install", "cowsay", "cowsay"), ("npm_install", "cowsay", "cowsay")],
)
def test_real_install_and_run(action: str, package: str, executable: str) -> None:
    if action == "npm_install" and not shutil.which("npm"):
        pytest.skip("npm is not installed")
    recipe = {
        "steps": [{"action": action, "package": package, "executables": [executable]}],
        "verify": {"command": f"{executable} --version"},
    }
    result = LocalValidator().validate(recipe)
    assert result.status == "pass", result.message
    assert result.version and result.verify_pattern == "{version}"
    assert os.environ.get("HOME")  # the host HOME was not replaced for the test process


def test_discovery_runs_a_shebang_less_script_as_the_shell_does(tmp_path: Path) -> None:
    """pnpm 12's bin is a shell script without `#!` until its install script swaps in the
    native binary: `sh -c 'pnpm --version'` (how verify runs) works, a direct exec fails with
    "Exec format error". Discovery runs it as the shell does; a real binary or a `#!` script
    is executed directly."""
    from automation.core.process import run_process
    from automation.stages.validate_local import LocalValidator, command_argv

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "tool"
    tool.write_text('# no shebang on purpose\necho "tool 4.5.6"\n')
    tool.chmod(0o755)
    assert command_argv(tool, ["--version"]) == ["/bin/sh", str(tool), "--version"]
    direct = run_process([str(tool), "--version"], dict(os.environ), str(tmp_path), 10)
    assert direct.exit_code != 0  # what discovery met before
    shebang = bin_dir / "other"
    shebang.write_text("#!/bin/sh\necho other\n")
    assert command_argv(shebang, ["-V"]) == [str(shebang), "-V"]
    elf = Path(sys.executable).resolve()
    assert command_argv(elf, []) == [str(elf)]

    found = LocalValidator(runtimes=()).discover_verify(
        {"verify": {"command": "tool --version"}}, ["tool"], tmp_path, bin_dir, "4.5.6"
    )
    status, category, _sub, _code, output, command, pattern = found
    assert (status, category, command) == ("pass", None, "tool --version"), output
    assert pattern and "{version}" in pattern


def test_discovery_stops_at_the_first_flag_that_hangs(tmp_path: Path) -> None:
    """protobuf-ts-protoc hung on every flag (it fetches protoc on first run): six timeouts, 185 s
    for one package. One timeout ends the discovery as verify_failed/timeout."""
    from automation.stages.validate_local import LocalValidator

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hangs").write_text("#!/bin/sh\nsleep 60\n")
    (bin_dir / "hangs").chmod(0o755)
    calls: list[Sequence[str]] = []

    def runner(argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float) -> Completed:
        calls.append(argv)
        return Completed(124, "", timed_out=True)

    found = LocalValidator(runner=runner, runtimes=()).discover_verify(
        {"verify": {"command": "hangs --version"}}, ["hangs"], tmp_path, bin_dir, "1.0.0"
    )
    assert found[:3] == ("fail", "verify_failed", "timeout")
    assert len(calls) == 1


def test_a_hang_after_a_clean_exit_keeps_the_exit_status_check(tmp_path: Path) -> None:
    from automation.stages.validate_local import LocalValidator

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "quiet").write_text("#!/bin/sh\n")
    (bin_dir / "quiet").chmod(0o755)
    answers = iter([Completed(0, "no version here"), Completed(124, "", timed_out=True)])

    def runner(argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float) -> Completed:
        return next(answers)

    found = LocalValidator(runner=runner, runtimes=()).discover_verify(
        {"verify": {"command": "quiet --version"}}, ["quiet"], tmp_path, bin_dir, "1.0.0"
    )
    assert found[:3] == ("pass", None, "version_not_printed")
    assert found[5] == "quiet --version"
