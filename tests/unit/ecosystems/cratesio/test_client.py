"""crates.io client: version choice from saved crate documents."""

from __future__ import annotations

import json
from typing import Any

from automation.ecosystems.cratesio import client as cratesio
from tests.support.fake_upstream import FIXTURES

CRATES = FIXTURES / "cratesio"


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((CRATES / f"{name}.json").read_text())
    return result


def test_xdg_prefers_the_stable_release() -> None:
    info = cratesio.parse_crate_document(doc("xdg"), url="mem://")
    assert info.version == "2.1.0"  # 3.0.0-pre1 is listed first but is a pre-release


def test_the_crate_document_gives_first_release_and_downloads() -> None:
    info = cratesio.parse_crate_document(doc("xdg"), url="mem://")
    assert info.created_at == "2015-09-20T21:42:28.529732+00:00"
    assert info.downloads == 147014  # crate.downloads: all time
    broken = doc("xdg")
    broken["crate"]["downloads"] = True
    assert cratesio.parse_crate_document(broken, url="mem://").downloads is None
