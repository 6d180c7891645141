"""PyPI's builder: missing_extra when the main command needs an extra; other such commands go."""

from __future__ import annotations

import tomllib

from automation.ecosystems.pypi.builder import MISSING_EXTRA, PypiUpstream, build_pypi
from automation.ecosystems.pypi.extras import ExtraNeed
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe, UpstreamPackage


def upstream(
    identifier: str, executables: tuple[str, ...], needs: dict[str, ExtraNeed], **more: str
) -> PypiUpstream:
    return PypiUpstream(
        ecosystem="pypi",
        identifier=identifier,
        version="1.0",
        description="a tool",
        homepage_candidates=(),
        executables=executables,
        fallback_homepage=f"https://pypi.org/project/{identifier}/",
        script_extras=needs,
        **more,
    )


CLI = ExtraNeed(("cli",), "httpx/_main.py imports click, which only the extra installs")


def test_the_main_command_needing_an_extra_fails_with_missing_extra() -> None:
    failure = build_pypi("httpx", upstream("httpx", ("httpx",), {"httpx": CLI}))
    assert isinstance(failure, BuildFailure)
    assert (failure.category, failure.subcategory) == ("generation_failed", MISSING_EXTRA)
    assert failure.version == "1.0"
    assert failure.message == (
        "pypi:httpx 1.0: its command 'httpx' needs the optional extra cli "
        "(pip install 'httpx[cli]'): httpx/_main.py imports click, which only the extra "
        "installs; tsuku's pipx_install installs the bare project"
    )


def test_the_main_command_is_the_one_a_recipe_verifies() -> None:
    """python-dotenv's only command is dotenv: that is the one verified, so it decides."""
    failure = build_pypi("python-dotenv", upstream("python-dotenv", ("dotenv",), {"dotenv": CLI}))
    assert isinstance(failure, BuildFailure) and failure.subcategory == MISSING_EXTRA
    assert "pip install 'python-dotenv[cli]'" in failure.message


def test_an_extra_this_kit_cannot_name_still_fails() -> None:
    need = ExtraNeed((), "its entry point declares [gui], which the metadata does not provide")
    failure = build_pypi("tool", upstream("tool", ("tool",), {"tool": need}))
    assert isinstance(failure, BuildFailure) and failure.subcategory == MISSING_EXTRA
    assert "cannot name (its entry point declares [gui]" in failure.message


def test_other_commands_needing_an_extra_are_left_out() -> None:
    need = ExtraNeed(("d",), "its entry point declares [d]")
    built = build_pypi("black", upstream("black", ("black", "blackd"), {"blackd": need}))
    assert isinstance(built, BuiltRecipe)
    assert built.executables == ("black",)
    step = tomllib.loads(built.text)["steps"][0]
    assert step == {"action": "pipx_install", "package": "black", "executables": ["black"]}


def test_without_needs_the_shared_builder_decides() -> None:
    plain = UpstreamPackage("pypi", "tool", "1.0", "", (), ("tool",), "https://pypi.org/p/tool/")
    built = build_pypi("tool", plain)
    assert isinstance(built, BuiltRecipe) and built.executables == ("tool",)


def test_earlier_failures_win_over_missing_extra() -> None:
    conflict = upstream(
        "httpx", ("httpx",), {"httpx": CLI}, runtime_conflict="no release admits Python 3.13.5"
    )
    failure = build_pypi("httpx", conflict)
    assert isinstance(failure, BuildFailure) and failure.subcategory == "runtime_unsatisfiable"
    unsafe = build_pypi("../httpx", upstream("httpx", ("httpx",), {"httpx": CLI}))
    assert isinstance(unsafe, BuildFailure) and unsafe.subcategory == "unsafe_name"
