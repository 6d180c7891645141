"""The registry the merge and rollback tests start from."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from tests.support.interrupted_merge import validated_registry


@pytest.fixture
def validated(tmp_path: Path) -> RegistryLayout:
    """A registry whose batch is generated and validated, not merged."""
    return validated_registry(tmp_path)
