"""The dashboard as a browser renders it: headless Chromium loads index.html from disk.

Skips cleanly without Chromium (Debian package ``chromium``; ``CHROMIUM`` names another binary).
Screenshots are kept in ``artifacts/`` (gitignored) for people to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from automation.learn.dashboard import build_dashboard
from tests.support.dashboard_registry import EXPECTED, NOW, build_registry, page_metrics, shown_int

pytestmark = pytest.mark.slow

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPOSITORY_ROOT / "artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return str(shutil.which(name))
    pytest.skip("no headless Chromium (apt-get install chromium, or set CHROMIUM)")


def _browse(tmp_path: Path, page: Path, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    done = subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _dom_and_screenshot(tmp_path: Path, out: Path, name: str) -> dict[str, tuple[str, str]]:
    dom = _browse(tmp_path, out / "index.html", "--dump-dom")
    assert "Registry pipeline dashboard" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    _browse(tmp_path, out / "index.html", f"--screenshot={shot}", "--window-size=1400,4200")
    assert shot.stat().st_size > 10_000
    return page_metrics(dom)


def test_synthetic_registry_in_chromium(tmp_path: Path) -> None:
    build_registry(tmp_path / "reg")
    out = tmp_path / "site"
    build_dashboard(tmp_path / "reg", out, now=NOW)
    shown = _dom_and_screenshot(tmp_path, out, "dashboard-synthetic.png")
    data = json.loads((out / "dashboard.json").read_text(encoding="utf-8"))
    assert shown_int(shown["queue.total"][1]) == EXPECTED["queue.total"]
    for status, n in EXPECTED["queue.by_status"].items():
        assert shown_int(shown[f"queue.by_status.{status}"][1]) == n
    for category, n in EXPECTED["failures.by_category"].items():
        assert shown_int(shown[f"failures.by_category.{category}"][1]) == n
    for eco, want in EXPECTED["funnel"].items():
        assert shown_int(shown[f"funnel.{eco}.seeded"][1]) == want["seeded"]
        assert shown_int(shown[f"funnel.{eco}.merged"][1]) == want["merged"]
    assert (
        sorted(
            k.removeprefix("control.breaker.")
            for k, v in shown.items()
            if k.startswith("control.breaker.") and v[1] == "open"
        )
        == EXPECTED["open_breakers"]
    )
    assert shown_int(shown["sli.alert_count"][1]) == len(data["sli"]["alerts"]) == 1


def test_reference_registry_in_chromium(reference_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_dashboard(reference_dir, out, at="2026-06-26T21:00:00Z")
    shown = _dom_and_screenshot(tmp_path, out, "dashboard.png")
    data = json.loads((out / "dashboard.json").read_text(encoding="utf-8"))
    assert shown_int(shown["queue.total"][1]) == 5305
    assert shown_int(shown["queue.by_status.pending"][1]) == 3903
    assert shown_int(shown["queue.by_status.success"][1]) == 1374
    assert shown_int(shown["runs.records"][1]) == 1710
    assert shown_int(shown["runs.empty"][1]) == 1631
    assert shown_int(shown["control.open_breaker_count"][1]) == 6
    open_shown = {
        k.removeprefix("control.breaker.")
        for k, v in shown.items()
        if k.startswith("control.breaker.") and v[1] == "open"
    }
    assert open_shown == {"crates.io", "github", "homebrew", "npm", "pypi", "rubygems"}
    for category, n in data["failures"]["by_category"].items():
        assert shown_int(shown[f"failures.by_category.{category}"][1]) == n
    assert shown["runs.last_successful_run"][1] == "2026-05-07T14:08:53Z"


def test_this_repositorys_registry_in_chromium(tmp_path: Path) -> None:
    """The registry this repository grows (recipes/, data/): the page shows its recipe count,
    its queue and each ecosystem's merged count as its files hold them. Read-only: the page is
    written to a temporary folder."""
    from automation.core.layout import RegistryLayout
    from automation.registry.queue import load_queue

    layout = RegistryLayout.at(REPOSITORY_ROOT)
    recipes = list(layout.recipe_files())
    if not recipes:
        pytest.skip("this checkout's registry has no recipes yet")
    before = {p: p.stat().st_mtime_ns for p in (REPOSITORY_ROOT / "data").rglob("*")}
    out = tmp_path / "site"
    build_dashboard(REPOSITORY_ROOT, out)
    shown = _dom_and_screenshot(tmp_path, out, "dashboard-this-registry.png")
    assert shown_int(shown["recipes"][1]) == len(recipes)
    queue = load_queue(layout.queue)
    assert shown_int(shown["queue.total"][1]) == len(queue.entries)
    merged = sum(1 for e in queue.entries if e.status == "success")
    assert shown_int(shown["queue.by_status.success"][1]) == merged
    ecosystems = {e.source.split(":", 1)[0] for e in queue.entries if e.status == "success"}
    assert ecosystems
    assert sum(shown_int(shown[f"funnel.{eco}.merged"][1]) for eco in ecosystems) == merged
    assert {p: p.stat().st_mtime_ns for p in (REPOSITORY_ROOT / "data").rglob("*")} == before
