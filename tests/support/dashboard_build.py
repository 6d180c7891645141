"""Build the dashboard of a registry and read back its ``dashboard.json`` and page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automation.core.errors import ExitCode
from automation.learn.dashboard import build_dashboard
from tests.support.dashboard_registry import (
    NOW,
)


def build_and_read(root: Path, out: Path) -> tuple[dict[str, Any], str]:
    """Build the dashboard of ``root`` into ``out``: its JSON numbers and its page."""
    report = build_dashboard(root, out, now=NOW)
    assert report.exit_code == ExitCode.OK
    data = json.loads((out / "dashboard.json").read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(report.data.to_json()))
    return data, (out / "index.html").read_text(encoding="utf-8")
