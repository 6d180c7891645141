"""The front door's flag parsers, its error mapping, and writes that leave nothing behind."""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from invoke.exceptions import Exit

from automation import frontdoor as flag
from automation.core.errors import DataError, UsageError
from automation.registry.staging import is_batch_id, new_batch_id


@pytest.mark.parametrize("text", ["abc", "1e9", "10.0", "1_000", "0x10", "ten", "5 5"])
def test_integer_refuses_what_is_not_a_whole_number(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--top: expected a whole number from 1 to 100, got"):
        flag.integer("--top", text, default=10, minimum=1, maximum=100)


def test_integer_bounds_and_default() -> None:
    assert flag.integer("--top", None, default=10, minimum=1, maximum=100) == 10
    assert flag.integer("--top", " ", default=10, minimum=1, maximum=100) == 10
    assert flag.integer("--top", " 100 ", default=10, minimum=1, maximum=100) == 100
    for text in ("0", "101", "-1"):
        with pytest.raises(UsageError, match="from 1 to 100"):
            flag.integer("--top", text, default=10, minimum=1, maximum=100)


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "-1", "86401", "1e9", "1,5"])
def test_wait_refuses_non_numbers_and_out_of_range(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--wait: expected a number from 0 to 86400"):
        flag.wait_seconds("--wait", text)


def test_decimal_accepts_the_usual_spellings() -> None:
    assert flag.wait_seconds("--wait", "0") == 0.0
    assert flag.wait_seconds("--wait", "2.5") == 2.5
    assert flag.wait_seconds("--wait", "1e3") == 1000.0
    assert flag.wait_seconds("--wait", None) is None
    with pytest.raises(UsageError, match="above 0"):
        flag.decimal("--rate", "0", minimum=0.0, maximum=10.0, above_minimum=True)


def test_shard_needs_k_of_n() -> None:
    assert flag.shard("--shard", "2/4") == "2/4"
    assert flag.shard("--shard", None) is None
    for text in ("0/4", "5/4", "2", "2/4/8", "a/b", "-1/4"):
        with pytest.raises(UsageError, match=r"--shard: expected K/N"):
            flag.shard("--shard", text)


def test_required_names_the_flag_and_what_it_wants() -> None:
    with pytest.raises(UsageError, match=r"^--batch-id is required: the batch to merge"):
        flag.batch_id("--batch-id", None, expected="the batch to merge")
    with pytest.raises(UsageError, match=r"^--results is required \(repeatable\)"):
        flag.required_list("--results", ["", " "], expected="a results file")


def test_names_are_recipe_names_lowercased_once_each_in_order() -> None:
    assert flag.names("--force", None, expected="a name") == []
    assert flag.names("--force", ["HTTPie", " black ", "", "httpie"], expected="x") == [
        "httpie",
        "black",
    ]


@pytest.mark.parametrize("text", ["../etc", "a/b", "two words", "-x"])
def test_names_refuse_what_is_no_recipe_name(text: str) -> None:
    with pytest.raises(UsageError, match=f"--force '{re.escape(text)}' is not a recipe name"):
        flag.names("--force", [text], expected="a recipe name")


def test_every_batch_id_generate_makes_is_one_merge_can_record() -> None:
    when = datetime(2026, 11, 27, 17, 35, 1)
    for ecosystem in ("pypi", "npm", "crates.io", "rubygems", "homebrew", "cask", "github"):
        assert is_batch_id(new_batch_id(ecosystem, when))
        assert is_batch_id(new_batch_id(ecosystem, when, "3/8"))
    assert flag.batch_id("--batch-id", "2026-11-27") == "2026-11-27"


@pytest.mark.parametrize(
    "text",
    ["b1", "2026-11-27-PyPI", "2026-11-27-a..b", "2026-11-27-", "26-11-27-x", "2026-11-27-a/b"],
)
def test_free_form_batch_ids_are_refused_with_the_pattern(text: str) -> None:
    assert not is_batch_id(text)
    with pytest.raises(UsageError, match=r"--batch-id: expected YYYY-MM-DD\[-suffix\]"):
        flag.batch_id("--batch-id", text)


def test_an_existing_batch_may_have_an_old_free_form_name_but_not_a_path() -> None:
    assert flag.existing_batch("--batch-id", "b1", expected="the batch") == "b1"
    with pytest.raises(UsageError, match="--batch-id"):
        flag.existing_batch("--batch-id", "../b1", expected="the batch")


def test_output_dir_refuses_a_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"^--out: "):
        flag.output_dir("--out", str(tmp_path / "file"), expected="a folder")
    with pytest.raises(UsageError, match=r"^--out: cannot create the directory: .*ENOTDIR"):
        flag.output_dir("--out", str(tmp_path / "file" / "site"), expected="a folder")
    assert flag.output_dir("--out", str(tmp_path / "a" / "b"), expected="x").is_dir()


def _exit_code(produce: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(Exit) as caught:
        flag.run(produce, as_json=False)
    return caught.value.code, capsys.readouterr().err


def test_run_maps_file_system_and_cache_errors_to_exit_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def read_only() -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/registry/batch-control.json")

    code, err = _exit_code(read_only, capsys)
    assert code == 3
    assert err == (
        "error: file-system error: Read-only file system [EROFS] at "
        "/registry/batch-control.json (the file system is mounted read-only)\n"
    )

    def cache_full() -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    code, err = _exit_code(cache_full, capsys)
    assert code == 3 and "failure index cache" in err and "disk is full" in err

    def bad_flag() -> Any:
        return flag.integer("--limit", "abc", default=1, minimum=0)

    code, err = _exit_code(bad_flag, capsys)
    assert (code, err) == (2, "error: --limit: expected a whole number, at least 0, got 'abc'\n")

    def bad_data() -> Any:
        raise DataError("bad", path="data/x.json")

    assert _exit_code(bad_data, capsys)[0] == 3


def test_the_user_agent_names_the_kit_its_version_and_the_contact_url() -> None:
    import tomllib

    from automation import USER_AGENT, __version__
    from automation.core.layout import REPOSITORY_ROOT

    project = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text())["project"]
    (url,) = project["urls"].values()
    assert f"registry-automation/{__version__} (+{url})" == USER_AGENT


def test_sigterm_stops_a_task_as_ctrl_c_does_and_its_cleanup_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A supervisor's SIGTERM reaches the task as KeyboardInterrupt: its ``finally`` blocks run
    (where containers are removed), it exits 130, and the previous handler is back after."""
    import signal

    cleaned: list[str] = []

    def produce() -> Any:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the handler interrupts the sleep
            raise AssertionError("SIGTERM did not interrupt the task")
        finally:
            cleaned.append("container removed")

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Exit) as info:
        flag.run(produce, as_json=False)
    assert info.value.code == 130
    assert cleaned == ["container removed"]
    assert "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before
