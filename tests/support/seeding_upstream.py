"""A fake PyPI + npm upstream with the saved documents seeding tests read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automation.ecosystems.pypi import client as pypi
from tests.support.fake_upstream import FIXTURES, FakeUpstream, sparse_wheel

PYPI_PROJECTS = ("httpie", "black", "ruff", "requests")
NPM_PACKAGES = ("cowsay", "prettier", "lodash", "typescript")


def start_seeding_upstream() -> FakeUpstream:
    """Serve the saved PyPI project documents (with a sparse wheel each, for the Range reads)
    and npm packuments; the caller stops it and checks ``unexpected``."""
    server = FakeUpstream().start()
    for name in PYPI_PROJECTS:
        document = json.loads((FIXTURES / "pypi" / f"{name}.json").read_text())
        server.json(f"/pypi/{name}/json", document)
        info = pypi.parse_project_json(document, base_url=f"{server.base}/pypi/{name}/json")
        assert info.wheel is not None
        path = info.wheel.url.replace("https://files.pythonhosted.org", "/files")
        server.blob(path.replace(server.base, ""), sparse_wheel(info.wheel.filename))
    for name in NPM_PACKAGES:
        server.file(f"/{name}", FIXTURES / "npm" / f"{name}.json")
        server.json(f"/{name}/latest", latest_of(FIXTURES / "npm" / f"{name}.json"))
    server.file("/@angular%2Fcli", FIXTURES / "npm" / "@angular__cli.json")
    server.json("/@angular%2Fcli/latest", latest_of(FIXTURES / "npm" / "@angular__cli.json"))
    return server


def latest_of(packument: Path) -> Any:
    """``/<name>/latest`` as the registry serves it: the packument's ``versions[latest]``."""
    document = json.loads(packument.read_text())
    return document["versions"][document["dist-tags"]["latest"]]
