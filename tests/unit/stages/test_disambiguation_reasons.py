"""Every ``selection_reason`` the code writes is a known reason: in ``SELECTION_REASONS`` and in
the audit schema's enum (which the batch envelope schema shares)."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

from automation.core.layout import REPOSITORY_ROOT, SCHEMAS_DIR, RegistryLayout
from automation.registry.disambiguations import SELECTION_REASONS, read_audit_file
from automation.registry.failure_codes import string_constants
from automation.stages import disambiguate
from automation.stages.disambiguate import Probe, decide, record_decision

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


def test_selection_reasons_and_the_schema_agree() -> None:
    assert len(SELECTION_REASONS) == len(set(SELECTION_REASONS))
    assert set(SELECTION_REASONS) == schema_enum()
    # the reference's four stay (its audit files use them)
    assert {"single_match", "10x_popularity_gap", "priority_fallback", "curated"} <= set(
        SELECTION_REASONS
    )


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
