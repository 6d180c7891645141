"""Rate limits shared between processes: a share per shard, or one bucket file per machine.

No timing assertions: the buckets run on fake clocks and record the sleeps they would take.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from automation.core.config import load_config
from automation.core.errors import UsageError
from automation.core.http import HttpClient
from automation.core.ratelimit import FileTokenBucket, default_bucket_dir, per_shard


def test_a_shard_of_n_gets_one_nth_of_every_endpoint() -> None:
    config = load_config(env={})
    assert config.rate_limits["pypi"] == 20.0
    shard = config.for_shard((2, 4))
    assert shard.effective_rate_limits()["pypi"] == 5.0
    assert shard.effective_rate_limits()["github"] == config.rate_limits["github"] / 4
    assert config.for_shard(None).effective_rate_limits() == config.rate_limits
    with HttpClient(shard, env={}) as client:  # what the sharded run's requests really get
        assert client.rate_for("pypi") == 5.0
        assert client.rate_for("npm") == 5.0
    assert shard.to_json()["rate_limit_sharing"]["effective"]["pypi"] == 5.0
    assert per_shard({"a": 9.0}, 3) == {"a": 3.0}
    with pytest.raises(ValueError):
        per_shard({"a": 9.0}, 0)


def test_machine_scope_shares_a_file_bucket_at_the_full_rate(tmp_path: Path) -> None:
    env = {"AUTOMATION_RATE_LIMIT_SCOPE": "machine", "AUTOMATION_RATE_LIMIT_DIR": str(tmp_path)}
    config = load_config(env=env).for_shard((1, 4))
    # The shared bucket divides the rate between the shards: each is not divided again.
    assert config.effective_rate_limits()["pypi"] == 20.0
    with HttpClient(config, env=env, sleep=lambda _: None) as client:
        assert client.rate_for("pypi") == 20.0
    assert config.rate_limit_dir == str(tmp_path)


def test_scope_comes_from_the_file_and_a_bad_value_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "automation.toml").write_text('[http]\nrate_limit_scope = "machine"\n')
    assert load_config(tmp_path, env={}).rate_limit_scope == "machine"
    assert load_config(env={}).rate_limit_scope == "process"
    with pytest.raises(UsageError, match="AUTOMATION_RATE_LIMIT_SCOPE"):
        load_config(env={"AUTOMATION_RATE_LIMIT_SCOPE": "cluster"})


def test_the_default_bucket_dir_is_per_user_not_per_checkout() -> None:
    assert default_bucket_dir({"XDG_CACHE_HOME": "/c"}) == Path(
        "/c/registry-automation/rate-limits"
    )
    assert default_bucket_dir({"AUTOMATION_RATE_LIMIT_DIR": "/x"}) == Path("/x")


def test_two_buckets_on_one_file_draw_from_one_balance(tmp_path: Path) -> None:
    clock = [0.0]
    slept: list[float] = []
    path = tmp_path / "pypi.bucket"
    first = FileTokenBucket(path, 10.0, clock=lambda: clock[0], sleep=slept.append)
    second = FileTokenBucket(path, 10.0, clock=lambda: clock[0], sleep=slept.append)
    for _ in range(6):
        first.acquire()
    for _ in range(6):
        second.acquire()
    # A burst of 10 in all, then each overdrawn token waits one more tenth of a second.
    assert slept == pytest.approx([0.1, 0.2])
    clock[0] += 1.0  # the overdraft (2) is paid back, then 8 tokens are there again
    slept.clear()
    for _ in range(9):
        second.acquire()
    assert slept == pytest.approx([0.1])


@pytest.mark.parametrize("garbage", [b"", b"not json", b'{"tokens": "x"}', b'{"tokens": 1}'])
def test_an_unreadable_state_starts_a_full_bucket(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "b.bucket"
    path.write_bytes(garbage)
    slept: list[float] = []
    bucket = FileTokenBucket(path, 2.0, clock=lambda: 5.0, sleep=slept.append)
    bucket.acquire()
    bucket.acquire()
    assert slept == []
    assert json.loads(path.read_bytes()) == {"tokens": 0.0, "stamp": 5.0}


def test_a_state_from_before_a_reboot_starts_a_full_bucket(tmp_path: Path) -> None:
    path = tmp_path / "b.bucket"
    path.write_text(json.dumps({"tokens": -50.0, "stamp": 1e9}))
    slept: list[float] = []
    FileTokenBucket(path, 2.0, clock=lambda: 5.0, sleep=slept.append).acquire()
    assert slept == []


CHILD = """
import json, sys
from pathlib import Path
from automation.core.ratelimit import FileTokenBucket

slept = []
bucket = FileTokenBucket(Path(sys.argv[1]), 10.0, clock=lambda: 0.0, sleep=slept.append)
for _ in range(int(sys.argv[2])):
    bucket.acquire()
print(json.dumps(slept))
"""


def test_two_processes_share_one_bucket(tmp_path: Path) -> None:
    """Two processes take 15 tokens each from one file at a frozen time: the burst of 10 is
    shared, so exactly 20 acquisitions wait, 0.1 s, 0.2 s, ... 2.0 s, however they interleave
    (with a bucket each, 5 + 5 would wait and the longest wait would be 0.5 s)."""
    path = tmp_path / "pypi.bucket"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), "15"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[3],
        )
        for _ in range(2)
    ]
    waits: list[float] = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        waits.extend(json.loads(out))
    assert sorted(round(w, 6) for w in waits) == [round(0.1 * i, 6) for i in range(1, 21)]
