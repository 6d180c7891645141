"""Live, end to end: well-known CLIs from PyPI and npm go through generate -> validate -> merge.

Marked `network`: they reach the real registries (our machines reach PyPI and npm) and install
each tool into a throwaway prefix, run it, and check it printed its version.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.stages.merge import merge_batch
from automation.stages.pipeline import run_generate
from automation.stages.validate import validate_batch_locally

pytestmark = [pytest.mark.network, pytest.mark.slow]

TOOLS = {
    "pypi": ["cowsay", "pyflakes", "pycodestyle", "isort", "black"],
    "npm": ["cowsay", "prettier", "typescript", "http-server", "json"],
}


@pytest.mark.parametrize("ecosystem", sorted(TOOLS))
def test_five_well_known_clis_land(ecosystem: str, tmp_path: Path) -> None:
    if ecosystem == "npm" and not shutil.which("npm"):
        pytest.skip("npm is not installed")
    layout = RegistryLayout.at(tmp_path)
    entries = [
        QueueEntry(name, f"{ecosystem}:{name}", 1, "pending", "curated", None, 0, None)
        for name in TOOLS[ecosystem]
    ]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries))

    generated = run_generate(layout, ecosystem, batch_size=10)
    assert generated.counts["generated"] == 5, generated.to_text()
    validated = validate_batch_locally(layout, generated.batch_id)
    assert validated.counts["pass"] == 5, validated.to_text()
    # Every tool printed its own version: the pattern came from real output.
    assert all(line.version for line in validated.lines)
    merged = merge_batch(layout, generated.batch_id)
    assert merged.counts["merged"] == 5, merged.to_text()

    for name in TOOLS[ecosystem]:
        recipe = tomllib.loads(layout.recipe_path(name).read_text())
        step = recipe["steps"][0]
        assert step["package"] == name
        assert recipe["metadata"]["homepage"].startswith("https://")
        assert "{version}" in recipe["verify"]["pattern"], (name, recipe["verify"])
    assert {e.status for e in load_queue(layout.queue).entries} == {"success"}
