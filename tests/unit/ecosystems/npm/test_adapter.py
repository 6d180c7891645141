"""npm adapter: a latest version whose engines.node excludes tsuku's Node.js is not built."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from automation.core.http import HttpClient
from automation.ecosystems.npm import FACTS
from automation.ecosystems.npm.adapter import ADAPTER
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from tests.support.fake_upstream import FIXTURES, FakeUpstream


def cowsay(engines: Any) -> dict[str, Any]:
    """The saved cowsay packument (engines {"node": ">= 4"}) with ``engines`` replaced."""
    document: dict[str, Any] = json.loads((FIXTURES / "npm" / "cowsay.json").read_text())
    document = copy.deepcopy(document)
    document["versions"][document["dist-tags"]["latest"]]["engines"] = engines
    return document


def test_the_saved_engines_admit_node_26(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.json("/cowsay", json.loads((FIXTURES / "npm" / "cowsay.json").read_text()))
    built = ADAPTER.build("cowsay", ADAPTER.fetch(http, "cowsay"))
    assert isinstance(built, BuiltRecipe) and built.executables == ("cowsay", "cowthink")


def test_engines_excluding_the_node_tsuku_installs(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    upstream.json("/cowsay", cowsay({"node": "^20 || ^22 || ^24"}))
    package = ADAPTER.fetch(http, "cowsay")
    failure = ADAPTER.build("cowsay", package)
    assert isinstance(failure, BuildFailure)
    assert (failure.category, failure.subcategory) == ("generation_failed", "runtime_unsatisfiable")
    assert FACTS.runtime is not None
    assert failure.message == (
        f"npm:cowsay: engines.node '^20 || ^22 || ^24' excludes Node.js {FACTS.runtime.version}, "
        f"the Node.js tsuku installs ({FACTS.runtime.pinned_by})"
    )
    assert failure.version == "1.6.0"


@pytest.mark.parametrize(
    "engines", [{"node": "node >= 18"}, {"node": ">= 18 && < 20"}, ["node >= 0.4"], {}, None]
)
def test_engines_npm_cannot_read_do_not_stop_the_build(
    upstream: FakeUpstream, http: HttpClient, engines: Any
) -> None:
    upstream.json("/cowsay", cowsay(engines))
    built = ADAPTER.build("cowsay", ADAPTER.fetch(http, "cowsay"))
    assert isinstance(built, BuiltRecipe)
