"""The failure-code table: complete for the source, current as a document, used by merge."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from automation.registry import failure_codes as fc
from automation.registry.failures import CATEGORIES

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "automation"


def test_document_is_generated_from_the_table() -> None:
    text = (REPO / "docs" / "FAILURE-CODES.md").read_text(encoding="utf-8")
    assert text == fc.render_markdown(), "regenerate docs/FAILURE-CODES.md (render_markdown)"


def test_rows_are_canonical_unique_and_complete() -> None:
    keys = [(c.category, c.subcategory) for c in fc.codes()]
    assert len(keys) == len(set(keys))
    assert {c.category for c in fc.codes()} == set(CATEGORIES)
    for code in fc.codes():
        assert code.transition in fc.TRANSITIONS and code.transition != fc.NO_TRANSITION
        assert code.meaning and code.emitters
        assert code.raw_category in (None, *fc.RAW_CATEGORIES)
    for note in fc.notes():
        assert note.category == "" and note.transition == fc.NO_TRANSITION


def test_every_subcategory_in_the_source_is_in_the_table() -> None:
    found = fc.scan_source(PACKAGE)
    # The scan really sees the known emitters (a broken scanner would pass vacuously).
    seen = {(e.path, e.subcategory) for e in found}
    for expected in [
        ("automation/stages/generate.py", "upstream_unavailable"),
        ("automation/ecosystems/packaged.py", "no_executables"),
        ("automation/stages/validate_local.py", "package_manager_error"),
        ("automation/stages/validate_local.py", "nonzero_exit"),
        ("automation/containers/installer.py", "dns_error"),
        ("automation/containers/installer.py", "pattern_mismatch"),
        ("automation/containers/installer.py", "exit_<*>"),
        ("automation/containers/validate.py", "no_result"),
    ]:
        assert expected in seen, expected
    assert fc.unlisted(found) == []


def test_fallbacks_are_only_fallbacks() -> None:
    fallbacks = [c for c in fc.codes() if c.fallback]
    assert {c.subcategory for c in fallbacks} == {"unclassified", "unexpected_<exception>"}
    assert not fc.is_specific("install_failed", "unclassified")
    assert not fc.is_specific("generation_failed", "unexpected_keyerror")
    assert fc.is_specific("generation_failed", "no_executables")
    # Where the scan finds "unclassified" as a subcategory, it only ever stands after `or` (a
    # default); an "unexpected_" code is only ever built by an f-string (the table default).
    found = fc.scan_source(PACKAGE)
    sites = {(e.path, e.line) for e in found if e.subcategory == "unclassified"}
    assert sites
    for rel, line in sorted(sites):
        tree = ast.parse((REPO / rel).read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        hits = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and n.value == "unclassified" and n.lineno == line
        ]
        for node in hits:
            parent = parents[node]
            assert isinstance(parent, ast.BoolOp) and parent.values[-1] is node, (
                f"{rel}:{line}: 'unclassified' used as a code, not a fallback"
            )
    assert not [
        e for e in found if e.subcategory.startswith("unexpected_") and "<" not in e.subcategory
    ]


@pytest.mark.parametrize(
    ("category", "subcategory", "blocked_by", "status"),
    [
        ("generation_failed", "no_executables", (), "excluded"),
        ("recipe_not_found", "not_found", (), "excluded"),
        ("generation_failed", "not_found", (), "excluded"),  # any category, as merge did
        ("generation_failed", "library_only", (), "excluded"),
        ("missing_dep", "missing_dependency", ("openssl",), "blocked"),
        ("generation_failed", "no_executables", ("x",), "blocked"),  # waiting wins
        ("missing_dep", "missing_dependency", (), "failed"),  # nothing to wait for
        ("network_error", "rate_limited", (), "failed"),
        ("generation_failed", "unexpected_keyerror", (), "failed"),
        ("generation_failed", "builder_error", (), "failed"),
        ("generation_failed", "llm_only_source", (), "requires_manual"),
        ("somewhere_new", "never_seen", (), "failed"),
    ],
)
def test_queue_transition(
    category: str, subcategory: str, blocked_by: tuple[str, ...], status: str
) -> None:
    assert fc.queue_status(fc.queue_transition(category, subcategory, blocked_by)) == status


def test_former_merge_structural_set_still_excludes() -> None:
    former = {
        "no_executables", "library_only", "not_found", "unsafe_name", "unsupported_ecosystem",
        "tap_name", "no_bottles", "disabled", "package_not_found",
    }  # fmt: skip
    for sub in former:
        for category in CATEGORIES:
            assert fc.queue_transition(category, sub, ()) == fc.EXCLUDED, (category, sub)


def test_transient_and_canonical() -> None:
    assert fc.is_transient("network_error", "connection_error")
    assert fc.is_transient("network_error", "http_503")
    assert not fc.is_transient("network_error", "tls_error")
    assert not fc.is_transient("install_failed", "http_404")
    assert fc.is_transient("network_error", "something_new")  # network trouble by default
    assert not fc.is_transient("install_failed", "package_manager_error")
    assert fc.canonical("timeout", "install") == ("install_failed", "install")
    assert fc.canonical("timeout", "verify") == ("verify_failed", "verify")
    # A tool missing from the environment is an environment gap, not the package's dependency.
    assert fc.canonical("missing_runtime", "zstd") == ("environment_gap", "zstd")
    assert fc.lookup("network_error", "http_503") is not None
    assert fc.lookup("network_error", "http_") is None


def test_environment_gaps_are_their_own_code_and_never_fail_the_entry() -> None:
    """A missing toolchain or image is recorded under environment_gap, leaves the queue entry
    pending, and reads back from the line's message (what the environment lacked)."""
    for sub in ("missing_toolchain", "image_missing"):
        row = fc.lookup("environment_gap", sub)
        assert row is not None and not row.transient
        assert fc.queue_status(row.transition) == "pending"
    assert "environment_gap" in CATEGORIES
    assert fc.is_environment_gap("skipped", "missing_toolchain")
    assert not fc.is_environment_gap("fail", "missing_toolchain")
    assert not fc.is_environment_gap("skipped", "unsupported_platform")
    message = fc.gap_message("cargo", "cargo_install needs cargo, which is not installed")
    assert message == "environment lacks cargo: cargo_install needs cargo, which is not installed"
    assert fc.gap_subject(message + "\nmore output") == "cargo"
    assert fc.gap_subject("localhost/x/debian-12:latest is gone") is None
    assert fc.gap_subject(fc.gap_message("localhost/x/debian-12:latest", "")) == (
        "localhost/x/debian-12:latest"
    )


@pytest.mark.parametrize(
    ("status", "category", "subcategory", "package_level"),
    [
        ("fail", "install_failed", "build_failed", True),
        ("fail", "install_failed", "package_manager_error", True),
        ("fail", "verify_failed", "nonzero_exit", True),
        ("fail", "verify_failed", "missing_executable", True),
        ("fail", "recipe_not_found", "package_not_found", True),
        ("fail", "install_failed", "runtime_version", True),
        # The network, a loaded machine or this machine's gaps say nothing of the package.
        ("fail", "network_error", "transient_network", False),
        ("fail", "network_error", "tls_error", False),
        ("fail", "install_failed", "timeout", False),
        ("fail", "verify_failed", "timeout", False),
        ("fail", "install_failed", "container_exec", False),  # transient by its row
        ("skipped", None, "missing_toolchain", False),
        ("skipped", None, "unsupported_action", False),
        ("pass", None, None, False),
    ],
)
def test_package_level_failures(
    status: str, category: str | None, subcategory: str | None, package_level: bool
) -> None:
    assert fc.is_package_failure(status, category, subcategory) is package_level


@pytest.mark.parametrize(
    ("status", "category", "subcategory", "spares"),
    [
        ("fail", "install_failed", "package_manager_error", True),  # the package's fault
        ("fail", "verify_failed", "nonzero_exit", True),
        # Not the package's fault, but the containers' longer limit would run out the same way
        ("fail", "install_failed", "timeout", True),
        ("fail", "verify_failed", "timeout", True),
        # The network or this machine may be what failed: the containers try it
        ("fail", "network_error", "transient_network", False),
        ("fail", "install_failed", "container_exec", False),
        ("skipped", None, "missing_toolchain", False),
        ("pass", None, None, False),
    ],
)
def test_a_local_timeout_spares_the_containers_a_network_failure_does_not(
    status: str, category: str | None, subcategory: str | None, spares: bool
) -> None:
    assert fc.spares_the_containers(status, category, subcategory) is spares


def test_a_line_not_tried_after_a_local_failure_is_a_note_not_a_failure() -> None:
    row = fc.lookup("", fc.FAILED_LOCALLY)
    assert row is not None and row.transition == fc.NO_TRANSITION
    assert "automation/containers/validate.py" in row.emitters
    assert not fc.is_environment_gap("skipped", fc.FAILED_LOCALLY)
