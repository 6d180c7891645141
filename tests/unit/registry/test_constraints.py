"""Constraint derivation: complete, minimal, and exactly what tsuku's loader admits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.core.errors import DataError, ExitCode
from automation.registry.constraints import (
    UNIVERSE,
    VALIDATION_PLATFORMS,
    ConstraintFields,
    Point,
    admitted,
    admitted_failures,
    admitted_points,
    apply_constraints,
    combine_environment_outcomes,
    combine_outcomes,
    constrain_recipe_file,
    derive_constraints,
    parse_platform,
)

DARWIN = ("darwin-arm64", "darwin-x86_64")
MUSL = ("linux-alpine-musl-x86_64", "linux-alpine-musl-arm64")
LINUX_ARM64 = (
    "linux-debian-glibc-arm64",
    "linux-rhel-glibc-arm64",
    "linux-suse-glibc-arm64",
    "linux-alpine-musl-arm64",
)
LINUX_AMD64 = (
    "linux-debian-glibc-x86_64",
    "linux-rhel-glibc-x86_64",
    "linux-arch-glibc-x86_64",
    "linux-suse-glibc-x86_64",
    "linux-alpine-musl-x86_64",
)
ALL_LINUX = LINUX_AMD64 + LINUX_ARM64


def outcomes(failed: tuple[str, ...] = (), skipped: tuple[str, ...] = (), absent=()) -> dict:
    return {
        p: "fail" if p in failed else "skipped" if p in skipped else "pass"
        for p in VALIDATION_PLATFORMS
        if p not in absent
    }


def L(arch: str, libc: str) -> Point:
    return Point("linux", arch, libc)


def D(arch: str) -> Point:
    return Point("darwin", arch, None)


# --- the loader mirror (§2.2) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (ConstraintFields(), set(UNIVERSE)),
        (ConstraintFields(supported_os=("linux",)), {p for p in UNIVERSE if p.os == "linux"}),
        (ConstraintFields(supported_os=("darwin",)), {D("amd64"), D("arm64")}),
        (ConstraintFields(supported_arch=("amd64",)), {p for p in UNIVERSE if p.arch == "amd64"}),
        # libc restricts Linux only: darwin stays admitted.
        (
            ConstraintFields(supported_libc=("glibc",)),
            {L("amd64", "glibc"), L("arm64", "glibc"), D("amd64"), D("arm64")},
        ),
        # os/arch removes every libc of that pair.
        (
            ConstraintFields(unsupported_platforms=("linux/arm64", "darwin/amd64")),
            {L("amd64", "glibc"), L("amd64", "musl"), D("arm64")},
        ),
        (
            ConstraintFields(unsupported_platforms=("linux/arm64/musl",)),
            set(UNIVERSE) - {L("arm64", "musl")},
        ),
        # The reference's family entries are no-ops for the loader (§4.3).
        (
            ConstraintFields(unsupported_platforms=("linux/debian", "linux/rhel/amd64")),
            set(UNIVERSE),
        ),
        # An empty list means "none", absent means the default.
        (ConstraintFields(supported_os=()), set()),
    ],
)
def test_loader_mirror(fields: ConstraintFields, expected: set[Point]) -> None:
    assert admitted_points(fields) == expected


def test_parse_platform_forms() -> None:
    assert parse_platform("linux-debian-glibc-x86_64").point == L("amd64", "glibc")
    assert parse_platform("linux-alpine-musl-arm64").family == "alpine"
    assert parse_platform("linux-gentoo-glibc-aarch64").point == L("arm64", "glibc")
    assert parse_platform("darwin-x86_64").point == D("amd64")
    for bad in ("linux-debian-x86_64", "linux-debian-uclibc-x86_64", "windows-x86_64", "darwin"):
        with pytest.raises(ValueError, match="platform"):
            parse_platform(bad)


# --- table of decisions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "failed", "metadata"),
    [
        ("all pass", (), {}),
        ("all darwin fails", DARWIN, {"supported_os": ["linux"]}),
        ("single darwin arch", ("darwin-arm64",), {"unsupported_platforms": ["darwin/arm64"]}),
        ("intel mac only", ("darwin-x86_64",), {"unsupported_platforms": ["darwin/amd64"]}),
        ("musl fails", MUSL, {"supported_libc": ["glibc"]}),
        (
            "darwin and musl fail together",
            DARWIN + MUSL,
            {"supported_os": ["linux"], "supported_libc": ["glibc"]},
        ),
        (
            "arm64 fails on linux and darwin",
            (*LINUX_ARM64, "darwin-arm64"),
            {"supported_arch": ["amd64"]},
        ),
        ("arm64 fails on linux only", LINUX_ARM64, {"unsupported_platforms": ["linux/arm64"]}),
        ("all linux fails", ALL_LINUX, {"supported_os": ["darwin"]}),
        (
            "musl arm64 only",
            ("linux-alpine-musl-arm64",),
            {"unsupported_platforms": ["linux/arm64/musl"]},
        ),
        (
            "musl x86_64 and darwin arm64",
            ("linux-alpine-musl-x86_64", "darwin-arm64"),
            {"unsupported_platforms": ["darwin/arm64", "linux/amd64/musl"]},
        ),
        (
            "only glibc amd64 linux passes",
            (*DARWIN, *MUSL, *LINUX_ARM64),
            {
                "supported_os": ["linux"],
                "unsupported_platforms": ["linux/arm64", "linux/amd64/musl"],
            },
        ),
        (
            "only darwin arm64 passes",
            (*ALL_LINUX, "darwin-x86_64"),
            {"supported_os": ["darwin"], "supported_arch": ["arm64"]},
        ),
    ],
)
def test_decision_table(case: str, failed: tuple[str, ...], metadata: dict) -> None:
    decision = derive_constraints(outcomes(failed))
    assert not decision.excluded, case
    assert decision.fields.as_metadata() == metadata, case
    points = admitted(decision)
    for platform, outcome in outcomes(failed).items():
        assert (parse_platform(platform).point in points) == (outcome == "pass"), platform


def test_all_fail_is_excluded_with_reason() -> None:
    decision = derive_constraints(outcomes(VALIDATION_PLATFORMS))
    assert decision.excluded
    assert admitted(decision) == frozenset()
    assert "failed on every platform" in decision.reasons[0]


def test_nothing_ran_is_excluded() -> None:
    decision = derive_constraints(outcomes(skipped=VALIDATION_PLATFORMS))
    assert decision.excluded
    assert "no platform ran" in decision.reasons[0]
    assert derive_constraints({}).excluded


def test_skipped_and_missing_platforms_stay_admitted() -> None:
    # Darwin was not run at all, arm64 musl skipped: they say nothing, so stay admitted.
    decision = derive_constraints(
        outcomes(
            failed=("linux-alpine-musl-x86_64",),
            skipped=("linux-alpine-musl-arm64",),
            absent=DARWIN,
        )
    )
    assert decision.fields.as_metadata() == {"unsupported_platforms": ["linux/amd64/musl"]}
    assert {D("amd64"), D("arm64"), L("arm64", "musl")} <= admitted(decision)
    assert decision.untested == {D("amd64"), D("arm64"), L("arm64", "musl")}


def test_untested_points_keep_previous_constraints() -> None:
    # Only Linux ran; the recipe already said linux-only: darwin must not be re-admitted.
    previous = ConstraintFields(supported_os=("linux",))
    decision = derive_constraints(outcomes(failed=MUSL, absent=DARWIN), previous=previous)
    assert decision.fields.as_metadata() == {"supported_os": ["linux"], "supported_libc": ["glibc"]}
    # Without the previous constraints, untested darwin stays admitted.
    fresh = derive_constraints(outcomes(failed=MUSL, absent=DARWIN))
    assert fresh.fields.as_metadata() == {"supported_libc": ["glibc"]}


def test_failures_override_previous_constraints() -> None:
    previous = ConstraintFields(unsupported_platforms=("linux/debian", "darwin/arm64"))
    decision = derive_constraints(outcomes(failed=DARWIN), previous=previous)
    # The no-op family entry is dropped; darwin (now known failing) gets the one-line form.
    assert decision.fields.as_metadata() == {"supported_os": ["linux"]}


def test_family_confined_failure_is_reported_not_dropped() -> None:
    decision = derive_constraints(outcomes(failed=("linux-rhel-glibc-x86_64",)))
    assert not decision.excluded
    assert decision.fields.as_metadata() == {}
    assert L("amd64", "glibc") in admitted(decision)
    [failure] = decision.family_failures
    assert failure.point == L("amd64", "glibc")
    assert failure.failed_platforms == ("linux-rhel-glibc-x86_64",)
    assert "linux-debian-glibc-x86_64" in failure.passed_platforms
    assert "family" in decision.reasons[0]
    assert decision.to_json()["family_failures"][0]["point"] == "linux/amd64/glibc"


def test_family_failure_alongside_expressible_failure() -> None:
    decision = derive_constraints(outcomes(failed=("linux-suse-glibc-arm64", *DARWIN)))
    assert decision.fields.as_metadata() == {"supported_os": ["linux"]}
    assert [f.point for f in decision.family_failures] == [L("arm64", "glibc")]


def test_unknown_outcome_or_platform_is_rejected() -> None:
    with pytest.raises(ValueError, match="outcome"):
        derive_constraints({"darwin-arm64": "passed"})
    with pytest.raises(ValueError, match="platform"):
        derive_constraints({"freebsd-x86_64": "pass"})


def test_combine_outcomes_fail_dominates() -> None:
    combined = combine_outcomes(
        [
            ("darwin-arm64", "pass"),
            ("darwin-arm64", "fail"),
            ("darwin-x86_64", "skipped"),
            ("darwin-x86_64", "pass"),
        ]
    )
    assert combined == {"darwin-arm64": "fail", "darwin-x86_64": "pass"}


# --- admitted failures: what the constraint fields cannot express ------------------------------

DEBIAN = "linux-debian-glibc-x86_64"


def _decide(records: list[tuple[str, str, str]]):
    combined, _ = combine_environment_outcomes(records)
    return derive_constraints(combined)


def test_local_pass_and_a_container_fail_on_the_same_platform_is_an_admitted_failure() -> None:
    records = [("local", DEBIAN, "pass"), ("debian-12", DEBIAN, "fail")]
    decision = _decide(records)
    assert not decision.excluded and decision.fields.as_metadata() == {}
    [failure] = admitted_failures(records, decision)
    assert (failure.environment, failure.platform, failure.passed) == (
        "debian-12",
        DEBIAN,
        ("local",),
    )
    assert failure.point == L("amd64", "glibc")
    assert failure.to_json()["point"] == "linux/amd64/glibc"


def test_two_containers_of_one_platform_failing_are_each_listed_sorted() -> None:
    records = [
        ("ubuntu-24.04", DEBIAN, "fail"),
        ("local", DEBIAN, "pass"),
        ("debian-12", DEBIAN, "fail"),
    ]
    failures = admitted_failures(records, _decide(records))
    assert [f.environment for f in failures] == ["debian-12", "ubuntu-24.04"]


def test_a_family_failure_is_an_admitted_failure() -> None:
    records = [("fedora-41", "linux-rhel-glibc-x86_64", "fail"), ("debian-12", DEBIAN, "pass")]
    [failure] = admitted_failures(records, _decide(records))
    assert (failure.environment, failure.passed) == ("fedora-41", ("debian-12",))


def test_expressible_failures_are_not_admitted_failures() -> None:
    # Musl failed everywhere it ran while glibc passed: the fields exclude musl.
    musl = [("alpine-3.21", "linux-alpine-musl-x86_64", "fail"), ("debian-12", DEBIAN, "pass")]
    decision = _decide(musl)
    assert decision.fields.as_metadata() == {"unsupported_platforms": ["linux/amd64/musl"]}
    assert admitted_failures(musl, decision) == ()
    # All passed, or one point failed everywhere it ran and another passed.
    passed = [("local", DEBIAN, "pass"), ("debian-12", DEBIAN, "pass")]
    assert admitted_failures(passed, _decide(passed)) == ()
    darwin = [("local", DEBIAN, "pass"), ("mac", "darwin-arm64", "fail")]
    assert _decide(darwin).fields.as_metadata() == {"unsupported_platforms": ["darwin/arm64"]}
    assert admitted_failures(darwin, _decide(darwin)) == ()
    # Nothing passed: excluded, nothing admitted.
    failed = [("local", DEBIAN, "fail")]
    assert _decide(failed).excluded and admitted_failures(failed, _decide(failed)) == ()


def test_a_skipped_environment_neither_passes_nor_fails() -> None:
    records = [
        ("local", DEBIAN, "skipped"),
        ("debian-12", DEBIAN, "fail"),
        ("m", "darwin-arm64", "pass"),
    ]
    decision = _decide(records)
    assert admitted_failures(records, decision) == ()
    assert L("amd64", "glibc") not in admitted(decision)


ENVIRONMENTS = {
    "local": DEBIAN,
    "debian-12": DEBIAN,
    "ubuntu-24.04": DEBIAN,
    "fedora-41": "linux-rhel-glibc-x86_64",
    "alpine-3.21": "linux-alpine-musl-x86_64",
    "alpine-arm": "linux-alpine-musl-arm64",
    "mac": "darwin-arm64",
}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(ENVIRONMENTS)), st.sampled_from(["pass", "fail", "skipped"])
    )
)
def test_property_admitted_failures_are_the_failures_where_something_else_passed(
    outcome_by_env: dict[str, str],
) -> None:
    records = [(env, ENVIRONMENTS[env], out) for env, out in sorted(outcome_by_env.items())]
    decision = _decide(records)
    passed_points = {parse_platform(p).point for _, p, o in records if o == "pass"}
    expected = {
        e for e, p, o in records if o == "fail" and parse_platform(p).point in passed_points
    }
    failures = admitted_failures(records, decision)
    assert {f.environment for f in failures} == expected
    # Every other failure is excluded by the fields: merging with them is safe.
    listed = {f.environment for f in failures}
    for env, platform, outcome in records:
        if outcome == "fail" and env not in listed:
            assert parse_platform(platform).point not in admitted(decision)


# --- property: every passing point admitted, no failing point -----------------------------------

EXTRA_PLATFORMS = ("linux-gentoo-glibc-x86_64", "linux-void-musl-arm64")
outcome_maps = st.dictionaries(
    st.sampled_from(VALIDATION_PLATFORMS + EXTRA_PLATFORMS),
    st.sampled_from(["pass", "fail", "skipped"]),
)
previous_fields = st.one_of(
    st.none(),
    st.builds(
        ConstraintFields,
        supported_os=st.one_of(st.none(), st.sampled_from([("linux",), ("darwin",)])),
        supported_libc=st.one_of(st.none(), st.just(("glibc",))),
        unsupported_platforms=st.lists(
            st.sampled_from(["darwin/arm64", "linux/arm64", "linux/amd64/musl"]), unique=True
        ).map(tuple),
    ),
)


@settings(max_examples=300, deadline=None)
@given(outcome_maps, previous_fields)
def test_property_decision_matches_outcomes(outcome_map: dict, previous) -> None:
    decision = derive_constraints(outcome_map, previous=previous)
    by_point: dict[Point, set[str]] = {}
    for platform, outcome in outcome_map.items():
        by_point.setdefault(parse_platform(platform).point, set()).add(outcome)
    passing = {p for p, o in by_point.items() if "pass" in o}
    failing = {p for p, o in by_point.items() if "fail" in o and "pass" not in o}
    family_confined = {p for p, o in by_point.items() if {"pass", "fail"} <= o}
    assert {f.point for f in decision.family_failures} == family_confined
    if not passing:
        assert decision.excluded
        return
    points = admitted(decision)
    assert passing <= points
    assert not (failing & points)
    # Untested points keep their previous admission (admitted when there was none).
    wanted = admitted_points(previous) if previous else frozenset(UNIVERSE)
    untested = set(UNIVERSE) - passing - failing
    assert {p for p in untested if p in points} == {p for p in untested if p in wanted}
    # Minimal: never more entries than listing every excluded point one by one.
    assert decision.fields.entry_count <= len(set(UNIVERSE) - points)


# --- applying to a recipe ---------------------------------------------------------------------

RECIPE = """\
# A hand-written comment that must survive.
[metadata]
  name = "demo"
  description = "Demo tool"
  homepage = "https://example.com/"
  # constraints below
  unsupported_platforms = ["linux/debian"]

[[steps]]
  action = "npm_install"
  package = "demo"
  executables = ["demo"]

[verify]
  command = "demo --version"
"""


def test_apply_constraints_sets_removes_and_keeps_comments() -> None:
    document = tomlkit.parse(RECIPE)
    decision = derive_constraints(outcomes(failed=DARWIN + MUSL))
    assert apply_constraints(document, decision)
    text = tomlkit.dumps(document)
    assert "# A hand-written comment that must survive." in text
    assert "# constraints below" in text
    assert "linux/debian" not in text
    assert '  supported_os = ["linux"]' in text
    assert '  supported_libc = ["glibc"]' in text
    assert text.index("supported_os") < text.index("[[steps]]")
    parsed = tomlkit.parse(text)
    assert parsed["metadata"]["supported_os"] == ["linux"]
    # Applying the same decision again changes nothing.
    assert not apply_constraints(document, decision)
    # All-pass removes every constraint field.
    assert apply_constraints(document, derive_constraints(outcomes()))
    meta = tomlkit.parse(tomlkit.dumps(document))["metadata"]
    assert not {"supported_os", "supported_libc", "unsupported_platforms"} & set(meta)


def test_apply_constraints_refuses_excluded() -> None:
    with pytest.raises(DataError, match="excluded"):
        apply_constraints(tomlkit.parse(RECIPE), derive_constraints(outcomes(VALIDATION_PLATFORMS)))


def _results(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_constrain_recipe_file_end_to_end(tmp_path: Path) -> None:
    recipe = tmp_path / "demo.toml"
    recipe.write_text(RECIPE, encoding="utf-8")
    linux = _results(
        tmp_path / "linux.jsonl",
        [{"recipe": "demo", "platform": p, "status": "pass"} for p in ALL_LINUX]
        + [{"recipe": "other", "platform": "linux-debian-glibc-x86_64", "status": "fail"}],
    )
    mac = _results(
        tmp_path / "mac.jsonl",
        [
            {"recipe": "demo", "platform": "darwin-arm64", "status": "fail", "exit_code": 6},
            # Sandbox install passed but verification failed: a failure (§3.8, §4.6).
            {"recipe": "demo", "platform": "darwin-x86_64", "status": "pass", "passed": False},
        ],
    )
    report = constrain_recipe_file(recipe, [linux, mac])
    assert report.changed and report.exit_code == ExitCode.OK
    assert report.results_used == len(ALL_LINUX) + 2
    assert tomlkit.parse(recipe.read_text())["metadata"]["supported_os"] == ["linux"]
    assert report.to_json()["decision"]["metadata"] == {"supported_os": ["linux"]}
    again = constrain_recipe_file(recipe, [linux, mac])
    assert not again.changed


def test_constrain_with_an_untested_policy_redecides_what_no_result_covers(tmp_path: Path) -> None:
    """A recipe merged under `admit` (no constraint fields) that passed only on glibc x86_64:
    by default it keeps admitting what nothing tested; `untested="exclude"` narrows it to the
    evidence, and running it again changes nothing."""
    recipe = tmp_path / "demo.toml"
    admitted = RECIPE.replace('  unsupported_platforms = ["linux/debian"]\n', "")
    assert "unsupported_platforms" not in admitted
    recipe.write_text(admitted, encoding="utf-8")
    glibc = _results(
        tmp_path / "glibc.jsonl",
        [{"recipe": "demo", "platform": "linux-debian-glibc-x86_64", "status": "pass"}],
    )
    kept = constrain_recipe_file(recipe, [glibc])
    assert not kept.changed and recipe.read_text() == admitted
    narrowed = constrain_recipe_file(recipe, [glibc], untested="exclude")
    assert narrowed.changed
    metadata = tomlkit.parse(recipe.read_text())["metadata"]
    assert metadata["supported_os"] == ["linux"]
    assert metadata["unsupported_platforms"] == ["linux/arm64", "linux/amd64/musl"]
    assert not constrain_recipe_file(recipe, [glibc], untested="exclude").changed


def test_constrain_recipe_file_excluded_leaves_file(tmp_path: Path) -> None:
    recipe = tmp_path / "demo.toml"
    recipe.write_text(RECIPE, encoding="utf-8")
    results = _results(
        tmp_path / "r.jsonl",
        [{"recipe": "demo", "platform": p, "status": "fail"} for p in VALIDATION_PLATFORMS],
    )
    report = constrain_recipe_file(recipe, [results])
    assert report.decision.excluded and report.exit_code == ExitCode.PARTIAL
    assert recipe.read_text() == RECIPE
    assert "EXCLUDED" in report.to_text()


def test_constrain_recipe_file_bad_results_name_the_line(tmp_path: Path) -> None:
    recipe = tmp_path / "demo.toml"
    recipe.write_text(RECIPE, encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"recipe": "demo", "platform": "darwin-arm64", "status": "pass"}\n{oops\n')
    with pytest.raises(DataError, match=r"bad.jsonl:line 2"):
        constrain_recipe_file(recipe, [bad])
    worse = _results(
        tmp_path / "w.jsonl", [{"recipe": "demo", "platform": "darwin-arm64", "status": "passed"}]
    )
    with pytest.raises(DataError, match="status"):
        constrain_recipe_file(recipe, [worse])


def test_reference_recipe_round_trips(reference_dir: Path, tmp_path: Path) -> None:
    # aarch64-elf-binutils: the reference wrote only supported_os=["linux"] although musl failed
    # too (§3.9); with both failures we write both fields and keep every other byte.
    source = reference_dir / "recipes" / "a" / "aarch64-elf-binutils.toml"
    recipe = tmp_path / "aarch64-elf-binutils.toml"
    shutil.copy(source, recipe)
    results = _results(
        tmp_path / "r.jsonl",
        [
            {
                "recipe": "aarch64-elf-binutils",
                "platform": p,
                "status": "fail" if p in DARWIN + MUSL else "pass",
            }
            for p in VALIDATION_PLATFORMS
        ],
    )
    report = constrain_recipe_file(recipe, [results])
    assert report.changed
    after = recipe.read_text()
    before = source.read_text()
    assert after.startswith(before.split("supported_os")[0])
    assert after.split("[[steps]]", 1)[1] == before.split("[[steps]]", 1)[1]
    meta = tomlkit.parse(after)["metadata"]
    assert meta["supported_os"] == ["linux"] and meta["supported_libc"] == ["glibc"]
