"""The dependency mapping (``data/dep-mapping.json``): Homebrew dependency name -> recipe name.

Only names that differ are listed (``"sqlite3": "sqlite"``); a dependency that is not listed
resolves to the recipe of the same name. ``$``-prefixed keys (``$schema``, ``$comment``) are notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from automation.core import schemas
from automation.core.errors import DataError
from automation.core.jsondata import loads, read_text
from automation.core.layout import RegistryLayout
from automation.core.report import Problem

DEP_MAPPING_FILE = Path("data") / "dep-mapping.json"


@dataclass
class DepMappingScan:
    mapping: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def read_dep_mapping_file(path: Path, *, rel: str | None = None) -> DepMappingScan:
    """Read and validate a dep-mapping file; a missing file is an empty mapping."""
    rel = rel or str(path)
    if not path.exists():
        return DepMappingScan()
    text, problem = read_text(path, rel)
    if text is None:
        return DepMappingScan(problems=[problem] if problem else [])
    document, problem = loads(text, rel)
    if problem is not None:
        return DepMappingScan(problems=[problem])
    problems = schemas.check(document, "dep-mapping", path=rel)
    if problems:
        return DepMappingScan(problems=problems)
    scan = DepMappingScan({k: v for k, v in document.items() if not k.startswith("$")})
    for key, value in scan.mapping.items():
        if key == value:
            scan.problems.append(Problem(rel, key, "maps a name to itself (redundant)", "warning"))
        elif value in scan.mapping:
            scan.problems.append(
                Problem(
                    rel,
                    key,
                    f"maps to {value!r}, which is itself mapped (chains are not followed)",
                    "warning",
                )
            )
    return scan


def load_dep_mapping(layout: RegistryLayout) -> dict[str, str]:
    """The registry's dependency mapping for a task that uses it; errors raise DataError."""
    path = layout.root / DEP_MAPPING_FILE
    scan = read_dep_mapping_file(path, rel=str(DEP_MAPPING_FILE))
    errors = [p for p in scan.problems if p.severity == "error"]
    if errors:
        raise DataError(errors[0].message, path=errors[0].path, where=errors[0].where)
    return scan.mapping
