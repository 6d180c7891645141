"""Local validation through a tsuku binary (``TsukuValidator``), run against the fake tsuku of
tests/support/fake_tsuku.py (a script keeping tsuku's CLI contract): every outcome is a result
line the schema accepts, with the canonical category the kit's installer would give it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from automation.containers.tsuku import Installer, TsukuBinary, resolve_tsuku
from automation.core.layout import RegistryLayout
from automation.registry.results import read_results_file
from automation.registry.staging import GenerationOutcome, Staging
from automation.stages.validate import validate_batch_locally
from automation.stages.validate_local import LocalResult, TsukuValidator
from tests.support.fake_tsuku import VERSION, recipe_text, write_fake_tsuku

BATCH = "2026-01-02-030405-pypi"


@pytest.fixture
def binary(tmp_path: Path) -> TsukuBinary:
    return resolve_tsuku(str(write_fake_tsuku(tmp_path / "bin")), environ={})


def validate(binary: TsukuBinary, text: str, install_timeout: float = 60) -> LocalResult:
    validator = TsukuValidator(binary, backoff=0, environ={}, install_timeout=install_timeout)
    return validator.validate(tomllib.loads(text), text)


def test_a_pass_discovers_the_verify_command_from_the_installed_tool(binary: TsukuBinary) -> None:
    result = validate(binary, recipe_text("good", "good", ("good", "good-admin")))
    assert (result.status, result.category, result.subcategory) == ("pass", None, "")
    assert result.version == "1.2.3"  # from tsuku's state.json
    assert (result.verify_command, result.verify_pattern) == ("good --version", "{version}")
    assert result.attempts == 1


def test_a_tool_that_prints_no_version_passes_as_an_exit_status_check(
    binary: TsukuBinary,
) -> None:
    result = validate(binary, recipe_text("quiet", "fake-silent"))
    assert (result.status, result.subcategory) == ("pass", "version_not_printed")


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        ("fake-dns", ("fail", "network_error", "dns_error", 5)),
        ("fake-missing-dep", ("fail", "missing_dep", "dependency_not_found", 8)),
        ("fake-dep-broken", ("fail", "missing_dep", "dependency_failed", 8)),
        ("fake-no-such-package", ("fail", "recipe_not_found", "package_not_found", 6)),
        ("fake-bad-verify", ("fail", "verify_failed", "pattern_mismatch", 6)),
    ],
)
def test_tsuku_failures_take_the_canonical_categories(
    binary: TsukuBinary, package: str, expected: tuple[str, str, str, int]
) -> None:
    result = validate(binary, recipe_text("tool", package))
    got = (result.status, result.category, result.subcategory, result.exit_code)
    assert got == expected
    assert result.message.startswith(f"tsuku install exited {expected[3]}")
    assert "Installing tool@1.2.3" in result.message  # the tail
    attempts = 3 if expected[1] == "network_error" else 1
    assert result.attempts == attempts


def test_a_network_failure_is_retried_and_then_passes(binary: TsukuBinary) -> None:
    result = validate(binary, recipe_text("flaky", "fake-flaky"))
    assert (result.status, result.attempts) == ("pass", 2)


def test_an_install_past_its_time_is_a_timeout(binary: TsukuBinary) -> None:
    result = validate(binary, recipe_text("slow", "fake-hang"), install_timeout=1)
    got = (result.status, result.category, result.subcategory)
    assert got == ("fail", "install_failed", "timeout")


def test_a_recipe_for_another_platform_is_skipped_without_running_tsuku(tmp_path: Path) -> None:
    # A binary that would fail the test if it ran: the skip is decided before.
    never = tmp_path / "tsuku"
    never.write_text("#!/bin/sh\nexit 99\n")
    never.chmod(0o755)
    binary = TsukuBinary(str(never), VERSION, f"tsuku version {VERSION}")
    text = recipe_text("mac", "mac").replace(
        "[metadata]\n", '[metadata]\nsupported_os = ["darwin"]\n'
    )
    result = validate(binary, text)
    assert (result.status, result.category, result.subcategory) == (
        "skipped",
        None,
        "unsupported_platform",
    )
    assert "supported_os" in result.message


def test_the_batch_records_tsuku_and_rewrites_verify(binary: TsukuBinary, tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path / "registry")
    staging = Staging(layout, BATCH)
    staging.record(GenerationOutcome("good", "pypi:good", "generated"), recipe_text("good", "good"))
    staging.record(
        GenerationOutcome("gone", "pypi:gone", "generated"),
        recipe_text("gone", "fake-no-such-package"),
    )
    report = validate_batch_locally(layout, BATCH, installer=Installer("tsuku", binary))

    scan = read_results_file(layout.results_file(BATCH, "local"))
    assert scan.problems == []  # the installer field passes the schema
    lines = {line.recipe: line for line in scan.lines}
    assert {name: line.installer for name, line in lines.items()} == {
        "good": f"tsuku {VERSION}",
        "gone": f"tsuku {VERSION}",
    }
    assert (lines["gone"].category, lines["gone"].subcategory) == (
        "recipe_not_found",
        "package_not_found",
    )
    document = report.to_json()
    assert document["installer"]["version_output"] == f"tsuku version {VERSION}"
    assert document["installer"]["path"] == binary.path
    assert f"with tsuku {VERSION}" in report.to_text().splitlines()[0]
    rewritten = tomllib.loads(staging.recipe_path("good").read_text())
    assert rewritten["verify"] == {"command": "good --version", "pattern": "{version}"}


def test_the_kit_writes_no_installer_field(tmp_path: Path) -> None:
    """Lines from the kit's installer stay as every line before the choice existed."""
    from automation.registry.results import ResultLine

    line = ResultLine("a", "local", "linux-debian-glibc-x86_64", "pass", None, None, 0, 1, "", "t")
    assert "installer" not in line.to_json()
