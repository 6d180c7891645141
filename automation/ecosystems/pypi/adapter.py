"""PyPI: project JSON + the newest wheel's entry points -> ``pipx_install``.

Generation reads the newest release admitting the CPython tsuku installs (``FACTS.runtime``) and
the optional extras its scripts need (``builder``); seeding's lookup reads the latest release's
scripts only.
"""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.core.names import recipe_name_for
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.popularity import PopularityList
from automation.ecosystems.pypi import FACTS
from automation.ecosystems.pypi.builder import PypiUpstream, build_pypi
from automation.ecosystems.pypi.client import fetch_pypi_project, normalise_project_name
from automation.ecosystems.pypi.popularity import (
    SHIPPED_PERIOD,
    load_pypi_popularity,
    shipped_downloads,
)
from automation.ecosystems.pypi.requires import PythonTarget
from automation.ecosystems.pypi.toolness import pypi_verdict

assert FACTS.runtime is not None
PYTHON = PythonTarget.from_pin(FACTS.runtime)


def fetch(http: HttpClient, identifier: str) -> PypiUpstream:
    project = fetch_pypi_project(http, identifier, python=PYTHON, extras=True)
    conflict = ""
    if project.runtime_conflict:
        assert FACTS.runtime is not None
        conflict = f"{project.runtime_conflict} ({FACTS.runtime.pinned_by})"
    # The document has no download count; the kit's copy of the 30-day ranking has one for the
    # top projects (generation prefers the registry's own seeding record when there is one).
    downloads = shipped_downloads().get(normalise_project_name(identifier))
    return PypiUpstream(
        ecosystem="pypi",
        identifier=project.name if project.name.lower() == identifier.lower() else identifier,
        version=project.version,
        description=project.summary,
        homepage_candidates=(project.homepage,) if project.homepage else (),
        executables=project.executables,
        fallback_homepage=f"https://pypi.org/project/{identifier}/",
        runtime_conflict=conflict,
        script_extras=project.script_extras,
        first_release=project.first_release,
        downloads=downloads,
        downloads_period=SHIPPED_PERIOD if downloads is not None else None,
    )


def lookup(http: HttpClient, identifier: str) -> Lookup:
    project = fetch_pypi_project(http, identifier)
    verdict = pypi_verdict(
        identifier,
        recipe_name_for(identifier),
        project.executables,
        classifiers=project.classifiers,
        keywords=project.keywords,
        summary=project.summary,
    )
    return Lookup(identifier, project.executables, project.version, verdict)


def popularity(http: HttpClient, layout: RegistryLayout, top_n: int) -> PopularityList:
    return load_pypi_popularity(http)


ADAPTER = EcosystemAdapter(
    "pypi", fetch, build_pypi, "pipx_install from wheel entry points", popularity, lookup
)
