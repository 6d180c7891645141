"""JSON Schema (2020-12) validation of every data file, reporting each error with its path."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from automation.core.layout import SCHEMAS_DIR
from automation.core.report import Problem, Severity


@functools.cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((path.name, Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@functools.cache
def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """The validator for ``schemas/<schema_name>.schema.json`` (cached)."""
    path = SCHEMAS_DIR / f"{schema_name}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema,
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def json_path(parts: Any) -> str:
    """``entries[3].status`` from a jsonschema error path."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def check(
    instance: Any,
    schema_name: str,
    *,
    path: str,
    where_prefix: str = "",
    severity: Severity = "error",
) -> list[Problem]:
    """Validate ``instance``; one Problem per schema violation, sorted by location."""
    problems = []
    seen: set[str] = set()
    for error in validator(schema_name).iter_errors(instance):
        where = json_path(error.absolute_path)
        if where in seen:  # one message per place is enough to act on
            continue
        seen.add(where)
        if where_prefix:
            where = f"{where_prefix} {where}" if where != "(top level)" else where_prefix
        problems.append(Problem(path, where, error.message[:500], severity))
    return sorted(problems)


def is_valid(instance: Any, schema_name: str) -> bool:
    return bool(validator(schema_name).is_valid(instance))


def schema_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".schema.json") for p in Path(SCHEMAS_DIR).glob("*.schema.json")
    )
