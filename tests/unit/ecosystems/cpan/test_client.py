"""MetaCPAN client: the real search response shape is parsed."""

from __future__ import annotations

import json
from typing import Any

from automation.ecosystems.cpan import client as metacpan
from tests.support.fake_upstream import FIXTURES

CPAN = FIXTURES / "metacpan"


def doc(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((CPAN / f"{name}.json").read_text())
    return result


def test_real_search_response_shape_is_parsed() -> None:
    # The saved Plack search matched modules, not scripts: its hits have no bin/ paths.
    names, rejected = metacpan.parse_scripts(doc("file-_search-Plack"), url="mem://")
    assert (names, rejected) == ((), ())
