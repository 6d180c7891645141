"""Seeding into a scratch registry against a local stand-in for PyPI and npm."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from automation.core import schemas
from automation.core.config import Config, public_endpoints
from automation.core.errors import ExitCode, LockedError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ecosystems.popularity import PopularityList, Ranked
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.stages.seed import load_tier1, popularity_path, seed, tier_for
from tests.support.fake_upstream import FakeUpstream, Reply
from tests.support.seeding_upstream import start_seeding_upstream

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = start_seeding_upstream()
    yield server
    server.stop()
    assert server.unexpected == []


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    endpoints = dict(public_endpoints(), pypi=upstream.base, npm=upstream.base)
    endpoints["pypifiles"] = upstream.base + "/files"
    config = Config(endpoints=MappingProxyType(endpoints), retries=1, backoff_factor=0.01)
    with HttpClient(config, env={}) as client:
        yield client


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    (tmp_path / "recipes").mkdir()
    return RegistryLayout.at(tmp_path)


def ranking(
    ecosystem: str, names: list[str], percentiles: list[float] | None = None
) -> PopularityList:
    percentiles = percentiles or [99.9 - i * 0.01 for i in range(len(names))]
    entries = tuple(
        Ranked(name, 1_000_000 - i, i + 1, pct)
        for i, (name, pct) in enumerate(zip(names, percentiles, strict=True))
    )
    return PopularityList(ecosystem, "30 days", "test ranking", "2026-04-01", 1000, entries)


def queue_names(layout: RegistryLayout) -> list[tuple[str, str, int]]:
    return [(e.name, e.source, e.priority) for e in load_queue(layout.queue).entries]


def test_pypi_seeding_keeps_clis_in_popularity_order(
    layout: RegistryLayout, http: HttpClient
) -> None:
    ranked = ranking("pypi", ["requests", "httpie", "black", "ruff"])
    report = seed(layout, "pypi", 3, http, NOW, popularity=ranked, progress=False)
    assert report.exit_code == ExitCode.OK
    assert queue_names(layout) == [
        ("httpie", "pypi:httpie", 1),
        ("black", "pypi:black", 1),
        ("ruff", "pypi:ruff", 1),
    ]
    assert report.skipped == {"not_cli": 1}
    assert [i.executables for i in report.accepted] == [
        ("http", "httpie", "https"),
        ("black", "blackd"),
        ("ruff",),
    ]
    entry = load_queue(layout.queue).entries[0]
    assert (entry.status, entry.confidence, entry.failure_count) == ("pending", "auto", 0)
    assert entry.disambiguated_at is None and entry.next_retry_at is None
    side = json.loads(popularity_path(layout).read_text())
    assert schemas.check(side, "popularity", path="popularity.json") == []
    assert side["entries"]["httpie"] == {
        "ecosystem": "pypi",
        "identifier": "httpie",
        "downloads": 999_999,
        "rank": 2,
        "percentile": 99.89,
        "period": "30 days",
        "source": "test ranking",
        "as_of": "2026-04-01",
    }
    runs = (layout.metrics_dir / "seeding-runs.jsonl").read_text().splitlines()
    assert json.loads(runs[0])["new_packages"] == 3
    assert report.requests >= 4 and report.to_json()["accepted"][0]["name"] == "httpie"


def test_rerun_adds_nothing(layout: RegistryLayout, http: HttpClient) -> None:
    ranked = ranking("pypi", ["requests", "httpie", "black", "ruff"])
    seed(layout, "pypi", 2, http, NOW, popularity=ranked, progress=False)
    before = layout.queue.read_bytes()
    report = seed(layout, "pypi", 2, http, NOW, popularity=ranked, progress=False)
    assert report.accepted == [] and report.skipped["in_queue"] == 2
    assert layout.queue.read_bytes() == before  # not even updated_at moved


def test_existing_recipe_and_case_insensitive_queue_dedupe(
    layout: RegistryLayout, http: HttpClient
) -> None:
    recipe = layout.recipe_path("httpie")
    recipe.parent.mkdir(parents=True)
    recipe.write_text('[metadata]\nname = "httpie"\n')
    existing = QueueEntry("Black", "homebrew:black", 3, "pending", "auto", None, 0, None)
    from automation.registry.queue import empty_queue

    save_queue(layout.queue, empty_queue().with_entries([existing]))
    ranked = ranking("pypi", ["httpie", "black", "requests", "ruff"])
    report = seed(layout, "pypi", 3, http, NOW, popularity=ranked, progress=False)
    assert report.skipped == {"has_recipe": 1, "in_queue": 1, "not_cli": 1}
    assert queue_names(layout) == [("Black", "homebrew:black", 3), ("ruff", "pypi:ruff", 1)]


def test_unsafe_names_are_rejected_without_a_request(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    ranked = ranking("npm", ["../evil", "..", "@x/..", "cowsay"])
    report = seed(layout, "npm", 1, http, NOW, popularity=ranked, progress=False)
    assert report.skipped == {"unsafe_name": 3}
    assert queue_names(layout) == [("cowsay", "npm:cowsay", 2)]
    assert all("evil" not in path for _, path, _ in upstream.log)


def test_npm_seeding_and_tiers(layout: RegistryLayout, http: HttpClient) -> None:
    ranked = ranking(
        "npm",
        ["lodash", "cowsay", "prettier", "@angular/cli", "typescript"],
        [100.0, 99.5, 99.0, 50.0, 98.9],
    )
    report = seed(layout, "npm", 4, http, NOW, popularity=ranked, progress=False)
    assert queue_names(layout) == [
        ("cowsay", "npm:cowsay", 2),  # top 1 %
        ("prettier", "npm:prettier", 1),  # tier-1 list
        ("angular-cli", "npm:@angular/cli", 3),  # names.recipe_name_for
        ("typescript", "npm:typescript", 1),
    ]
    assert report.skipped == {"not_cli": 1}


def test_tier_rules() -> None:
    tier1 = load_tier1()
    assert {"ripgrep", "jq", "sqlite", "black", "prettier"} <= tier1
    assert len([n for n in tier1]) >= 33
    assert tier_for("ripgrep", 0.0, tier1) == 1
    assert tier_for("unknown-tool", 99.0, tier1) == 2
    assert tier_for("unknown-tool", 98.99, tier1) == 3


def test_fetch_errors_are_recorded_and_the_run_goes_on(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    upstream.json("/gone/latest", {"error": "Not found"}, status=404)
    upstream.sequence("/flaky/latest", [Reply(503)])
    ranked = ranking("npm", ["gone", "flaky", "cowsay"])
    report = seed(layout, "npm", 1, http, NOW, popularity=ranked, progress=False)
    assert report.fetch_errors == {"not_found": 1, "upstream_error": 1}
    assert report.skipped == {"fetch_error": 2}
    assert queue_names(layout) == [("cowsay", "npm:cowsay", 2)]
    assert report.exit_code == ExitCode.PARTIAL  # a transient error: worth a rerun


def test_emergency_stop(layout: RegistryLayout, http: HttpClient) -> None:
    from automation.registry.control import Control, save_control

    save_control(layout.control_file, Control(enabled=False, reason="incident"))
    report = seed(layout, "npm", 1, http, NOW, popularity=ranking("npm", ["cowsay"]))
    assert report.stopped and report.exit_code == ExitCode.STOPPED
    assert not layout.queue.exists()


def test_lookups_are_bounded(layout: RegistryLayout, http: HttpClient) -> None:
    ranked = ranking("pypi", ["requests", "httpie"])
    report = seed(layout, "pypi", 1, http, NOW, popularity=ranked, max_lookups=1, progress=False)
    assert report.accepted == [] and any("bound" in note for note in report.notes)


def test_a_held_lock_stops_a_second_writer(layout: RegistryLayout, http: HttpClient) -> None:
    from automation.core.atomic import registry_lock

    with registry_lock(layout.lock_file), pytest.raises(LockedError):
        seed(layout, "npm", 1, http, NOW, popularity=ranking("npm", ["cowsay"]), progress=False)


def test_report_renders(layout: RegistryLayout, http: HttpClient) -> None:
    report = seed(
        layout, "npm", 1, http, NOW, popularity=ranking("npm", ["cowsay"]), progress=False
    )
    text = report.to_text()
    assert "cowsay" in text and "1 added" in text
    document: dict[str, Any] = report.to_json()
    assert document["skipped"] == {} and document["exit_code"] == 0


def test_libraries_that_ship_a_script_are_skipped_with_their_signals(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    latest = Path(__file__).parents[2] / "fixtures" / "npm" / "latest"
    for name in ("semver", "uuid", "eslint"):
        upstream.json(f"/{name}/latest", json.loads((latest / f"{name}.json").read_text()))
    ranked = ranking("npm", ["semver", "uuid", "cowsay", "eslint"], [99.9, 99.8, 99.7, 50.0])
    report = seed(layout, "npm", 2, http, NOW, popularity=ranked, progress=False)
    assert queue_names(layout) == [("cowsay", "npm:cowsay", 2), ("eslint", "npm:eslint", 1)]
    assert report.skipped == {"library_script": 2}
    skipped = {i["identifier"]: i for i in report.to_json()["skipped_items"]}
    assert skipped["semver"]["outcome"] == "library_script"
    assert skipped["semver"]["detail"].startswith("score 0 (tool at 2): ")
    assert "executable_named_like_package+1" in skipped["uuid"]["signals"]
    accepted = {i["identifier"]: i for i in report.to_json()["accepted"]}
    assert accepted["cowsay"]["tool_score"] >= 2
    assert "preferGlobal+2" in accepted["cowsay"]["signals"]
    # a rerun over the same ranking decides the same (nothing new, same reasons)
    again = seed(layout, "npm", 2, http, NOW, popularity=ranked, progress=False)
    assert again.accepted == [] and again.skipped["library_script"] == 2


def test_skips_are_remembered_so_a_wider_window_looks_up_only_new_candidates(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    from datetime import timedelta

    from automation.stages.seed import MEMO_DAYS, memo_path

    latest = Path(__file__).parents[2] / "fixtures" / "npm" / "latest"
    upstream.json("/semver/latest", json.loads((latest / "semver.json").read_text()))
    ranked = ranking("npm", ["lodash", "semver", "cowsay", "typescript"])
    seed(layout, "npm", 1, http, NOW, popularity=ranked, progress=False)
    looked_up = [entry[1] for entry in upstream.log]
    assert "/lodash/latest" in looked_up and "/semver/latest" in looked_up
    assert memo_path(layout, "npm").is_file()
    upstream.log.clear()
    report = seed(layout, "npm", 2, http, NOW, popularity=ranked, progress=False)
    assert [entry[1] for entry in upstream.log] == ["/typescript/latest"]
    skipped = {i["identifier"]: i for i in report.to_json()["skipped_items"]}
    assert skipped["lodash"]["outcome"] == "not_cli"
    assert skipped["semver"]["outcome"] == "library_script"
    assert skipped["semver"]["detail"].endswith("(look-up of 2026-11-27T12:00:00Z remembered)")
    assert queue_names(layout) == [("cowsay", "npm:cowsay", 2), ("typescript", "npm:typescript", 1)]
    # after MEMO_DAYS the verdicts are looked up again
    upstream.log.clear()
    later = NOW + timedelta(days=MEMO_DAYS, seconds=1)
    seed(layout, "npm", 2, http, later, popularity=ranked, progress=False)
    assert sorted(entry[1] for entry in upstream.log) == ["/lodash/latest", "/semver/latest"]
    # an unreadable memo is a cache miss, never an error
    memo_path(layout, "npm").write_text("{not json")
    seed(layout, "npm", 2, http, later, popularity=ranked, progress=False)


CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens there: every connection is refused


def unreachable_client(max_failures: int) -> HttpClient:
    """Every endpoint (and PyPI's ranking refresh) on a closed port, no retries, no sleeps."""
    from dataclasses import replace

    from automation.core.config import load_config

    env = {f"AUTOMATION_ENDPOINT_{name.upper()}": CLOSED_PORT for name in public_endpoints()}
    env["AUTOMATION_SEED_MAX_NETWORK_FAILURES"] = str(max_failures)
    config = load_config(env=env).with_settings("popularity", pypi_top_url=CLOSED_PORT + "/top")
    config = replace(config, retries=0)
    return HttpClient(config, env={}, sleep=lambda _: None)


@pytest.mark.parametrize(
    "source", ["pypi", "npm", "crates.io", "rubygems", "homebrew", "cask", "github"]
)
def test_an_unreachable_source_is_given_up_with_one_message(
    layout: RegistryLayout, source: str
) -> None:
    from automation.ecosystems import seed_sources

    assert source in seed_sources()
    with unreachable_client(3) as http:
        report = seed(layout, source, 50, http, NOW, progress=False)
    assert report.exit_code == ExitCode.STOPPED
    gave_up = report.gave_up
    assert gave_up is not None and gave_up.base == CLOSED_PORT
    if gave_up.during == "look-ups":  # a ranking shipped with the kit: the look-ups fail
        assert report.examined == gave_up.failures == 3
        assert report.fetch_errors == {"network_error": 3}
    else:  # the ranking itself is fetched
        assert report.examined == 0 and gave_up.during == "the popularity list"
    text = report.to_text()
    assert text.count("gave up on") == 1
    assert gave_up.variable is not None and gave_up.variable.startswith("AUTOMATION_ENDPOINT_")
    assert gave_up.variable in text
    if gave_up.during == "look-ups":
        assert "max_network_failures" in text
    assert "Connection refused" in text and CLOSED_PORT in text
    assert report.to_json()["gave_up"]["variable"] == gave_up.variable
    assert not layout.queue.exists() and not popularity_path(layout).exists()  # untouched


def test_failures_count_in_a_row_and_what_was_accepted_before_the_stop_is_queued(
    layout: RegistryLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation.core.http import Aborted, NetworkError
    from automation.ecosystems import Lookup, adapter_for
    from automation.stages import seed as seed_module

    def lookup(http: HttpClient, identifier: str) -> Lookup:
        if identifier.startswith("down"):
            url = http.url("pypi", f"/pypi/{identifier}/json")
            error = NetworkError("ConnectionError: [Errno 111] Connection refused", url=url)
            error.endpoint = "pypi"  # what HttpClient records on its errors
            raise error
        return Lookup(identifier, (identifier,), "1.0")

    real = adapter_for("pypi")
    from dataclasses import replace

    fake = replace(real, lookup=lookup)
    monkeypatch.setattr(seed_module, "adapter_for", lambda source: fake)
    ranked = ranking("pypi", ["down-a", "down-b", "up-a", "down-c", "down-d", "down-e", "up-b"])
    with unreachable_client(3) as http:
        report = seed(layout, "pypi", 50, http, NOW, popularity=ranked, progress=False)
        # The stop aborted the look-ups in flight; the client then serves its caller again.
        with pytest.raises(NetworkError) as caught:
            http.get_bytes("pypi", "/simple/")
        assert not isinstance(caught.value, Aborted)
    assert [i.identifier for i in report.items] == [
        "down-a",
        "down-b",
        "up-a",
        "down-c",
        "down-d",
        "down-e",
    ]
    assert report.gave_up is not None and report.gave_up.failures == 3
    assert report.gave_up.endpoint == "pypi"
    assert report.exit_code == ExitCode.STOPPED
    # Accepted before the stop: queued (the documented choice), the rest never looked at.
    assert queue_names(layout) == [("up-a", "pypi:up-a", 2)]


def test_a_registry_may_ask_more_of_a_tool_whose_command_has_another_name(
    layout: RegistryLayout, upstream: FakeUpstream
) -> None:
    """``[seed] unnamed_min_score = 4``: typescript (its command is ``tsc``, score 2) is skipped
    as a library_script saying which rule kept it out, while eslint (named like its package)
    and cowsay are queued; the default (2) queues typescript, and tier 1 always does."""
    latest = Path(__file__).parents[2] / "fixtures" / "npm" / "latest"
    for name in ("typescript", "eslint"):
        upstream.json(f"/{name}/latest", json.loads((latest / f"{name}.json").read_text()))
    ranked = ranking("npm", ["typescript", "eslint", "cowsay"], [50.0, 50.0, 50.0])
    endpoints = dict(public_endpoints(), npm=upstream.base)

    def seeded(unnamed_min_score: int, tier1: frozenset[str]) -> tuple[list[str], Any]:
        root = layout.root / f"r{unnamed_min_score}-{len(tier1)}"
        (root / "recipes").mkdir(parents=True)
        config = Config(
            endpoints=MappingProxyType(endpoints),
            retries=1,
            backoff_factor=0.01,
            seed_unnamed_min_score=unnamed_min_score,
        )
        with HttpClient(config, env={}) as client:
            report = seed(
                RegistryLayout.at(root), "npm", 3, client, NOW, popularity=ranked, tier1=tier1
            )
        return [e.name for e in load_queue(RegistryLayout.at(root).queue).entries], report

    strict, report = seeded(4, frozenset())
    assert strict == ["eslint", "cowsay"]
    [skipped] = report.to_json()["skipped_items"]
    assert (skipped["identifier"], skipped["outcome"]) == ("typescript", "library_script")
    assert "'tsc' is not named like the package: needs 4" in skipped["detail"]
    assert seeded(2, frozenset())[0] == ["typescript", "eslint", "cowsay"]
    assert seeded(4, frozenset({"typescript"}))[0] == ["typescript", "eslint", "cowsay"]


def test_the_stop_file_is_read_at_most_once_a_second_while_seeding_walks_candidates(
    layout: RegistryLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeding asks for the emergency stop before every candidate (tens of thousands, most
    answered from memory); the control file is read once a second, not once each."""
    import automation.registry.control as control
    from automation.stages import seed as seed_stage

    reads: list[str] = []
    monkeypatch.setattr(control, "check_allowed_now", lambda _layout, eco: reads.append(eco))
    clock = [100.0]
    monkeypatch.setattr(seed_stage.time, "monotonic", lambda: clock[0])
    check = seed_stage._stop_checker(layout, "npm")
    for _ in range(1000):
        check()
    assert reads == ["npm"]
    clock[0] += seed_stage.STOP_CHECK_SECONDS
    check()
    assert reads == ["npm", "npm"]
