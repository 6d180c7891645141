"""The dependency mapping file: backed by the reference recipes, problems name the key."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from automation.core.layout import REPOSITORY_ROOT
from automation.registry.depmapping import read_dep_mapping_file


def test_dep_mapping_is_backed_by_reference_satisfies(reference_dir: Path) -> None:
    scan = read_dep_mapping_file(REPOSITORY_ROOT / "data/dep-mapping.json")
    assert scan.problems == [] and scan.mapping
    for formula, recipe in scan.mapping.items():
        path = reference_dir / "recipes" / recipe[0] / f"{recipe}.toml"
        metadata = tomllib.loads(path.read_text())["metadata"]
        assert formula in metadata["satisfies"]["homebrew"], (formula, recipe)


def test_dep_mapping_problems_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "dep-mapping.json"
    path.write_text(json.dumps({"a": "a", "b": "c", "c": "d"}))
    scan = read_dep_mapping_file(path, rel="dep-mapping.json")
    assert sorted((p.where, p.severity) for p in scan.problems) == [
        ("a", "warning"),
        ("b", "warning"),
    ]
    assert read_dep_mapping_file(tmp_path / "absent.json").mapping == {}
