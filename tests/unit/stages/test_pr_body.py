"""The batch's pull-request body: counts, every held recipe's reasons, results and whole TOML,
the recipes not merged with their codes; never longer than GitHub accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from automation.stages.merge import MergeReport, RecipeDecision
from automation.stages.pr_body import (
    PR_BODY_LIMIT,
    complete_body_path,
    render_pr_body,
    write_merge_outputs,
    write_pr_body,
)
from automation.stages.pr_body import tested_text as render_tested

TOML = """\
[metadata]
name = "{name}"
description = "A tool with ``` in its description"

[[steps]]
action = "npm_install"
package = "{name}"
executables = ["{name}"]

[verify]
command = "{name} --version"
pattern = "{{version}}"
"""


def held(name: str, *, output: str = "", toml_padding: int = 0) -> RecipeDecision:
    decision = RecipeDecision(name, f"npm:{name}", "held")
    decision.reasons = [
        f"debian-12 failed on linux-debian-glibc-x86_64, admitted by its constraints: local "
        f"passed there (verify_failed/exit_code): '{name} --version' exited 1"
    ]
    decision.platforms = {"local": "pass", "debian-12": "fail"}
    decision.results = [
        {
            "environment": "local",
            "platform": "linux-debian-glibc-x86_64",
            "status": "pass",
            "category": None,
            "subcategory": None,
            "version": "5.4.1",
            "message": f"{name} 5.4.1",
        },
        {
            "environment": "debian-12",
            "platform": "linux-debian-glibc-x86_64",
            "status": "fail",
            "category": "verify_failed",
            "subcategory": "exit_code",
            "version": "5.4.1",
            "message": output or "Error: Cannot find module 'rollup-linux-x64-gnu'",
        },
    ]
    decision.recipe_path = f"recipes/{name[0]}/{name}.toml"
    decision.recipe_text = TOML.format(name=name) + "# padding\n" * toml_padding
    return decision


def failed(name: str) -> RecipeDecision:
    decision = RecipeDecision(name, f"npm:{name}", "failed")
    decision.category, decision.subcategory = "install_failed", "npm_install_failed"
    decision.reasons = ["failed on every platform it ran on: linux/amd64/glibc"]
    return decision


def merged(name: str) -> RecipeDecision:
    decision = RecipeDecision(name, f"npm:{name}", "merged")
    decision.constraints = {"unsupported_platforms": ["linux/amd64/musl"]}
    return decision


def report(*decisions: RecipeDecision) -> dict[str, Any]:
    return MergeReport("2026-11-27-120000-r1-npm", decisions=list(decisions)).to_json()


def test_the_body_carries_counts_held_recipes_and_failures() -> None:
    body = render_pr_body(report(held("vite"), failed("brokentool"), merged("prettier")))
    assert not body.truncated and (body.held_shown, body.held_total) == (1, 1)
    text = body.text
    assert text.startswith("## Batch 2026-11-27-120000-r1-npm\n")
    assert "| merged | held | failed | not validated | blocked | excluded |" in text
    assert "| 1 | 1 | 1 | 0 | 0 | 0 |" in text
    # The held recipe: its reason, one row per environment, its output, and its whole TOML.
    assert "debian-12 failed on linux-debian-glibc-x86\\_64, admitted by its constraints" in text
    assert (
        "| debian-12 | linux-debian-glibc-x86\\_64 | fail | `verify_failed/exit_code` | 5.4.1 |"
        in text
    )
    assert "| local | linux-debian-glibc-x86\\_64 | pass |  | 5.4.1 |" in text
    assert "Cannot find module 'rollup-linux-x64-gnu'" in text
    assert "`recipes/v/vite.toml`, as it would be merged:" in text
    [toml] = re.findall(r"^(`{3,})toml\n(.*?)\n\1$", text, flags=re.S | re.M)
    assert toml[1] + "\n" == TOML.format(name="vite")
    assert len(toml[0]) > 3  # the TOML holds ``` itself: a longer fence keeps it whole
    assert tomllib.loads(toml[1])["metadata"]["name"] == "vite"
    # The failed recipe with its code; the merged one with its constraints.
    assert (
        "| `brokentool` | `npm:brokentool` | failed | `install_failed/npm_install_failed` |" in text
    )
    assert '- `prettier` (`npm:prettier`): `unsupported_platforms = ["linux/amd64/musl"]`' in text


def test_text_from_upstream_cannot_mention_people_or_inject_markup() -> None:
    item = held("vite")
    item.reasons = ["debian-12 failed: @octocat <img src=x> [link](http://x) | cell"]
    text = render_pr_body(report(item)).text
    assert "@octocat" not in text and "<img" not in text
    assert "&#64;octocat &lt;img src=x&gt; \\[link\\](http://x) \\| cell" in text


def test_a_body_without_held_recipes_has_no_held_section() -> None:
    text = render_pr_body(report(merged("prettier"))).text
    assert "Held for review" not in text and "| 1 | 0 | 0 | 0 | 0 | 0 |" in text


def test_an_already_merged_batch_says_so() -> None:
    document = MergeReport("2026-11-27-120000-r1-npm", already_merged=True).to_json()
    assert "already merged" in render_pr_body(document).text


def test_output_excerpts_go_first_when_the_body_is_too_long() -> None:
    items = [held(f"tool{i}", output="x" * 1000 + f" tail{i}") for i in range(4)]
    complete = render_pr_body(report(*items)).complete
    limit = len(complete.encode()) - 1000
    body = render_pr_body(report(*items), limit=limit, complete_name="pr.full.md")
    assert body.truncated and body.complete == complete
    assert len(body.text.encode()) <= limit
    assert (body.held_shown, body.held_total) == (4, 4)
    assert "tail0" not in body.text and "tail0" in complete
    for i in range(4):  # every TOML is still there
        assert TOML.format(name=f"tool{i}").strip() in body.text
    assert "left out the output excerpts" in body.text and "`pr.full.md`" in body.text


def test_a_long_body_is_cut_after_whole_sections_deterministically() -> None:
    items = [held(f"tool{i:03}", toml_padding=300) for i in range(40)] + [failed("brokentool")]
    body = render_pr_body(report(*items), complete_name="pr-body.full.md")
    again = render_pr_body(report(*items), complete_name="pr-body.full.md")
    assert body == again
    assert body.truncated and len(body.text.encode()) <= PR_BODY_LIMIT
    assert len(body.complete.encode()) > PR_BODY_LIMIT
    assert 0 < body.held_shown < body.held_total == 40
    shown = [f"tool{i:03}" for i in range(body.held_shown)]
    assert all(f'name = "{name}"' in body.text for name in shown)
    cut = f"tool{body.held_shown:03}"
    assert f'name = "{cut}"' not in body.text and f'name = "{cut}"' in body.complete
    # The note names what was left out and where the complete body is.
    note = body.text[body.text.index("**Shortened**") :]
    assert f"held recipe `{cut}`" in note and "the list of the recipes not merged" in note
    assert "`pr-body.full.md`" in note
    # Every held recipe shown is shown whole: its fence is closed.
    assert body.text.count("toml\n") == body.held_shown
    # Near the limit, a tighter bound still holds.
    smaller = render_pr_body(report(*items), limit=20_000)
    assert len(smaller.text.encode()) <= 20_000 and smaller.held_shown < body.held_shown


def test_many_left_out_sections_are_counted_when_naming_them_does_not_fit() -> None:
    items = [held(f"tool{i:03}", toml_padding=20) for i in range(200)]
    body = render_pr_body(report(*items), limit=3_000)
    assert len(body.text.encode()) <= 3_000
    assert "held recipe(s) and" in body.text


def test_multibyte_text_is_bounded_in_bytes() -> None:
    items = [held(f"tool{i:03}", output="é" * 1000) for i in range(60)]
    body = render_pr_body(report(*items))
    assert len(body.text.encode("utf-8")) <= PR_BODY_LIMIT


def test_write_pr_body_writes_the_bounded_and_the_complete_body(tmp_path: Path) -> None:
    path = tmp_path / "merge" / "pr-body.md"
    assert complete_body_path(path) == tmp_path / "merge" / "pr-body.full.md"
    items = [held(f"tool{i:03}", toml_padding=300) for i in range(40)]
    body = write_pr_body(report(*items), path)
    assert path.read_text(encoding="utf-8") == body.text
    assert complete_body_path(path).read_text(encoding="utf-8") == body.complete
    assert len(path.read_bytes()) <= PR_BODY_LIMIT < len(complete_body_path(path).read_bytes())
    assert "`pr-body.full.md`" in body.text


def test_an_impossible_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        render_pr_body(report(held("vite")), limit=10)


TESTED = {
    "linux/amd64/glibc": {
        "outcome": "pass",
        "environments": {"debian-12": "pass", "local": "pass"},
        "admitted": True,
    },
    "linux/arm64/glibc": {
        "outcome": "fail",
        "environments": {"debian-12-arm64": "fail"},
        "admitted": False,
    },
    "darwin/arm64": {"outcome": "untested", "environments": {}, "admitted": False},
}


def _report_with_tested(*, held: bool) -> dict[str, Any]:
    report = MergeReport("2026-11-27-120000-pypi")
    merged = RecipeDecision("tool", "pypi:tool", "merged", constraints={"supported_os": ["linux"]})
    merged.tested = dict(TESTED)
    report.decisions = [merged]
    if held:
        other = RecipeDecision("held-tool", "pypi:held-tool", "held", reasons=["a gate said so"])
        other.tested = dict(TESTED)
        other.recipe_text = '[metadata]\nname = "held-tool"\n'
        report.decisions.append(other)
    return report.to_json()


def test_what_was_tested_where_and_auto_merge_are_in_the_body() -> None:
    body = render_pr_body(_report_with_tested(held=True)).text
    assert "**Auto-merge: off.** 1 recipe(s) held for review" in body
    assert "Tested where:" in body
    assert "| `linux/arm64/glibc` | fail | debian-12-arm64: fail | no |" in body
    assert "| `darwin/arm64` | untested | - | no |" in body
    assert "untested: `darwin/arm64` (not admitted)" in body  # the merged recipe's line
    clean = render_pr_body(_report_with_tested(held=False)).text
    assert "**Auto-merge: on.**" in clean


def test_the_workflow_outputs_say_whether_to_auto_merge(tmp_path: Path) -> None:
    output = tmp_path / "github-output"
    write_merge_outputs(_report_with_tested(held=True), output)
    write_merge_outputs(_report_with_tested(held=False), output)
    assert output.read_text().splitlines() == [
        "auto_merge=false",
        "merged=1",
        "held=1",
        "auto_merge=true",
        "merged=1",
        "held=0",
    ]
    text = render_tested(TESTED)
    assert "linux/amd64/glibc: pass (debian-12 pass, local pass), admitted" in text
    assert "darwin/arm64: untested, not admitted" in text
