"""The tsuku contract: choosing the installer, checking the binary, reading tsuku's outcome and
judging the recipe's verify. The binary is the fake in tests/support/fake_tsuku.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.containers import installer, tsuku
from automation.core.errors import ExitCode, UsageError
from tests.support.fake_tsuku import VERSION, write_fake_tsuku


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    return write_fake_tsuku(tmp_path / "bin")


# --- choosing the installer -------------------------------------------------------------------


def test_the_kit_is_the_default_whatever_tsuku_bin_says(fake: Path) -> None:
    chosen = tsuku.select_installer(None, None, environ={"TSUKU_BIN": str(fake)})
    assert chosen == tsuku.KIT_INSTALLER
    assert (chosen.label, chosen.result_field) == ("kit", None)
    assert tsuku.select_installer("kit", None, environ={}).tsuku is None


def test_an_unknown_installer_is_a_usage_error_naming_the_flag() -> None:
    with pytest.raises(UsageError) as caught:
        tsuku.select_installer("apt", None, environ={})
    assert caught.value.exit_code == ExitCode.USAGE
    assert "--installer" in str(caught.value) and "'apt'" in str(caught.value)


def test_tsuku_bin_without_the_tsuku_installer_is_refused(fake: Path) -> None:
    with pytest.raises(UsageError, match="--tsuku-bin is only used with --installer tsuku"):
        tsuku.select_installer("kit", str(fake), environ={})


def test_tsuku_without_a_binary_names_both_places_to_give_one() -> None:
    with pytest.raises(UsageError) as caught:
        tsuku.select_installer("tsuku", None, environ={"PATH": "/usr/bin"})
    assert caught.value.exit_code == ExitCode.USAGE
    assert "--tsuku-bin" in str(caught.value) and "TSUKU_BIN" in str(caught.value)


def test_the_binary_comes_from_the_flag_before_the_variable(fake: Path, tmp_path: Path) -> None:
    other = write_fake_tsuku(tmp_path / "other", version="0.12.1")
    chosen = tsuku.select_installer("tsuku", str(fake), environ={"TSUKU_BIN": str(other)})
    assert chosen.tsuku is not None
    assert (chosen.tsuku.path, chosen.tsuku.version) == (str(fake), VERSION)
    assert chosen.label == chosen.result_field == f"tsuku {VERSION}"
    assert chosen.to_json()["version_output"] == f"tsuku version {VERSION}"
    from_env = tsuku.select_installer("tsuku", None, environ={"TSUKU_BIN": str(other)})
    assert from_env.label == "tsuku 0.12.1"


def test_a_relative_path_is_made_absolute(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fake.parent)
    binary = tsuku.resolve_tsuku("./tsuku", environ={})
    assert binary.path == str(fake)  # a container mount needs an absolute source


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "is not a file"),
        ("directory", "is not a file"),
        ("not-executable", "is not executable"),
        ("fails", "exited 3"),
        ("not-tsuku", "is it a tsuku binary?"),
    ],
)
def test_a_binary_that_is_not_a_working_tsuku_is_a_usage_error(
    tmp_path: Path, setup: str, expected: str
) -> None:
    path = tmp_path / "tsuku"
    if setup == "directory":
        path.mkdir()
    elif setup == "not-executable":
        path.write_text("#!/bin/sh\necho tsuku version 1.0\n")
    elif setup == "fails":
        path.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    elif setup == "not-tsuku":
        path.write_text("#!/bin/sh\necho 'GNU coreutils 9.4'\n")
    if setup in ("fails", "not-tsuku"):
        path.chmod(0o755)
    for source, flag, environ in (
        ("--tsuku-bin", str(path), {}),
        ("TSUKU_BIN", None, {"TSUKU_BIN": str(path)}),
    ):
        with pytest.raises(UsageError) as caught:
            tsuku.select_installer("tsuku", flag, environ=environ)
        message = str(caught.value)
        assert message.startswith(f"{source}: ") and str(path) in message
        assert expected in message


# --- reading tsuku's outcome ------------------------------------------------------------------


def document(code: int, message: str, subcategory: str = "", missing: tuple[str, ...] = ()) -> str:
    """What ``tsuku install --json`` prints on a failure (printJSON: two-space indent)."""
    category = {3: "recipe_not_found", 5: "network_error", 8: "missing_dep"}.get(code)
    body: dict[str, object] = {"status": "error", "category": category or "install_failed"}
    if subcategory:
        body["subcategory"] = subcategory
    body.update(message=message, missing_recipes=list(missing), install_exit_code=code)
    return json.dumps(body, indent=2)


DEP_NOT_FOUND = "failed to install dependency 'libfoo': recipe libfoo not found in registry"
VERIFY_EXIT = "installation verification failed: installation verification failed: exit status 1"
# (exit code, what tsuku printed after its progress lines, "status/category/subcategory")
OUTCOMES = [
    (0, "Installing x@1.0\n", "pass//"),
    (5, document(5, "lookup failed", "dns_error"), "fail/network_error/dns_error"),
    (5, document(5, "tls: handshake", "tls_error"), "fail/network_error/tls_error"),
    # No subcategory from tsuku: the kit reads the text, else connection_error.
    (5, document(5, "i/o: ETIMEDOUT"), "fail/network_error/timeout"),
    (5, document(5, "registry unreachable"), "fail/network_error/connection_error"),
    (8, document(8, DEP_NOT_FOUND, missing=("libfoo",)), "fail/missing_dep/dependency_not_found"),
    (
        8,
        document(8, "failed to install dependency 'b': exit 1"),
        "fail/missing_dep/dependency_failed",
    ),
    (3, document(3, "recipe nodejs not found"), "fail/missing_dep/dependency_not_found"),
    (4, "Error: version 9.9 not found\n", "fail/install_failed/no_version"),
    (
        6,
        document(6, "installation verification failed: pattern mismatch\n  Missing: 2.0"),
        "fail/verify_failed/pattern_mismatch",
    ),
    (6, document(6, VERIFY_EXIT), "fail/verify_failed/exit_code"),
    (7, "Verification failed: exit status 1\n", "fail/verify_failed/exit_code"),
    # The kit's own readings of a package manager's output (each ecosystem's classes).
    (
        6,
        document(6, "pipx_install: ERROR: No matching distribution found for nosuch"),
        "fail/recipe_not_found/package_not_found",
    ),
    (6, document(6, "npm ERR! code ECONNRESET"), "fail/network_error/connection_error"),
    (6, document(6, "checksum mismatch:\n  expected: aa"), "fail/install_failed/checksum_mismatch"),
    (6, document(6, "failed to load recipe from r.toml: line 3"), "fail/install_failed/bad_recipe"),
    (6, document(6, "extract: unexpected EOF"), "fail/install_failed/exit_6"),
    (1, "Failed to get config: permission denied\n", "fail/install_failed/exit_1"),
]


@pytest.mark.parametrize(("code", "output", "expected"), OUTCOMES)
def test_tsuku_outcomes_map_onto_the_canonical_categories(
    code: int, output: str, expected: str
) -> None:
    stderr = "Installing tool@1.0\nError: something went wrong\n"
    outcome = tsuku.classify_install(code, stderr + output)
    got = f"{outcome.status}/{outcome.category or ''}/{outcome.subcategory or ''}"
    assert got == expected
    assert outcome.exit_code == code
    if code:
        assert outcome.message.startswith(f"tsuku install exited {code}")
        assert "something went wrong" in outcome.message  # the output tail is kept


def test_a_timeout_is_an_install_timeout_and_only_network_failures_are_transient() -> None:
    timed_out = tsuku.classify_install(124, "Downloading...", timed_out=True)
    assert (timed_out.category, timed_out.subcategory) == ("install_failed", "timeout")
    assert not timed_out.transient
    dns = tsuku.classify_install(5, document(5, "x", "dns_error"))
    tls = tsuku.classify_install(5, document(5, "x", "tls_error"))
    assert dns.transient and not tls.transient


def test_missing_recipes_are_named_in_the_message() -> None:
    output = document(8, "dependency", missing=("libfoo", "libbar"))
    assert "recipes not found: libfoo, libbar" in tsuku.classify_install(8, output).message


def test_the_error_document_is_found_among_other_output() -> None:
    text = (
        "Installing x\n{not json at all\n"
        + document(6, "first")
        + "\nwarning: {braces}\n"
        + document(5, "last", "timeout")
        + "\n"
    )
    found = tsuku.error_document(text)
    assert found is not None and found["message"] == "last"
    assert tsuku.error_document("no document here\n{\n") is None
    # A document held outside the bounds (huge integer) is not read.
    assert tsuku.error_document('{\n "install_exit_code": 1' + "0" * 30 + "\n}\n") is None


def test_the_installed_version_is_read_from_the_state_file() -> None:
    state = {"installed": {"x": {"active_version": "2.0", "version": "1.0"}, "y": {"version": "3"}}}
    text = json.dumps(state)
    assert tsuku.installed_version(text, "x") == "2.0"
    assert tsuku.installed_version(text, "y") == "3"  # older state files
    assert tsuku.installed_version(text, "z") is None
    assert tsuku.installed_version("garbage", "x") is None
    assert tsuku.installed_version('{"installed": []}', "x") is None


# --- what runs --------------------------------------------------------------------------------


def test_commands_and_environment() -> None:
    assert tsuku.install_command("/opt/tsuku", "/h/recipes/x.toml") == [
        "/opt/tsuku",
        "install",
        "--json",
        "--force",
        "--recipe",
        "/h/recipes/x.toml",
    ]
    assert tsuku.recipe_file("/h/", "x") == "/h/recipes/x.toml"
    assert tsuku.current_dir("/h") == "/h/tools/current"
    assert tsuku.tool_dir("/h", "x", "1.0") == "/h/tools/x-1.0"
    quiet = tsuku.quiet_env("/h")
    assert quiet["TSUKU_HOME"] == "/h"
    assert quiet["TSUKU_NO_TELEMETRY"] == quiet["TSUKU_NO_UPDATE_CHECK"] == "1"
    local = tsuku.local_env("/h", {"TSUKU_REGISTRY_URL": "/reg", "SECRET": "s", "GITHUB_TOKEN": ""})
    assert local["TSUKU_REGISTRY_URL"] == "/reg" and "SECRET" not in local
    assert "GITHUB_TOKEN" not in local and local["TSUKU_HOME"] == "/h"


LINUX = installer.Platform.parse("linux-debian-glibc-x86_64")


def test_declared_executables_and_skips_follow_the_platform() -> None:
    recipe = {
        "metadata": {"name": "t"},
        "steps": [
            {"action": "download_archive", "when": {"os": "darwin"}, "binaries": ["mac-only"]},
            {"action": "download_archive", "binaries": ["bin/t", {"src": "x", "dest": "t2"}]},
            {"action": "pipx_install", "executables": ["t", "t3"]},
        ],
    }
    assert tsuku.declared_executables(recipe, LINUX) == ["t", "t2", "t3"]
    assert tsuku.skip_reason(recipe, LINUX) is None
    darwin_only = {"metadata": {"name": "t", "supported_os": ["darwin"]}, "steps": []}
    assert "supported_os" in (tsuku.skip_reason(darwin_only, LINUX) or "")
    no_step = {"metadata": {"name": "t"}, "steps": [{"action": "a", "when": {"os": "darwin"}}]}
    assert tsuku.skip_reason(no_step, LINUX) == "no step applies to linux/amd64"


# --- the recipe's verify ----------------------------------------------------------------------


def test_verify_checks_fill_the_command_and_keep_the_pattern() -> None:
    recipe = {
        "verify": {
            "command": "{install_dir}/bin/t --version",
            "pattern": "t {version}",
            "additional": [{"command": "t --help", "pattern": "usage"}, {"pattern": "x"}],
        }
    }
    checks = tsuku.verify_checks(recipe, "1.0", "/h/tools/t-1.0")
    assert checks == [
        tsuku.VerifyCheck("/h/tools/t-1.0/bin/t --version", ("t {version}",)),
        tsuku.VerifyCheck("t --help", ("usage",)),
    ]
    assert tsuku.verify_checks({}, "1.0", "/x") == []


VERSION_CHECK = {"command": "t -V", "pattern": "{version}"}
# ([verify] table, (exit code, output, timed out) per check, "status/category/subcategory")
VERDICTS = [
    (VERSION_CHECK, [(0, "t 1.0\n", False)], "pass//"),
    (VERSION_CHECK, [(0, "t 2.5\n", False)], "fail/verify_failed/pattern_mismatch"),
    ({"command": "t -V"}, [(1, "boom", False)], "fail/verify_failed/exit_code"),
    ({"command": "t -V", "exit_code": 1}, [(1, "ok", False)], "pass//"),
    ({"command": "t -V", "mode": "output", "pattern": "t"}, [(3, "t", False)], "pass//"),
    ({"command": "t -V"}, [(124, "", True)], "fail/verify_failed/timeout"),
    ({}, [], "pass//no_verify"),
]


@pytest.mark.parametrize(("verify", "runs", "expected"), VERDICTS)
def test_verify_is_judged_by_the_kit_rules(
    verify: dict[str, object],
    runs: list[tuple[int, str, bool]],
    expected: str,
) -> None:
    recipe = {"verify": verify}
    checks = tsuku.verify_checks(recipe, "1.0", "/h/tools/t-1.0")
    outcome = tsuku.judge_verify(recipe, checks, runs, "1.0")
    assert f"{outcome.status}/{outcome.category or ''}/{outcome.subcategory or ''}" == expected
    if runs and runs[0][1]:
        assert runs[0][1].strip() in outcome.message


def test_an_additional_check_fails_the_verify() -> None:
    recipe = {"verify": {"command": "t -V", "additional": [{"command": "t x", "pattern": "ok"}]}}
    checks = tsuku.verify_checks(recipe, "1.0", "/d")
    outcome = tsuku.judge_verify(recipe, checks, [(0, "t 1.0", False), (0, "nope", False)], "1.0")
    assert (outcome.category, outcome.subcategory) == ("verify_failed", "pattern_mismatch")
    assert "'t x'" in outcome.message
