"""The benchmark's synthetic registry is deterministic (seeded) and valid for the kit."""

from __future__ import annotations

import hashlib
from pathlib import Path

from automation.core.layout import RegistryLayout
from automation.ops.checkdata import check_data
from bench import synth


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _small(root: Path) -> Path:
    synth.write_queue(root / "data" / "queues" / "priority-queue.json", 500)
    synth.write_failures(root / "data" / "failures", 5000, 500)
    synth.write_recipes(root / "recipes", 50)
    return root


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    assert _digest(_small(tmp_path / "a")) == _digest(_small(tmp_path / "b"))


def test_the_synthetic_registry_passes_the_kits_own_checks(tmp_path: Path) -> None:
    report = check_data(RegistryLayout.at(_small(tmp_path / "reg")))
    errors = [(kind, p) for kind, p in report.problems if p.severity == "error"]
    assert errors == []
    assert report.files_seen == report.files_accounted
    assert report.kinds["failures"].counts["records"] == 5000
