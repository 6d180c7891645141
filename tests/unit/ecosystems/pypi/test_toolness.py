"""PyPI's tool signals on saved project documents (``tests/fixtures/pypi/info``)."""

from __future__ import annotations

import json

import pytest

from automation.ecosystems.pypi.toolness import classifier_signals, pypi_verdict
from tests.support.fake_upstream import FIXTURES

# name -> the executables seeding's look-up read from its newest wheel (live, 2026-12-05)
SCRIPTS = {
    "ruff": ("ruff",),
    "httpie": ("http", "httpie", "https"),
    "black": ("black", "blackd"),
    "awscli": ("aws",),
    "pip": ("pip", "pip3"),
    "coverage": ("coverage", "coverage3"),
    "numpy": ("f2py", "numpy-config"),
    "cffi": ("cffi-gen-src",),
    "rsa": (
        "pyrsa-decrypt",
        "pyrsa-encrypt",
        "pyrsa-keygen",
        "pyrsa-priv2pub",
        "pyrsa-sign",
        "pyrsa-verify",
    ),
    "websocket-client": ("wsdump",),
}
TOOLS = ("ruff", "httpie", "black", "awscli", "pip", "coverage")
LIBRARIES = ("numpy", "cffi", "rsa", "websocket-client")


def verdict_for(name: str):  # type: ignore[no-untyped-def]
    info = json.loads((FIXTURES / "pypi" / "info" / f"{name}.json").read_text())["info"]
    return pypi_verdict(
        name,
        name,
        SCRIPTS[name],
        classifiers=info["classifiers"],
        keywords=info["keywords"] or "",
        summary=info["summary"],
    )


@pytest.mark.parametrize("name", TOOLS)
def test_tools_people_install_are_tools(name: str) -> None:
    assert verdict_for(name).is_tool, verdict_for(name).explain()


@pytest.mark.parametrize("name", LIBRARIES)
def test_libraries_with_a_side_command_are_not(name: str) -> None:
    verdict = verdict_for(name)
    assert verdict.outcome == "library_script", verdict.explain()


def test_signals_name_what_decided() -> None:
    labels = [s.label() for s in verdict_for("ruff").signals]
    assert labels[:2] == ["executable_named_like_package+2", "classifier:Environment :: Console+2"]
    assert "summary:linter+2" in labels
    assert [s.label() for s in verdict_for("awscli").signals] == ["summary:command line+2"]


def test_classifiers_count_once_per_kind() -> None:
    signals = classifier_signals(
        [
            "Environment :: Console :: Curses",
            "Topic :: Utilities",
            "Topic :: Terminals",
            "Topic :: Software Development :: Libraries :: Python Modules",
        ]
    )
    assert [s.weight for s in signals] == [2, 1, -1]
