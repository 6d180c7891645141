"""GitHub client: a hostile release tag is refused."""

from __future__ import annotations

import pytest

from automation.ecosystems.github import client as source
from automation.stages.generate import classify_fetch_error


def test_hostile_tag_is_refused() -> None:
    for tag in ('v1"\n', "../v1", "", "x" * 500):
        with pytest.raises(Exception) as caught:
            source.parse_release({"tag_name": tag, "assets": []})
        assert classify_fetch_error(caught.value) == ("generation_failed", "bad_response")
