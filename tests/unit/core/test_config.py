"""Configuration: defaults, the file (schema checked) and the environment, endpoint overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.config import load_config
from automation.core.errors import DataError, UsageError


def test_config_defaults_and_env_override(tmp_path: Path) -> None:
    config = load_config(tmp_path, env={})
    assert config.url("pypi", "/pypi/black/json") == "https://pypi.org/pypi/black/json"
    assert config.endpoint("cratesio") == "https://crates.io"
    (tmp_path / "automation.toml").write_text(
        '[endpoints]\npypi = "http://mirror.local/pypi/"\nnpm = "http://file.local"\n'
        "[rate_limits]\npypi = 5\n[http]\nthreads = 4\n"
    )
    env = {"AUTOMATION_ENDPOINT_NPM": "http://env.local/npm"}
    config = load_config(tmp_path, env=env)
    assert config.url("pypi", "/pypi/black/json") == "http://mirror.local/pypi/pypi/black/json"
    assert config.endpoint("npm") == "http://env.local/npm"  # env wins over the file
    assert config.rate_limits["pypi"] == 5.0 and config.threads == 4
    assert config.source == str(tmp_path / "automation.toml")


def test_config_rewrites_wheel_urls_only_when_files_endpoint_set() -> None:
    url = "https://files.pythonhosted.org/packages/ab/cd/x-1-py3-none-any.whl"
    plain = load_config(None, env={"AUTOMATION_ENDPOINT_PYPI": "http://m.local"})
    assert plain.rewrite_public_url(url) == url
    both = load_config(
        None,
        env={
            "AUTOMATION_ENDPOINT_PYPI": "http://m.local",
            "AUTOMATION_ENDPOINT_PYPIFILES": "http://m.local/files",
        },
    )
    assert (
        both.rewrite_public_url(url) == "http://m.local/files/packages/ab/cd/x-1-py3-none-any.whl"
    )
    assert both.endpoint_for_url("http://m.local/files/packages/x") == "pypifiles"


@pytest.mark.parametrize(
    "text",
    [
        '[endpoints]\nunknown = "http://x"\n',
        '[endpoints]\npypi = "ftp://x"\n',
        "[rate_limits]\nnpm = -1\n",
        "[http]\nthreads = 1000\n",
        "not toml = = =\n",
    ],
)
def test_config_file_is_schema_checked(tmp_path: Path, text: str) -> None:
    path = tmp_path / "automation.toml"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_config(tmp_path, env={})
    assert str(path) in str(info.value)


def test_config_env_endpoint_is_checked() -> None:
    with pytest.raises(DataError):
        load_config(None, env={"AUTOMATION_ENDPOINT_PYPI": "http://user:pw@x.local"})


def test_deadlines_and_budget_from_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "automation.toml").write_text(
        "[http]\nrequest_deadline = 12\nmax_retry_after = 5\n[batch]\nbudget_seconds = 600\n"
    )
    config = load_config(tmp_path, env={})
    assert (config.request_deadline, config.max_retry_after, config.batch_budget) == (12, 5, 600)
    defaults = load_config(None, env={})
    assert (defaults.request_deadline, defaults.max_retry_after) == (60.0, 30.0)
    assert defaults.batch_budget is None
    env = {"AUTOMATION_HTTP_DEADLINE": "2.5", "AUTOMATION_BATCH_BUDGET": "30"}
    overridden = load_config(tmp_path, env=env)
    assert (overridden.request_deadline, overridden.batch_budget) == (2.5, 30.0)
    with pytest.raises(UsageError, match="AUTOMATION_HTTP_DEADLINE"):
        load_config(None, env={"AUTOMATION_HTTP_DEADLINE": "soon"})


def test_merge_verify_policy_from_file_and_environment(tmp_path: Path) -> None:
    assert load_config(tmp_path, env={}).merge_verify == "any"
    (tmp_path / "automation.toml").write_text('[merge]\nverify = "version"\n')
    assert load_config(tmp_path, env={}).merge_verify == "version"
    assert load_config(tmp_path, env={"AUTOMATION_MERGE_VERIFY": "any"}).merge_verify == "any"
    with pytest.raises(DataError) as info:
        load_config(tmp_path, env={"AUTOMATION_MERGE_VERIFY": "often"})
    assert info.value.where == "AUTOMATION_MERGE_VERIFY" and "'often'" in str(info.value)


def test_seed_unnamed_min_score_from_file(tmp_path: Path) -> None:
    assert load_config(tmp_path, env={}).seed_unnamed_min_score == 2  # no extra rule
    (tmp_path / "automation.toml").write_text("[seed]\nunnamed_min_score = 4\n")
    config = load_config(tmp_path, env={})
    assert config.seed_unnamed_min_score == 4
    assert config.to_json()["seed"]["unnamed_min_score"] == 4
    (tmp_path / "automation.toml").write_text('[seed]\nunnamed_min_score = "high"\n')
    with pytest.raises(DataError, match="unnamed_min_score"):
        load_config(tmp_path, env={})
