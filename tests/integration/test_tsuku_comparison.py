"""On this machine, the kit's installer and a real tsuku binary give every compared recipe the
same verdict (status, and the category of a failure).

Needs ``TSUKU_BIN`` (skips with the reason without it) and the live registries (``network``):
the smoke recipes install a real PyPI and npm tool, the other two name a package that exists in
neither registry. The recipes the kit cannot run on this machine are skipped by both.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from automation.stages.validate_local import LocalValidator, TsukuValidator
from tests.support.tsuku_comparison import compared_recipes, real_tsuku, verdict

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_local_validation_verdicts_agree(tmp_path: Path) -> None:
    tsuku = TsukuValidator(real_tsuku())
    kit = LocalValidator()
    differences = {}
    for path in compared_recipes(tmp_path / "recipes"):
        text = path.read_text(encoding="utf-8")
        recipe = tomllib.loads(text)
        by_kit = kit.validate(recipe, text)
        by_tsuku = tsuku.validate(recipe, text)
        if by_kit.status == "skipped":  # an action the kit does not run here: nothing to compare
            continue
        pair = (
            verdict(by_kit.status, by_kit.category),
            verdict(by_tsuku.status, by_tsuku.category),
        )
        if pair[0] != pair[1]:
            differences[path.stem] = (pair, by_kit.message[-400:], by_tsuku.message[-400:])
    assert differences == {}
