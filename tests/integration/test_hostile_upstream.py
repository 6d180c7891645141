"""Hostile inputs end in a recorded failure or a clean error, never a hang, crash or traceback.

* upstream servers that drip, stall, rate-limit for ever, fail, answer garbage or announce
  10 GB, on every HTTP path of ``generate`` (PyPI JSON, npm packument, PyPI wheel Range reads):
  each entry gets its own specific failure record and the batch goes on (a good entry in the
  same batch is generated);
* a failure line with an exit code past int64: check-data names file and line (exit 3);
  gaps, requeue and dashboard skip it with a warning naming it (no traceback);
* ``batch-control.json`` nested 5,000 levels deep: generate, merge, requeue and dashboard stop
  with a DataError naming the file (exit 3), not a RecursionError.

Deadlines are set small (1 s; the per-read timeout stays 5 s), so every test ends in seconds.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from automation.core.errors import ExitCode
from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.stages.pipeline import run_generate
from tests.support import pipeline_fakes as fakes
from tests.support.fake_upstream import FIXTURES, FakeUpstream, sparse_wheel
from tests.support.hostile_upstream import (
    HostileUpstream,
    drip,
    endless,
    huge_length,
    plain,
    stall,
)

REPOSITORY = Path(__file__).resolve().parents[2]
DEADLINE = "1"
BATCH = "2026-11-27-170000-pypi"

# Behaviour -> the failure the entry it serves must get.
EXPECTED = {
    "dripper": "network_error/timeout",
    "staller": "network_error/timeout",
    "limiter": "network_error/rate_limited",
    "crasher": "network_error/upstream_unavailable",
    "garbler": "generation_failed/bad_response",
    "whopper": "generation_failed/response_too_large",
}


def behaviours() -> dict[str, Any]:
    return {
        "dripper": drip(0.2),
        "staller": stall(30, after_headers=False),
        "limiter": plain(429, b"slow down", {"Retry-After": "99999"}),
        "crasher": plain(503, b"<html>down</html>"),
        "garbler": plain(200, b'{"name": "garbler", "versions": {'),
        "whopper": huge_length(),
    }


@pytest.fixture
def hostile() -> Iterator[HostileUpstream]:
    with HostileUpstream() as server:
        yield server
        assert server.unexpected == []


@pytest.fixture
def friendly() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()
    assert server.unexpected == []


def registry(root: Path, ecosystem: str, names: list[str]) -> RegistryLayout:
    layout = RegistryLayout.at(root)
    entries = [
        QueueEntry(n, f"{ecosystem}:{n}", 3, "pending", "auto", None, 0, None) for n in names
    ]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries))
    # Fast retries; the deadline and endpoints come from the environment (as in CI).
    (root / "automation.toml").write_text(
        "[http]\nretries = 1\nbackoff_factor = 0.01\nread_timeout = 5\n"
        "[rate_limits]\npypi = 1000\npypifiles = 1000\nnpm = 1000\n"
    )
    return layout


def generated(layout: RegistryLayout, ecosystem: str) -> dict[str, str]:
    report = run_generate(layout, ecosystem, batch_size=20, workers=8)
    assert report.exit_code == ExitCode.PARTIAL
    return {
        o.name: "generated" if o.status == "generated" else f"{o.category}/{o.subcategory}"
        for o in report.outcomes
    }


def test_pypi_json_path(
    tmp_path: Path, hostile: HostileUpstream, friendly: FakeUpstream, monkeypatch: Any
) -> None:
    for name, behaviour in behaviours().items():
        hostile.routes[f"/pypi/{name}/json"] = behaviour
    hostile.routes["/pypi/httpie/json"] = plain(
        200, (FIXTURES / "pypi" / "httpie.json").read_bytes()
    )
    document = json.loads((FIXTURES / "pypi" / "httpie.json").read_text())
    wheel = next(u for u in document["urls"] if u["filename"].endswith(".whl"))
    friendly.blob(
        wheel["url"].replace("https://files.pythonhosted.org", ""), sparse_wheel(wheel["filename"])
    )
    monkeypatch.setenv("AUTOMATION_ENDPOINT_PYPI", hostile.base)
    monkeypatch.setenv("AUTOMATION_ENDPOINT_PYPIFILES", friendly.base)
    monkeypatch.setenv("AUTOMATION_HTTP_DEADLINE", DEADLINE)
    layout = registry(tmp_path, "pypi", [*EXPECTED, "httpie"])
    assert generated(layout, "pypi") == {**EXPECTED, "httpie": "generated"}


def test_npm_path(tmp_path: Path, hostile: HostileUpstream, monkeypatch: Any) -> None:
    for name, behaviour in behaviours().items():
        hostile.routes[f"/{name}"] = behaviour
    hostile.routes["/cowsay"] = plain(200, (FIXTURES / "npm" / "cowsay.json").read_bytes())
    monkeypatch.setenv("AUTOMATION_ENDPOINT_NPM", hostile.base)
    monkeypatch.setenv("AUTOMATION_HTTP_DEADLINE", DEADLINE)
    layout = registry(tmp_path, "npm", [*EXPECTED, "cowsay"])
    assert generated(layout, "npm") == {**EXPECTED, "cowsay": "generated"}


def test_pypi_wheel_range_reads(
    tmp_path: Path, hostile: HostileUpstream, friendly: FakeUpstream, monkeypatch: Any
) -> None:
    """The JSON is fine; the wheel host is hostile (the ranged reads of entry points)."""
    base = json.loads((FIXTURES / "pypi" / "httpie.json").read_text())
    real = next(u for u in base["urls"] if u["filename"].endswith(".whl"))
    wheel_bytes = sparse_wheel(real["filename"])
    wheel_behaviours = behaviours()
    wheel_behaviours["garbler"] = plain(
        206, b"PK\x05\x06garbage", {"Content-Range": "bytes 0-9/10"}
    )
    wheel_behaviours["staller"] = endless()  # a wheel host that never stops sending
    expected = {
        **EXPECTED,
        "staller": "generation_failed/response_too_large",
        "garbler": "generation_failed/bad_response",
    }
    for name in [*wheel_behaviours, "httpie"]:
        document = copy.deepcopy(base)
        document["info"]["name"] = name
        wheel = next(u for u in document["urls"] if u["filename"] == real["filename"])
        if name == "httpie":  # the control: the real wheel on the friendly host, Range honoured
            wheel["url"] = f"{friendly.base}/good/{real['filename']}"
            friendly.blob(f"/good/{real['filename']}", wheel_bytes)
        else:
            wheel["url"] = f"https://files.pythonhosted.org/bad/{name}/{real['filename']}"
            hostile.routes[f"/bad/{name}/{real['filename']}"] = wheel_behaviours[name]
        friendly.json(f"/pypi/{name}/json", document)
    monkeypatch.setenv("AUTOMATION_ENDPOINT_PYPI", friendly.base)
    monkeypatch.setenv("AUTOMATION_ENDPOINT_PYPIFILES", hostile.base)
    monkeypatch.setenv("AUTOMATION_HTTP_DEADLINE", DEADLINE)
    monkeypatch.setenv("AUTOMATION_HTTP_MAX_BYTES", str(4 * 1024 * 1024))
    layout = registry(tmp_path, "pypi", [*wheel_behaviours, "httpie"])
    assert generated(layout, "pypi") == {**expected, "httpie": "generated"}


# ------------------------------------------------------------ hostile data files


def invoke(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args, "--root", str(root)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )


HUGE_EXIT_CODE = (
    '{"schema_version": 1, "recipe": "foo", "platform": "linux-x86_64", '
    '"exit_code": 1000000000000000000000000000000, "category": "install_failed", '
    '"timestamp": "2026-01-01T00:00:00Z"}'
)
GOOD_LINE = HUGE_EXIT_CODE.replace("1000000000000000000000000000000", "1").replace("foo", "bar")


def test_out_of_range_exit_code_in_a_failure_line(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, ["bar"], impossible=False)
    failures = tmp_path / "data" / "failures"
    failures.mkdir(parents=True)
    (failures / "pypi-2026-01-01T00-00-00Z.jsonl").write_text(f"{GOOD_LINE}\n{HUGE_EXIT_CODE}\n")
    where = "data/failures/pypi-2026-01-01T00-00-00Z.jsonl:line 2"

    check = invoke(tmp_path, "check-data")
    assert check.returncode == ExitCode.DATA_ERROR, check.stdout + check.stderr
    assert where in check.stdout and "outside the 64-bit range" in check.stdout

    for task in (["gaps"], ["requeue", "--dry-run"], ["dashboard", "--out", str(tmp_path / "d")]):
        done = invoke(tmp_path, *task)
        assert done.returncode in (ExitCode.OK, ExitCode.PARTIAL), [*task, done.stderr]
        assert "Traceback" not in done.stderr, done.stderr
        assert "warning: skipped 1 unreadable failure line" in done.stderr, (task, done.stderr)
        assert "pypi-2026-01-01T00-00-00Z.jsonl line 2" in done.stderr


def test_deeply_nested_batch_control_is_a_clean_data_error(tmp_path: Path) -> None:
    fakes.make_registry(tmp_path, ["alpaca", "bravura"], impossible=False)
    fakes.run_stage(tmp_path, BATCH, "generate")  # a batch for merge to find
    control = tmp_path / "batch-control.json"
    control.write_text('{"a":' * 5000 + "1" + "}" * 5000)
    for task in (
        ["generate", "--ecosystem", "pypi"],
        ["merge", "--batch-id", BATCH],
        ["requeue"],
        ["dashboard", "--out", str(tmp_path / "d")],
    ):
        done = invoke(tmp_path, *task)
        assert done.returncode == ExitCode.DATA_ERROR, [*task, done.stdout, done.stderr]
        assert "RecursionError" not in done.stderr and "Traceback" not in done.stderr
        assert "batch-control.json" in done.stderr and "nested deeper than 64" in done.stderr
