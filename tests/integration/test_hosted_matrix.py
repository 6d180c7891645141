"""A simulated hosted run: result files for all 11 validation platforms, written here, then merge.

One environment per platform of ``data/environments.json`` (5 Linux x86_64, 4 Linux arm64 built
from the same Dockerfiles, the 2 native macOS ones) plus ``local`` write their result files as the
batch workflow's jobs would; merge must derive constraints that admit arm64 and darwin only where
an environment tested them (``exclude``, the default policy), or keep the loader's default there
(``admit``), and list per recipe what was tested where.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from automation.containers.environments import load_environments
from automation.core.layout import RegistryLayout
from automation.registry.constraints import VALIDATION_PLATFORMS
from automation.registry.results import ResultLine, append_results, current_results
from automation.stages.merge import merge_batch
from tests.support.interrupted_merge import BATCH, validated_registry

DEBIAN = "linux-debian-glibc-x86_64"
# One environment per reference platform, as the workflow's jobs name them.
BY_PLATFORM = {e.platform: e.id for e in reversed(load_environments(native=True))}
ARM64 = [p for p in VALIDATION_PLATFORMS if p.startswith("linux-") and p.endswith("-arm64")]
DARWIN = ["darwin-arm64", "darwin-x86_64"]
X86 = [p for p in VALIDATION_PLATFORMS if p.startswith("linux-") and p.endswith("-x86_64")]


def _line(name: str, env: str, platform: str, status: str) -> ResultLine:
    failed = status == "fail"
    return ResultLine(
        recipe=name,
        environment=env,
        platform=platform,
        status=status,
        category="install_failed" if failed else None,
        subcategory="exit_code" if failed else None,
        exit_code=6 if failed else 0,
        attempts=1,
        message=f"{name}: {'no binary for this platform' if failed else '1.0.0'}",
        timestamp="2026-11-27T12:10:00Z",
        version="1.0.0",
        batch_id=BATCH,
    )


def _simulate(layout: RegistryLayout, matrix: dict[str, dict[str, str]]) -> None:
    """``recipe -> {platform: status}`` over the 11 platforms; a platform left out was not run
    (deferred by the macOS budget, say). ``local`` (passed: :func:`_passed_locally`) is pinned to
    the debian platform, whatever this machine is."""
    current = current_results(layout, BATCH)
    append_results(
        layout, BATCH, "local", [replace(current[(n, "local")], platform=DEBIAN) for n in matrix]
    )
    by_env: dict[str, list[ResultLine]] = {}
    for name in matrix:
        for platform, status in matrix.get(name, {}).items():
            env = BY_PLATFORM[platform]
            by_env.setdefault(env, []).append(_line(name, env, platform, status))
    for env, lines in by_env.items():
        append_results(layout, BATCH, env, lines)


def _everywhere(status: str = "pass", **overrides: str) -> dict[str, str]:
    out = dict.fromkeys(VALIDATION_PLATFORMS, status)
    out.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return out


def _passed_locally(layout: RegistryLayout) -> list[str]:
    current = current_results(layout, BATCH)
    return sorted(
        n for (n, env), line in current.items() if env == "local" and line.status == "pass"
    )


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    return validated_registry(tmp_path)


def _recipes(layout: RegistryLayout) -> dict[str, dict[str, object]]:
    out = {}
    for path in layout.recipe_files():
        metadata = tomllib.loads(path.read_text(encoding="utf-8"))["metadata"]
        keys = ("supported_os", "supported_arch", "supported_libc", "unsupported_platforms")
        out[path.stem] = {k: metadata[k] for k in keys if k in metadata}
    return out


def test_eleven_platforms_give_constraints_from_evidence_only(layout: RegistryLayout) -> None:
    assert len(BY_PLATFORM) == 11 and set(BY_PLATFORM) == set(VALIDATION_PLATFORMS)
    names = _passed_locally(layout)
    assert len(names) >= 3
    everywhere, no_darwin_tested, no_arm = names[:3]
    matrix = {
        # passed on all 11: nothing to constrain
        everywhere: _everywhere(),
        # darwin deferred by the budget (no result): passed everywhere else
        no_darwin_tested: {p: "pass" for p in X86 + ARM64},
        # the arm64 builds fail on every arm64 family; macOS passed
        no_arm: {**{p: "pass" for p in X86 + DARWIN}, **dict.fromkeys(ARM64, "fail")},
    }
    _simulate(layout, matrix)

    report = merge_batch(layout, BATCH)
    decisions = {d.name: d for d in report.decisions}
    assert {n: decisions[n].action for n in (everywhere, no_darwin_tested, no_arm)} == {
        everywhere: "merged",
        no_darwin_tested: "merged",
        no_arm: "merged",
    }
    recipes = _recipes(layout)
    assert recipes[everywhere] == {}
    # Never tested on macOS: not claimed there.
    assert recipes[no_darwin_tested] == {"supported_os": ["linux"]}
    assert recipes[no_arm] == {"unsupported_platforms": ["linux/arm64"]}  # darwin/arm64 passed

    tested = decisions[no_darwin_tested].tested
    assert tested["darwin/arm64"] == {"outcome": "untested", "environments": {}, "admitted": False}
    assert tested["linux/arm64/glibc"]["outcome"] == "pass"
    assert tested["linux/arm64/glibc"]["environments"] == {
        "debian-12-arm64": "pass",
        "fedora-41-arm64": "pass",
        "opensuse-15.6-arm64": "pass",
    }
    assert tested["linux/arm64/musl"]["environments"] == {"alpine-3.21-arm64": "pass"}
    assert tested["linux/amd64/glibc"]["environments"]["local"] == "pass"
    assert decisions[no_arm].tested["linux/arm64/glibc"] == {
        "outcome": "fail",
        "environments": {
            "debian-12-arm64": "fail",
            "fedora-41-arm64": "fail",
            "opensuse-15.6-arm64": "fail",
        },
        "admitted": False,
    }
    assert decisions[everywhere].tested["darwin/amd64"]["environments"] == {"darwin-x86_64": "pass"}
    # The report lists it per recipe, in JSON and in text.
    document = report.to_json()
    by_name = {d["name"]: d for d in document["decisions"]}
    assert by_name[no_darwin_tested]["tested"]["darwin/amd64"]["admitted"] is False
    text = report.to_text()
    assert f"- {no_darwin_tested}: " in text and "darwin/arm64: untested, not admitted" in text
    assert document["auto_merge"] is True


def test_the_admit_policy_claims_untested_platforms_and_says_so(layout: RegistryLayout) -> None:
    (layout.root / "automation.toml").write_text('[platforms]\nuntested = "admit"\n')
    names = _passed_locally(layout)
    only_x86 = names[0]
    _simulate(layout, {only_x86: {p: "pass" for p in X86}})
    report = merge_batch(layout, BATCH)
    decision = next(d for d in report.decisions if d.name == only_x86)
    assert decision.action == "merged"
    assert _recipes(layout)[only_x86] == {}  # the loader's default: every platform
    assert decision.tested["darwin/arm64"] == {
        "outcome": "untested",
        "environments": {},
        "admitted": True,
    }


def test_a_musl_only_arm64_failure_is_expressed(layout: RegistryLayout) -> None:
    names = _passed_locally(layout)
    name = names[0]
    _simulate(layout, {name: _everywhere(linux_alpine_musl_arm64="fail")})
    merge_batch(layout, BATCH)
    assert _recipes(layout)[name] == {"unsupported_platforms": ["linux/arm64/musl"]}


def test_bad_policy_value_stops_the_merge_before_any_write(layout: RegistryLayout) -> None:
    from automation.core.errors import DataError

    (layout.root / "automation.toml").write_text('[platforms]\nuntested = "maybe"\n')
    before = json.dumps(sorted(p.name for p in layout.recipe_files()))
    with pytest.raises(DataError, match="platforms"):
        merge_batch(layout, BATCH)
    assert json.dumps(sorted(p.name for p in layout.recipe_files())) == before
