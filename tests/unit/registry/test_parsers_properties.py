"""Property tests: every data-file parser turns any input into Problems naming the place.

Arbitrary bytes, truncated real files, wrong types and huge values never raise anything but the
documented DataError; every problem names the file it was given.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.core.errors import DataError
from automation.core.report import Problem
from automation.registry.depmapping import read_dep_mapping_file
from automation.registry.disambiguations import parse_audit, read_audit_file, read_decision_file
from automation.registry.failures import read_failure_file
from automation.registry.manifest import new_manifest, parse_manifest, read_manifest_file
from automation.registry.metrics import parse_metrics_text, read_metrics_file, read_seeding_runs
from automation.registry.queue import parse_queue, read_queue
from automation.registry.results import (
    parse_batch_summary,
    parse_results_text,
    read_batch_summary,
    read_results_file,
)
from tests.support.data_samples import (
    AUDIT,
    BATCH_RESULTS,
    CURATED_LINE,
    LEGACY_METRICS_RECORD,
    METRICS_RECORD,
    RESULT_FAIL,
    RESULT_PASS,
    SEEDING_RUN,
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


QUEUE_ENTRY = {
    "name": "bat",
    "source": "github:sharkdp/bat",
    "priority": 1,
    "status": "success",
    "confidence": "curated",
    "disambiguated_at": None,
    "failure_count": 3,
    "next_retry_at": "2026-02-24T06:13:30.875620816Z",
}


QUEUE = {"schema_version": 1, "updated_at": "2026-08-13T20:39:55Z", "entries": [QUEUE_ENTRY]}


FAILURE_ENVELOPE = {
    "schema_version": 1,
    "ecosystem": "homebrew",
    "environment": "linux-glibc-x86_64",
    "updated_at": "2026-06-26T20-49-32Z",
    "failures": [
        {
            "package_id": "homebrew:go-task",
            "category": "install_failed",
            "message": "tsuku collects anonymous usage statistics to improve the tool.",
            "timestamp": "2026-06-26T20:47:05.87098022Z",
        }
    ],
}


FAILURE_PLATFORM = {
    "schema_version": 1,
    "recipe": "gh",
    "platform": "linux-alpine-musl-x86_64",
    "exit_code": 6,
    "category": "deterministic",
    "timestamp": "2026-02-07T03:05:28Z",
}


def _manifest_document() -> dict[str, Any]:
    return new_manifest("2026-07-01-001", ["pypi"]).to_json() | {
        "files": [
            {
                "path": "recipes/b/bat.toml",
                "kind": "recipe",
                "action": "modified",
                "before": {
                    "state": "present",
                    "encoding": "text",
                    "content": "x",
                    "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
                    "size": 1,
                },
                "after": {"state": "present", "sha256": "0" * 64, "size": 0},
            }
        ],
        "queue_changes": [{"name": "bat", "before": QUEUE_ENTRY, "after": None}],
    }


# Each parser as "file bytes -> problems", with the name it should put on its problems.
Reader = Callable[[Path, str], list[Problem]]


READERS: dict[str, Reader] = {
    "queue": lambda p, rel: list(read_queue(p, rel=rel).problems),
    "failures": lambda p, rel: read_failure_file(p, rel=rel).problems,
    "metrics": lambda p, rel: read_metrics_file(p, rel=rel).problems,
    "seeding": lambda p, rel: read_seeding_runs(p, rel=rel).problems,
    "audit": lambda p, rel: read_audit_file(p, rel=rel).problems,
    "decisions": lambda p, rel: read_decision_file(p, rel=rel).problems,
    "results": lambda p, rel: read_results_file(p, rel=rel).problems,
    "manifest": lambda p, rel: read_manifest_file(p, rel=rel).problems,
    "batch_summary": lambda p, rel: read_batch_summary(p, rel=rel).problems,
    "dep_mapping": lambda p, rel: read_dep_mapping_file(p, rel=rel).problems,
}


# A real (or real-shaped) file for each parser, as text.
SAMPLES: dict[str, str] = {
    "queue": json.dumps(QUEUE, indent=2),
    "failures": json.dumps(FAILURE_ENVELOPE) + "\n" + json.dumps(FAILURE_PLATFORM) + "\n",
    "metrics": json.dumps(LEGACY_METRICS_RECORD, indent=2)
    + "\n"
    + json.dumps(METRICS_RECORD, indent=2),
    "seeding": json.dumps(SEEDING_RUN) + "\n",
    "audit": json.dumps(AUDIT, indent=2) + "\n",
    "decisions": json.dumps(CURATED_LINE) + "\n",
    "results": json.dumps(RESULT_FAIL | {"environment": "alpine-321"}) + "\n",
    "manifest": json.dumps(_manifest_document(), indent=2),
    "batch_summary": json.dumps(BATCH_RESULTS, indent=2),
    "dep_mapping": json.dumps({"sqlite3": "sqlite", "nghttp2": "libnghttp2"}),
}


# File names the readers check against the content (results: b1/<environment>.jsonl).
FILE_NAMES = {"manifest": "2026-07-01-001.json", "audit": "ab-av1.json"}


def run_reader(kind: str, data: bytes) -> list[Problem]:
    """Feed ``data`` to a parser through a real file; only DataError may escape."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "b1" / FILE_NAMES.get(kind, "alpine-321.jsonl")
        path.parent.mkdir()
        path.write_bytes(data)
        rel = f"data/{kind}-under-test"
        try:
            problems = READERS[kind](path, rel)
        except DataError:
            return []
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.path == rel, problem
        assert problem.severity in ("error", "warning", "normalised")
    return problems


@pytest.mark.parametrize("kind", sorted(READERS))
def test_samples_are_clean(kind: str) -> None:
    assert [p for p in run_reader(kind, SAMPLES[kind].encode()) if p.severity == "error"] == []


@pytest.mark.parametrize("kind", sorted(READERS))
@PROPERTY
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes(kind: str, data: bytes) -> None:
    run_reader(kind, data)


SINGLE_DOCUMENTS = ("queue", "audit", "manifest", "batch_summary", "dep_mapping")


@pytest.mark.parametrize("kind", sorted(READERS))
@PROPERTY
@given(cut=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_truncated_real_files(kind: str, cut: float) -> None:
    text = SAMPLES[kind].encode()
    prefix = text[: int(len(text) * cut)]
    problems = run_reader(kind, prefix)
    stripped = prefix.strip()
    if stripped and stripped != text.strip() and kind in SINGLE_DOCUMENTS:
        # a truncated single JSON document is never valid: the problem says where it broke
        errors = [p for p in problems if p.severity == "error"]
        assert errors and any(p.where for p in errors)


@pytest.mark.parametrize(
    "kind", ["queue", "failures", "metrics", "audit", "decisions", "results", "manifest"]
)
def test_truncated_reference_files(kind: str, reference_dir: Path) -> None:
    """Real files cut at several places: a problem at a line, never an exception."""
    real = {
        "queue": "data/queues/priority-queue.json",
        "failures": "data/failures/batch-2026-02-21T07-27-58Z.jsonl",
        "metrics": "data/metrics/batch-runs.jsonl",
        "audit": "data/disambiguations/audit/ab-av1.json",
        "decisions": "data/disambiguations/curated.jsonl",
    }
    if kind in real:
        path = reference_dir / real[kind]
        if not path.exists():
            path = next((reference_dir / real[kind]).parent.glob("*"))
        data = path.read_bytes()[:200_000]
    else:
        data = SAMPLES[kind].encode()
    for fraction in (0.1, 0.33, 0.5, 0.77, 0.999):
        run_reader(kind, data[: int(len(data) * fraction)])


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


HUGE_VALUES = st.sampled_from(
    [10**4000, -(10**4000), 2**63, -(2**63) - 1, 1e308, -1e308, "x" * 100_000, [0] * 10_000]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def _doc_parsers() -> dict[str, tuple[Any, Callable[[Any], list[Problem]]]]:
    def lines(parse: Callable[[str, str], Any]) -> Callable[[Any], list[Problem]]:
        return lambda doc: parse(json.dumps(doc), "rel").problems

    return {
        "queue": (QUEUE, lambda doc: list(parse_queue(doc, "rel").problems)),
        "audit": (AUDIT, lambda doc: parse_audit(doc, "rel").problems),
        "manifest": (_manifest_document(), lambda doc: parse_manifest(doc, "rel").problems),
        "batch_summary": (BATCH_RESULTS, lambda doc: parse_batch_summary(doc, "rel").problems),
        "metrics": (METRICS_RECORD, lines(parse_metrics_text)),
        "results": (RESULT_PASS, lines(parse_results_text)),
    }


DOC_PARSERS = _doc_parsers()


@pytest.mark.parametrize("kind", sorted(DOC_PARSERS))
@PROPERTY
@given(data=st.data())
def test_wrong_types_are_named(kind: str, data: st.DataObject) -> None:
    document, parse = DOC_PARSERS[kind]
    path = data.draw(st.sampled_from(_paths(document)))
    value = data.draw(JSON_VALUES | HUGE_VALUES)
    broken = _replace(document, path, value)
    try:
        problems = parse(broken)
    except DataError:
        return
    for problem in problems:
        assert problem.path == "rel"
        assert problem.where or problem.severity != "error"


@pytest.mark.parametrize("kind", sorted(DOC_PARSERS))
@pytest.mark.parametrize(
    "value", [10**4000, 1e308, "x" * 100_000, None, [], {}, True, -1], ids=repr
)
def test_every_field_with_odd_values(kind: str, value: Any) -> None:
    document, parse = DOC_PARSERS[kind]
    for path in _paths(document):
        parse(_replace(document, path, value))


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "1" * 5000, "NaN", "1e999", '{"a": Infinity}', "\ufeff{}", "\x00", "{}" * 3],
    ids=["deep", "huge-int", "nan", "inf-float", "infinity", "bom", "nul", "repeated"],
)
def test_hostile_json(kind: str, text: str) -> None:
    run_reader(kind, text.encode("utf-8"))
