"""The shared part of seeding's tool rule: naming, wording and the sum of signals."""

from __future__ import annotations

from automation.ecosystems.toolness import (
    LIBRARY_SCRIPT,
    TOOL_THRESHOLD,
    Signal,
    judge,
    main_named_like,
    named_like,
    wording_signals,
)


def test_named_like_ignores_case_scope_and_separators() -> None:
    assert named_like("pre_commit", ["pre-commit"])
    assert named_like("ng", ["@angular/ng"])
    assert not named_like("pyrsa-decrypt", ["rsa"])


def test_main_executable_is_the_one_a_recipe_verifies_with() -> None:
    assert main_named_like("httpie", "httpie", ("http", "httpie", "https"))
    assert not main_named_like("cffi", "cffi", ("cffi-gen-src",))
    assert main_named_like("@vue/cli", "vue-cli", ("vue-cli",))


def test_wording_reads_cli_tool_and_library_words() -> None:
    assert [s.name for s in wording_signals("A command-line HTTP client", "summary")] == [
        "summary:command-line"
    ]
    assert [s.weight for s in wording_signals("The uncompromising code formatter", "s")] == [2]
    assert wording_signals("Pure-Python RSA implementation", "summary") == [
        Signal("summary:implementation", -1)
    ]
    # "tools" is not "tool"; a library word next to a tool word does not count against it
    assert wording_signals("Utility tools", "s") == []
    assert [s.weight for s in wording_signals("a CLI and library", "s")] == [2]


def test_judge_sums_once_per_signal_and_explains() -> None:
    verdict = judge(
        "ruff",
        "ruff",
        ("ruff",),
        [Signal("a", 1), Signal("a", 1), Signal("b", -1)],
        named_weight=2,
    )
    assert verdict.score == 2 == TOOL_THRESHOLD and verdict.is_tool and verdict.outcome == "tool"
    assert verdict.explain() == "score 2 (tool at 2): executable_named_like_package+2, a+1, b-1"
    library = judge("numpy", "numpy", ("f2py", "numpy-config"), [], named_weight=2)
    assert library.outcome == LIBRARY_SCRIPT and library.main_executable == "numpy-config"
