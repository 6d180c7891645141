"""Local validation with a scripted runner, plus one real install per ecosystem (network)."""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from automation.stages.validate_local import (
    Completed,
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
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
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
    assert (result.status, result.subcategory) == ("skipped", "unsupported_action")


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
