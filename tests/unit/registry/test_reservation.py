"""Abandoning a batch whose merge was killed mid-apply frees its entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from automation.registry.reservation import abandon_batch, abandoned_dir, manifest_status
from automation.registry.staging import Staging
from tests.support.interrupted_merge import (
    BATCH,
    checkdata_errors,
    entries_are_free_again,
    merge_killed_mid_apply,
    pristine_data,
    validated_registry,
)


@pytest.fixture
def validated(tmp_path: Path) -> RegistryLayout:
    return validated_registry(tmp_path)


def test_abandon_of_a_merge_killed_mid_apply(validated: RegistryLayout) -> None:
    pristine = pristine_data(validated)
    merge_killed_mid_apply(validated, at_write=2)
    announced: list[str] = []
    report = abandon_batch(validated, BATCH, reason="killed", announce=announced.append)
    assert len(report.restored) == 1 and report.restored[0] in announced[0]
    assert pristine_data(validated) == pristine
    assert abandoned_dir(validated, BATCH).is_dir() and not Staging(validated, BATCH).dir.exists()
    assert manifest_status(validated, BATCH) == "rolled_back"
    assert checkdata_errors(validated) == []
    entries_are_free_again(validated)
