"""``invoke seed-report``: the named-like share before and after the tool rule, offline."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core.config import Config, public_endpoints
from automation.core.errors import ExitCode, UsageError
from automation.core.http import HttpClient, NotFound
from automation.core.layout import RegistryLayout
from automation.ecosystems import Lookup
from automation.ecosystems.toolness import Signal, judge
from automation.stages.seed_report import seed_rank_report

# identifier -> (executables, extra signals): a tool, libraries with a side script, a tool whose
# command is not named like it, a project without executables, and a tier-1 name
TABLE: dict[str, tuple[tuple[str, ...], list[Signal]]] = {
    "ruff": (("ruff",), [Signal("summary:linter", 2)]),
    "numpy": (("f2py", "numpy-config"), []),
    "rsa": (("pyrsa-decrypt",), [Signal("summary:implementation", -1)]),
    "awscli": (("aws",), [Signal("summary:command line", 2)]),
    "requests": ((), []),
    "jq": (("jqx",), []),
}


def fake_lookup(_http: HttpClient, identifier: str) -> Lookup:
    if identifier == "gone":
        raise NotFound("no such project", url="x", status=404)
    exes, signals = TABLE[identifier]
    verdict = judge(identifier, identifier, exes, signals, named_weight=2)
    return Lookup(identifier, exes, "1.0", verdict)


@pytest.fixture
def http() -> HttpClient:
    return HttpClient(Config(endpoints=MappingProxyType(public_endpoints())), env={})


def test_before_and_after_shares(http: HttpClient, tmp_path: Path) -> None:
    report = seed_rank_report(
        http,
        RegistryLayout.at(tmp_path),
        "pypi",
        10,
        lookup=fake_lookup,
        identifiers=[*TABLE, "gone"],
        tier1=frozenset({"jq"}),
    )
    doc = report.to_json()
    assert doc["looked_up"] == 7 and doc["errors"] == 1
    # before: ruff, numpy, rsa, awscli, jq accepted; only ruff named like its package
    assert doc["before"] == {"accepted": 5, "named_like": 1, "share": 0.2}
    # after: numpy and rsa are library_script; jq stays (tier 1), awscli by its wording
    assert doc["after"] == {"accepted": 3, "named_like": 1, "share": 0.3333}
    assert doc["excluded_by_rule"] == ["numpy", "rsa"]
    assert report.exit_code == ExitCode.PARTIAL
    by_id = {c["identifier"]: c for c in doc["candidates"]}
    assert by_id["numpy"]["main_executable"] == "numpy-config"
    assert by_id["ruff"]["signals"] == ["executable_named_like_package+2", "summary:linter+2"]
    text = report.to_text()
    assert "before the rule: 5 accepted, 1 with a main executable" in text
    assert "numpy (numpy-config)" in text


def test_flags_are_checked(http: HttpClient, tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    with pytest.raises(UsageError, match="--top"):
        seed_rank_report(http, layout, "pypi", 0, lookup=fake_lookup, identifiers=[])
    with pytest.raises(UsageError, match="--ecosystem"):
        seed_rank_report(http, layout, "nope", 5, lookup=fake_lookup, identifiers=[])
