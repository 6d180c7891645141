"""Auto-merge gates: run_command, typosquats, age and popularity; the merge report."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomlkit
from hypothesis import given
from hypothesis import strategies as st

from automation.stages.gates import (
    Candidate,
    GateConfig,
    GateContext,
    NameFacts,
    RankedName,
    confusable_form,
    damerau_levenshtein,
    evaluate_gates,
    find_run_command,
    lookalike_reason,
    merge_report,
    squat_cleared,
)

NOW = datetime(2026, 8, 15, tzinfo=UTC)
PLAIN = {"metadata": {"name": "x"}, "steps": [{"action": "npm_install", "package": "x"}]}


def candidate(name: str, source: str | None = None, **kw: object) -> Candidate:
    return Candidate(
        name=name,
        source=source or f"npm:{name}",
        recipe=kw.pop("recipe", PLAIN),  # type: ignore[arg-type]
        first_release=kw.pop("first_release", NOW - timedelta(days=400)),  # type: ignore[arg-type]
        downloads=kw.pop("downloads", 50_000),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


CONTEXT = GateContext(
    now=NOW, existing_recipes=frozenset({"ripgrep", "kubectl", "jq", "terraform"})
)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("abc", "abc", 0),
        ("abc", "", 3),
        ("kitten", "sitting", 3),
        ("ripgrep", "ripgerp", 1),  # adjacent transposition counts 1
        ("ca", "abc", 2),  # unrestricted DL (optimal string alignment would say 3)
        ("jq", "qj", 1),
        ("terraform", "terrafrom", 1),
    ],
)
def test_damerau_levenshtein(a: str, b: str, distance: int) -> None:
    assert damerau_levenshtein(a, b) == distance
    assert damerau_levenshtein(b, a) == distance


@given(st.text("abcd", max_size=6), st.text("abcd", max_size=6), st.text("abcd", max_size=6))
def test_damerau_levenshtein_is_a_metric(a: str, b: str, c: str) -> None:
    assert (damerau_levenshtein(a, b) == 0) == (a == b)
    assert damerau_levenshtein(a, c) <= damerau_levenshtein(a, b) + damerau_levenshtein(b, c)


def test_confusable_form() -> None:
    assert confusable_form("Rip_Gr3p.x") == "ripgr3px"
    assert confusable_form("c0rn") == confusable_form("com")
    assert confusable_form("1s-d") == confusable_form("lsd")


@pytest.mark.parametrize(
    ("name", "other", "flagged"),
    [
        ("ripgerp", "ripgrep", True),  # transposition
        ("ripgrepp", "ripgrep", True),
        ("kubect1", "kubectl", True),  # 1 <-> l, and distance 1
        ("terrafrm", "terraform", True),  # long name: distance 1
        ("terafrm", "terraform", True),  # long name: distance 2
        ("teraform-x", "terraform", False),  # distance 3
        ("jqq", "jq", True),
        ("yq", "jq", True),  # short names: distance 1 still counts
        ("fzf", "jq", False),
        ("rnake", "make", True),  # rn looks like m
        ("my-tool", "my_tool", True),
        ("my.tool2", "mytool2", True),
        ("ripgrep", "ripgrep", False),  # the same name is no typosquat
    ],
)
def test_lookalikes(name: str, other: str, flagged: bool) -> None:
    assert (lookalike_reason(name, other, GateConfig()) is not None) == flagged


def test_clean_candidate_auto_merges() -> None:
    decision = evaluate_gates(candidate("bottom-tool"), CONTEXT)
    assert decision.auto_merge and decision.reasons == ()


def test_run_command_anywhere_needs_review() -> None:
    nested = {
        "metadata": {"name": "x"},
        "steps": [
            {"action": "npm_install"},
            {"action": "download", "post": [{"action": "run_command", "command": "curl | sh"}]},
        ],
    }
    assert find_run_command(nested)
    assert not find_run_command(PLAIN)
    toml = 'x = 1\n[[steps]]\naction   =  "run_command"\ncommand = "make"\n'
    assert find_run_command({}, toml)
    doc = tomlkit.parse(toml)
    decision = evaluate_gates(candidate("safe-name", recipe=doc), CONTEXT)
    assert not decision.auto_merge
    assert "run_command" in decision.reasons[0]
    # A run_command mentioned in a comment or value, not as an action, is not one.
    assert not find_run_command({"steps": [{"action": "npm_install", "note": "run_command"}]})


def test_typosquat_of_existing_recipe() -> None:
    decision = evaluate_gates(candidate("ripgerp"), CONTEXT)
    assert not decision.auto_merge
    assert "'ripgrep'" in decision.reasons[0]
    # Updating an existing recipe is not a new name.
    assert evaluate_gates(candidate("jq", is_new=False), CONTEXT).auto_merge


def test_typosquat_of_higher_ranked_queue_entry_from_another_source() -> None:
    queue = (
        RankedName("httpie", "homebrew:httpie"),
        RankedName("httpi3", "npm:httpi3"),
        RankedName("zzz-top", "homebrew:zzz-top"),
        RankedName("zzz-tpo", "npm:zzz-tpo"),
    )
    context = GateContext(now=NOW, queue=queue)
    squat = evaluate_gates(candidate("httpi3"), context)
    assert not squat.auto_merge
    assert "higher-ranked queue entry 'httpie'" in squat.reasons[0]
    # A lower-ranked lookalike does not hold back the better-ranked entry.
    assert evaluate_gates(candidate("httpie", "homebrew:httpie"), context).auto_merge
    # The same source is the same package, not a squat.
    context2 = GateContext(now=NOW, queue=(RankedName("abc-cli", "npm:abc"),))
    assert evaluate_gates(candidate("abc_cli", "npm:abc"), context2).auto_merge


def test_age_and_popularity_thresholds() -> None:
    young = evaluate_gates(candidate("fresh-tool", first_release=NOW - timedelta(days=10)), CONTEXT)
    assert not young.auto_merge and "10 days" in young.reasons[0]
    unpopular = evaluate_gates(candidate("quiet-tool", downloads=999), CONTEXT)
    assert not unpopular.auto_merge and "999 downloads" in unpopular.reasons[0]
    unknown = evaluate_gates(candidate("mystery-tool", downloads=None, first_release=None), CONTEXT)
    assert unknown.auto_merge  # popularity only counts when known
    strict = GateContext(now=NOW, config=GateConfig(min_age_days=500, min_downloads=100_000))
    decision = evaluate_gates(candidate("some-tool"), strict)
    assert len(decision.reasons) == 2
    relaxed = GateContext(now=NOW, config=GateConfig(min_age_days=0, min_downloads=0))
    assert evaluate_gates(candidate("x-tool", downloads=0), relaxed).auto_merge


def test_every_reason_is_listed() -> None:
    recipe = {"steps": [{"action": "run_command"}]}
    decision = evaluate_gates(
        candidate("ripgerp", recipe=recipe, downloads=5, first_release=NOW), CONTEXT
    )
    assert len(decision.reasons) == 4


def test_merge_report_markdown_and_json() -> None:
    items = [
        candidate("good-tool"),
        candidate("ripgerp"),
        candidate("pipe|tool`x", downloads=1),
    ]
    report = merge_report("2026-08-15-002", items, CONTEXT)
    assert not report.auto_merge
    assert report.held == ("ripgerp", "pipe|tool`x")
    text = report.to_text()
    assert text.startswith("## Batch 2026-08-15-002: human review required")
    assert "| `good-tool` | `npm:good-tool` |" in text
    assert "pipe\\|tool'x" in text  # table-breaking characters are escaped
    data = json.loads(json.dumps(report.to_json()))
    assert data["auto_merge"] is False
    assert [r["auto_merge"] for r in data["recipes"]] == [True, False, False]
    assert data["recipes"][0]["first_release"] == "2025-07-11T00:00:00Z"
    clean = merge_report("b", [candidate("good-tool")], CONTEXT)
    assert clean.auto_merge and "auto-merge" in clean.to_text()
    assert not merge_report("empty", [], CONTEXT).auto_merge


def test_reference_recipes_with_run_command(reference_dir: Path) -> None:
    # The reference gate greps `action.*=.*"run_command"`; the parsed walk must agree on real
    # recipes in both directions.
    flagged = 0
    for path in sorted((reference_dir / "recipes").glob("*/*.toml"))[:400]:
        text = path.read_text(encoding="utf-8")
        parsed = tomlkit.parse(text).unwrap()
        if find_run_command(parsed):
            flagged += 1
            assert "run_command" in text
        assert find_run_command(parsed) == find_run_command({}, text), path.name
    assert flagged >= 1  # awscli


# ---------------------------------------------------------------- typosquats, with real data

GATES = Path(__file__).resolve().parents[2] / "fixtures" / "gates"
LIVE_NOW = datetime(2026, 12, 5, tzinfo=UTC)


def _live_facts() -> dict[str, NameFacts]:
    """The live run's data: seeding's records, and first releases from saved PyPI documents."""
    from automation.core.timefmt import parse_timestamp
    from automation.ecosystems.pypi.client import parse_project_json
    from automation.registry.popularity import parse_popularity

    records = parse_popularity(json.loads((GATES / "popularity.json").read_text()), path="p")
    facts = {
        name: NameFacts(downloads=r.downloads, downloads_period=r.period, source=r.source)
        for name, r in records.items()
    }
    for name in ("gunicorn", "uvicorn", "torch"):
        document = json.loads((GATES / f"pypi-{name}.json").read_text())
        first = parse_project_json(document, base_url="https://pypi.org/x").first_release
        assert first is not None
        facts[name] = replace(facts[name], first_release=parse_timestamp(first))
    return facts


def _live(name: str, source: str, facts: dict[str, NameFacts]) -> Candidate:
    known = facts[name]
    return Candidate(
        name=name,
        source=source,
        recipe=PLAIN,
        first_release=known.first_release,
        downloads=known.downloads,
        downloads_period=known.downloads_period,
    )


def test_the_first_releases_come_from_the_saved_documents() -> None:
    facts = _live_facts()
    assert facts["gunicorn"].first_release == datetime(2010, 1, 3, 21, 50, 51, 389527, tzinfo=UTC)
    assert facts["uvicorn"].first_release == datetime(2017, 6, 5, 11, 32, 15, 69863, tzinfo=UTC)
    assert facts["torch"].first_release is not None


def test_popular_old_lookalikes_of_the_live_run_are_not_typosquats() -> None:
    facts = _live_facts()
    queue = [
        RankedName("uvicorn", "pypi:uvicorn"),
        RankedName("pnpm", "npm:pnpm"),
        RankedName("nypm", "npm:nypm"),
        RankedName("gunicorn", "pypi:gunicorn"),
        RankedName("npm", "npm:npm"),
        RankedName("touch", "npm:touch"),
    ]
    context = GateContext(
        now=LIVE_NOW, existing_recipes=frozenset({"torch"}), queue=queue, facts=facts
    )
    # Each one does resemble a name ranked above it or a recipe ...
    assert lookalike_reason("gunicorn", "uvicorn", context.config) == "edit distance 2"
    assert lookalike_reason("npm", "pnpm", context.config) == "edit distance 1"
    assert lookalike_reason("npm", "nypm", context.config) == "edit distance 1"
    assert lookalike_reason("touch", "torch", context.config) == "edit distance 1"
    # ... and the data says it is no squat: gunicorn (2010) is older than uvicorn (2017);
    # npm's monthly downloads are 22% of pnpm's and 94% of nypm's (this mirror's npm documents
    # carry no time.created, so by downloads); touch (npm, month) has 50% of torch's (PyPI, 30
    # days) per day.
    for name, source in (("gunicorn", "pypi:gunicorn"), ("npm", "npm:npm"), ("touch", "npm:touch")):
        decision = evaluate_gates(_live(name, source, facts), context)
        assert decision.auto_merge, (name, decision.reasons)
    cleared, _ = squat_cleared(_live("gunicorn", "pypi:gunicorn", facts), "uvicorn", context)
    assert cleared is not None and "over 5 years ago" in cleared
    cleared, _ = squat_cleared(_live("npm", "npm:npm", facts), "pnpm", context)
    assert cleared == ("45716941 downloads in month, 22% of 'pnpm''s 211284480 downloads in month")
    cleared, _ = squat_cleared(_live("touch", "npm:touch", facts), "torch", context)
    assert cleared is not None and "50% of 'torch'" in cleared
    # Older than the name it resembles, though younger than the established threshold:
    young_rule = GateContext(now=LIVE_NOW, config=GateConfig(established_years=100), facts=facts)
    cleared, _ = squat_cleared(_live("gunicorn", "pypi:gunicorn", facts), "uvicorn", young_rule)
    assert cleared == "first released 2010-01-03, before 'uvicorn' (2017-06-05)"


def test_a_new_tiny_lookalike_of_a_popular_name_is_still_held() -> None:
    facts = {"requests": NameFacts(downloads=1291814272, downloads_period="30 days")}
    context = GateContext(now=LIVE_NOW, existing_recipes=frozenset({"requests"}), facts=facts)
    squat = Candidate(
        name="requets",
        source="pypi:requets",
        recipe=PLAIN,
        first_release=LIVE_NOW - timedelta(days=120),  # past the age gate
        downloads=1200,  # past the download gate
        downloads_period="30 days",
    )
    decision = evaluate_gates(squat, context)
    assert not decision.auto_merge
    (reason,) = decision.reasons
    assert reason.startswith("possible typosquat of existing recipe 'requests' (edit distance 1)")
    assert "first released 2026-08-07; the first release of 'requests' is unknown" in reason
    assert "1200 downloads in 30 days, 0.0% of 'requests''s 1291814272 downloads" in reason


def test_without_data_a_lookalike_stays_held_and_says_what_is_missing() -> None:
    context = GateContext(now=LIVE_NOW, existing_recipes=frozenset({"torch"}))
    bare = Candidate(name="touch", source="npm:touch", recipe=PLAIN)
    decision = evaluate_gates(bare, context)
    assert not decision.auto_merge
    (reason,) = decision.reasons
    assert reason == (
        "possible typosquat of existing recipe 'torch' (edit distance 1); not cleared: "
        "its first release is unknown; its download count is unknown; "
        "the download count of 'torch' is unknown"
    )
    # Counts that are not rates (all-time totals) are not compared, and it says so.
    facts = {"torch": NameFacts(downloads=10, downloads_period="all time")}
    total = replace(bare, downloads=10**9, downloads_period="all time")
    decision = evaluate_gates(total, replace(context, facts=facts))
    assert not decision.auto_merge and "not a rate to compare" in decision.reasons[0]


def test_the_version_verify_gate_holds_only_when_asked() -> None:
    exit_only = {**PLAIN, "verify": {"command": "x --help", "pattern": ""}}
    by_version = {**PLAIN, "verify": {"command": "x --version", "pattern": "x {version}"}}
    strict = replace(CONTEXT, config=GateConfig(require_version_verify=True))
    assert evaluate_gates(candidate("x", recipe=exit_only), CONTEXT).auto_merge
    held = evaluate_gates(candidate("x", recipe=exit_only), strict)
    assert not held.auto_merge
    assert held.reasons == (
        "[verify] `x --help` checks only a clean exit, not the version the tool prints "
        '(merge.verify = "version"): review it or find a version command',
    )
    assert evaluate_gates(candidate("x", recipe=by_version), strict).auto_merge
    assert not evaluate_gates(candidate("x", recipe=PLAIN), strict).auto_merge  # no [verify]
