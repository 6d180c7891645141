"""The one process runner: every outcome is a value, output is capped, timeouts kill the group."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from automation.core.process import NOT_FOUND_EXIT, TIMEOUT_EXIT, run_process


def test_exit_code_and_interleaved_output(tmp_path: Path) -> None:
    done = run_process(
        ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], {"PATH": "/usr/bin:/bin"}, tmp_path, 10
    )
    assert (done.exit_code, done.ok, done.timed_out, done.missing) == (3, False, False, False)
    assert done.output.split() == ["out", "err"]
    assert done.argv[0] == "/bin/sh"


def test_streams_apart_environment_replaced_and_cwd(tmp_path: Path) -> None:
    done = run_process(
        ["/bin/sh", "-c", 'echo "$ONLY:$HOME"; pwd; echo oops >&2'],
        {"ONLY": "set", "PATH": "/usr/bin:/bin"},
        tmp_path,
        10,
        merge_stderr=False,
    )
    assert done.ok
    assert done.output.splitlines() == ["set:", str(tmp_path.resolve())]
    assert done.stderr == "oops\n"


def test_missing_executable_is_a_value(tmp_path: Path) -> None:
    done = run_process([str(tmp_path / "no-such-tool"), "--version"], None, None, 5)
    assert (done.exit_code, done.missing, done.ok) == (NOT_FOUND_EXIT, True, False)
    assert "no-such-tool" in done.output


def test_not_executable_is_a_value(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")  # no exec bit
    done = run_process([str(script)], None, None, 5)
    assert done.exit_code == 126 and not done.missing


def test_timeout_kills_the_whole_group_and_reports_it(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    # The grandchild would write the marker after 2 s if it outlived the timeout.
    command = f"(sleep 2; touch {marker}) & echo started; sleep 30"
    started = time.monotonic()
    done = run_process(["/bin/sh", "-c", command], None, None, 0.5)
    elapsed = time.monotonic() - started
    assert (done.exit_code, done.timed_out, done.ok) == (TIMEOUT_EXIT, True, False)
    assert "started" in done.output  # what it printed before the timeout is kept
    assert elapsed < 5
    time.sleep(2.5)
    assert not marker.exists(), "a child of the timed-out process outlived it"


def test_output_is_capped_to_its_tail() -> None:
    code = "import sys; sys.stdout.write('a' * 100000 + 'THE END')"
    done = run_process([sys.executable, "-c", code], None, None, 30, output_limit=1000)
    assert done.ok and done.truncated
    assert len(done.output) == 1000 and done.output.endswith("THE END")
    whole = run_process([sys.executable, "-c", code], None, None, 30, output_limit=None)
    assert len(whole.output) == 100007 and not whole.truncated
