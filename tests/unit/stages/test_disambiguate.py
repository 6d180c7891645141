"""Cross-ecosystem disambiguation: percentiles within each ecosystem, never raw counts across."""

from __future__ import annotations

import ast
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core import schemas
from automation.core.config import Config, public_endpoints
from automation.core.http import HttpClient
from automation.core.layout import REPOSITORY_ROOT, SCHEMAS_DIR, RegistryLayout
from automation.ecosystems import split_source
from automation.ecosystems.popularity import PopularityList, Ranked, rank_counts
from automation.registry.disambiguations import SELECTION_REASONS, audit_dir, read_audit_file
from automation.registry.failure_codes import string_constants
from automation.registry.queue import Queue, QueueEntry, load_queue, save_queue
from automation.stages import disambiguate
from automation.stages.disambiguate import Probe, audit_record, decide, record_decision
from automation.stages.seed import popularity_path, seed
from tests.support.fake_upstream import FIXTURES, FakeUpstream
from tests.support.seeding_upstream import latest_of

# Constructors whose fourth positional argument (or ``selection_reason=``) is the reason:
# disambiguate.Decision, disambiguations.Decision and disambiguations.AuditRecord.
_WRITERS = {"Decision": 3, "AuditRecord": 3}


def _reason_literals(expression: ast.expr, constants: dict[str, str]) -> set[str]:
    """The string literals ``expression`` may evaluate to (module constants resolved)."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return {expression.value}
    if isinstance(expression, ast.Name) and expression.id in constants:
        return {constants[expression.id]}
    if isinstance(expression, ast.IfExp):
        return _reason_literals(expression.body, constants) | _reason_literals(
            expression.orelse, constants
        )
    return set()  # a value passed through (e.g. ``decision.selection_reason``)


def written_reasons() -> dict[str, set[str]]:
    """Reason literals per module of ``automation/``: constructor arguments and JSON keys."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPOSITORY_ROOT / "automation").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        constants = string_constants(tree)
        reasons: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in _WRITERS:
                    index = _WRITERS[name]
                    if len(node.args) > index:
                        reasons |= _reason_literals(node.args[index], constants)
                for keyword in node.keywords:
                    if keyword.arg == "selection_reason":
                        reasons |= _reason_literals(keyword.value, constants)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "selection_reason":
                        reasons |= _reason_literals(value, constants)
        if reasons:
            found[str(path.relative_to(REPOSITORY_ROOT))] = reasons
    return found


def schema_enum() -> set[str]:
    schema = json.loads((SCHEMAS_DIR / "disambiguation-audit.schema.json").read_text())
    return set(schema["$defs"]["selection_reason"]["enum"])


def test_every_reason_the_code_writes_is_known() -> None:
    found = written_reasons()
    written = set().union(*found.values())
    # the scan must see the decision module's reasons, or it proves nothing
    assert set(disambiguate.REASONS) <= written, found
    assert written - set(SELECTION_REASONS) == set(), found
    assert written - schema_enum() == set(), found


def test_each_decision_rule_writes_a_readable_audit(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    when = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    top = Probe("homebrew", "t", 99.0, has_executables=True)
    low = Probe("npm", "t", 50.0, has_executables=True)
    near = Probe("npm", "t", 98.0, has_executables=True)
    cases = {
        "single_match": [top],
        "clear_winner": [top, low],
        "close_call": [top, near],
        "no_match": [Probe("npm", "t", 50.0, has_executables=False)],
    }
    seen = set()
    for expected, probes in cases.items():
        decision = decide("t", probes)
        assert decision.selection_reason == expected
        write = record_decision(layout, decision, probes, previous_source="npm:t", when=when)
        scan = read_audit_file(write.path)
        assert scan.problems == [] and scan.record is not None
        assert scan.record.selection_reason in SELECTION_REASONS
        seen.add(scan.record.selection_reason)
    curated = decide("t", [top], curated="npm:t")
    assert curated.selection_reason in SELECTION_REASONS
    assert seen | {curated.selection_reason} == set(disambiguate.REASONS)


NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


def test_numpy_pypi_percentile_beats_crates_raw_count() -> None:
    # The reference auto-accepted crates.io:numpy for 8.0 M downloads; within crates.io that is
    # a modest rank, while numpy is at the very top of PyPI.
    pypi = Probe("pypi", "numpy", 100.0, 0, "30 days", True, 142, True)
    crates = Probe("crates.io", "numpy", 61.0, 8_017_238, "90 days", None, 46, True)
    decision = decide("numpy", [crates, pypi], margin=10)
    assert decision.selected == "pypi:numpy"
    assert decision.selection_reason == "clear_winner"
    assert decision.alternatives == ("crates.io:numpy",)
    assert not decision.requires_manual and not decision.high_risk
    assert [s.source for s in decision.scores] == ["pypi:numpy", "crates.io:numpy"]


def test_neovim_homebrew_beats_a_rubygems_library() -> None:
    homebrew = Probe("homebrew", "neovim", 99.2, 536_398, "365 days", True, 0, True)
    gem = Probe("rubygems", "neovim", 97.0, 1_597_926, "all time", False, 31, False)
    decision = decide("neovim", [gem, homebrew])
    assert decision.selected == "homebrew:neovim"
    assert decision.selection_reason == "single_match"  # the gem ships no executables
    assert {s.source: s.excluded for s in decision.scores}["rubygems:neovim"] == "no_executables"
    # Homebrew can win on popularity too (its version count, always 0 in the reference, is
    # no obstacle).
    gem_unknown = Probe("rubygems", "neovim", 70.0, 1_597_926, "all time", True, 31, False)
    assert decide("neovim", [gem_unknown, homebrew]).selection_reason == "clear_winner"


def test_close_call_requires_manual_and_selects_nothing() -> None:
    a = Probe("npm", "ollama", 98.0, 400_000, "month", True, 30, True)
    b = Probe("homebrew", "ollama", 95.0, 90_000, "365 days", True, 0, True)
    decision = decide("ollama", [a, b], margin=10)
    assert decision.selection_reason == "close_call"
    assert decision.selected is None and decision.requires_manual and decision.high_risk
    assert decision.alternatives == ("npm:ollama", "homebrew:ollama")
    assert "gap 3.0 < margin 10" in decision.detail
    # The same gap is a clear win with a smaller margin.
    assert decide("ollama", [a, b], margin=2).selected == "npm:ollama"


def test_unknown_percentiles_and_unchecked_executables_are_never_guessed() -> None:
    known = Probe("crates.io", "x", 99.0, 10, "90 days", True)
    unranked = Probe("cask", "x", None, 0, "", True)
    assert decide("x", [known, unranked]).selection_reason == "close_call"
    unchecked = Probe("crates.io", "x", 99.0, 10, "90 days", None)
    low = Probe("npm", "x", 10.0, 10, "month", True)
    assert decide("x", [unchecked, low]).requires_manual


def test_disqualified_curated_and_no_match() -> None:
    archived = Probe("github", "o/x", 99.0, disqualified="archived", has_executables=True)
    bottled = Probe("homebrew", "x", 50.0, has_executables=True)
    assert decide("x", [archived, bottled]).selected == "homebrew:x"
    curated = decide("x", [archived, bottled], curated="github:o/x")
    assert (curated.selected, curated.selection_reason) == ("github:o/x", "curated")
    none = decide("x", [archived])
    assert none.selection_reason == "no_match" and none.requires_manual


def test_audit_has_the_reference_shape(tmp_path: Path) -> None:
    layout = RegistryLayout.at(tmp_path)
    probes = [
        Probe("npm", "ollama", 98.0, 400_000, "month", True, 30, True),
        Probe("homebrew", "ollama", 95.0, 90_000, "365 days", True, 0, True),
    ]
    decision = decide("ollama", probes)
    written = record_decision(layout, decision, probes, previous_source="homebrew:ollama", when=NOW)
    document = json.loads(written.path.read_text())
    assert written.path == audit_dir(layout) / "ollama.json"
    assert schemas.check(document, "disambiguation-audit", path="ollama.json") == []
    assert list(document) == [
        "tool",
        "selected",
        "alternatives",
        "selection_reason",
        "high_risk",
        "probe_results",
        "previous_source",
        "disambiguated_at",
        "seeding_run",
    ]
    assert document["selected"] == "homebrew:ollama"  # the queue keeps it while a human decides
    assert document["alternatives"] == ["npm:ollama"]
    assert document["selection_reason"] == "close_call" and document["high_risk"] is True
    assert read_audit_file(written.path).problems == []
    single = audit_record(
        decide("x", probes[:1]), probes[:1], previous_source=None, when=NOW, seeding_run=NOW
    )
    assert single.alternatives is None  # as the reference writes single matches


def _reference_percentiles(audits: list[dict[str, object]]) -> dict[str, float]:
    """Rank every probed project within its own ecosystem (zero = no number, no percentile)."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for audit in audits:
        for probe in audit["probe_results"]:  # type: ignore[attr-defined]
            eco, _ = split_source(probe["source"])
            counts[eco][probe["source"]] = max(
                probe["downloads"], counts[eco].get(probe["source"], 0)
            )
    out: dict[str, float] = {}
    for by_source in counts.values():
        pairs = [(s, n) for s, n in by_source.items() if n > 0]
        out.update({r.identifier: r.percentile for r in rank_counts(pairs, len(by_source))})
    return out


def test_reference_10x_gap_decisions_come_out_differently(reference_dir: Path) -> None:
    paths = sorted((reference_dir / "data" / "disambiguations" / "audit").glob("*.json"))
    assert len(paths) > 4000
    audits = [json.loads(p.read_text()) for p in paths]
    percentiles = _reference_percentiles(audits)
    gap = [a for a in audits if a["selection_reason"] == "10x_popularity_gap"]
    assert len(gap) == 250
    outcomes: Counter[str] = Counter()
    for audit in gap:
        probes = [
            Probe(
                *split_source(p["source"]),
                percentile=percentiles.get(p["source"]),
                downloads=p["downloads"],
                has_executables=True,  # the most generous reading: quality alone decides nothing
                version_count=p["version_count"],
                has_repository=p["has_repository"],
            )
            for p in audit["probe_results"]
        ]
        decision = decide(audit["tool"], probes)
        outcomes["same" if decision.selected == audit["selected"] else "different"] += 1
        if audit["tool"] == "numpy":
            # crates.io's 8 M and Homebrew's 380 K are not compared; PyPI has no number at all.
            assert audit["selected"] == "crates.io:numpy"
            assert decision.selected is None and decision.requires_manual
    # Every one of them compared counts from different ecosystems; most are not kept.
    assert all(len({split_source(p["source"])[0] for p in a["probe_results"]}) > 1 for a in gap)
    assert outcomes["different"] > 0.7 * len(gap), outcomes


@pytest.fixture
def http() -> Iterator[HttpClient]:
    server = FakeUpstream().start()
    for name in ("cowsay", "prettier"):
        server.file(f"/{name}", FIXTURES / "npm" / f"{name}.json")
        # what seeding's look-up reads: the latest version's document
        server.json(f"/{name}/latest", latest_of(FIXTURES / "npm" / f"{name}.json"))
    endpoints = dict(public_endpoints(), pypi=server.base, npm=server.base)
    config = Config(endpoints=MappingProxyType(endpoints), retries=1, backoff_factor=0.01)
    with HttpClient(config, env={}) as client:
        yield client
    server.stop()
    assert server.unexpected == []


def _seeded_from_pypi(tmp_path: Path, percentile: float) -> RegistryLayout:
    """A registry whose queue holds ``prettier`` seeded from PyPI at ``percentile``."""
    (tmp_path / "recipes").mkdir()
    layout = RegistryLayout.at(tmp_path)
    entry = QueueEntry("prettier", "pypi:prettier", 3, "pending", "auto", None, 0, None)
    save_queue(layout.queue, Queue(1, "2026-11-01T00:00:00Z", (entry,)))
    popularity_path(layout).write_text(
        json.dumps(
            {
                "schema_version": 1,
                "updated_at": "2026-11-01T00:00:00Z",
                "entries": {
                    "prettier": {
                        "ecosystem": "pypi",
                        "identifier": "prettier",
                        "downloads": 1200,
                        "rank": 9000,
                        "percentile": percentile,
                        "period": "30 days",
                        "source": "test",
                        "as_of": None,
                    }
                },
            }
        )
    )
    return layout


def _npm_ranking(percentile: float) -> PopularityList:
    entries = (Ranked("prettier", 50_000_000, 40, percentile), Ranked("cowsay", 9_000, 900, 90.0))
    return PopularityList("npm", "month", "test ranking", None, 100_000, entries)


@pytest.mark.parametrize(
    ("pypi_pct", "npm_pct", "source", "status", "reason"),
    [
        (40.0, 99.96, "npm:prettier", "pending", "clear_winner"),
        (99.0, 95.0, "pypi:prettier", "requires_manual", "close_call"),
        (99.9, 50.0, "pypi:prettier", "pending", "clear_winner"),
    ],
)
def test_seeding_decides_names_another_ecosystem_queued(
    tmp_path: Path,
    http: HttpClient,
    pypi_pct: float,
    npm_pct: float,
    source: str,
    status: str,
    reason: str,
) -> None:
    layout = _seeded_from_pypi(tmp_path, pypi_pct)
    report = seed(layout, "npm", 2, http, NOW, popularity=_npm_ranking(npm_pct), progress=False)
    entries = {e.name: e for e in load_queue(layout.queue).entries}
    assert set(entries) == {"prettier", "cowsay"}  # never a second prettier entry
    assert (entries["prettier"].source, entries["prettier"].status) == (source, status)
    assert entries["prettier"].disambiguated_at == "2026-11-27T12:00:00Z"
    audit = json.loads((audit_dir(layout) / "prettier.json").read_text())
    assert audit["selection_reason"] == reason
    assert audit["previous_source"] == "pypi:prettier"
    assert {p["source"] for p in audit["probe_results"]} == {"pypi:prettier", "npm:prettier"}
    popularity = json.loads(popularity_path(layout).read_text())["entries"]["prettier"]
    assert popularity["ecosystem"] == source.split(":")[0]
    item = next(i for i in report.items if i.name == "prettier")
    assert item.outcome == ("accepted" if source.startswith("npm") else "in_queue")
    # A rerun over the same ranking changes nothing: the audit already probed npm.
    before = layout.queue.read_bytes()
    seed(layout, "npm", 2, http, NOW, popularity=_npm_ranking(npm_pct), progress=False)
    assert layout.queue.read_bytes() == before
