"""PyPI popularity: the top-15,000 projects by 30-day downloads (hugovk/top-pypi-packages).

A copy ships in ``data/``; a refresh is tried once with a short timeout and falls back to the
copy. Its ``rows_before_limit_at_least`` is the number of projects downloaded in the period and is
the population percentiles are ranked against.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from automation.core.errors import DataError
from automation.core.http import BadResponse, HttpClient, HttpError
from automation.core.jsondata import read_json
from automation.core.layout import REPOSITORY_ROOT
from automation.ecosystems.popularity import PopularityList, rank_counts
from automation.ecosystems.pypi.client import PROJECT_NAME, normalise_project_name

SHIPPED_PYPI_TOP = REPOSITORY_ROOT / "data" / "pypi-top-packages-30-days.min.json"


def parse_pypi_top(document: Any, *, source: str, fallback_population: int) -> PopularityList:
    """Parse the top-pypi-packages JSON (``rows[]`` of ``{project, download_count}``)."""
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        raise BadResponse("top-pypi-packages document has no rows[]", url=source)
    pairs: dict[str, int] = {}
    skipped = 0
    for row in document["rows"]:
        name = row.get("project") if isinstance(row, dict) else None
        count = row.get("download_count") if isinstance(row, dict) else None
        if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
            skipped += 1
            continue
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            skipped += 1
            continue
        pairs[name] = max(count, pairs.get(name, 0))
    population = document.get("rows_before_limit_at_least")
    if not isinstance(population, int) or population < len(pairs):
        population = max(fallback_population, len(pairs))
    notes = (f"{skipped} malformed rows skipped",) if skipped else ()
    last_update = document.get("last_update")
    return PopularityList(
        ecosystem="pypi",
        period="30 days",
        source=source,
        as_of=last_update if isinstance(last_update, str) else None,
        population=population,
        entries=rank_counts(list(pairs.items()), population),
        notes=notes,
    )


def load_pypi_popularity(http: HttpClient, *, refresh: bool = True) -> PopularityList:
    """The PyPI ranking: a fresh download when reachable (one quick try), else the shipped copy."""
    config = http.config
    top_url = config.setting("popularity", "pypi_top_url")
    population = int(config.setting("popularity", "pypi_population"))
    note = "refresh not attempted"
    if refresh:
        try:
            timeout = float(config.setting("popularity", "pypi_top_timeout"))
            document = http.get_json(None, top_url, timeout=timeout, retry=False)
            return parse_pypi_top(document, source=top_url, fallback_population=population)
        except HttpError as exc:
            note = f"refresh from {top_url} failed ({exc.category}); shipped copy used"
    document, problem = read_json(SHIPPED_PYPI_TOP, str(SHIPPED_PYPI_TOP))
    if problem is not None:  # the kit's own file: bounded like every data file (jsondata)
        raise DataError(problem.message, path=str(SHIPPED_PYPI_TOP), where=problem.where)
    ranked = parse_pypi_top(
        document,
        source=f"shipped copy {SHIPPED_PYPI_TOP.name}",
        fallback_population=population,
    )
    return replace(ranked, notes=(*ranked.notes, note))


SHIPPED_PERIOD = "30 days"


@functools.cache
def shipped_downloads() -> Mapping[str, int]:
    """Normalised project name -> 30-day downloads, from the shipped copy (read once).

    What generation records for a project seeding did not rank (the registry's
    ``data/queues/popularity.json`` has the others); empty when the copy cannot be read, since
    a missing count only leaves a gate without data, which it says.
    """
    document, problem = read_json(SHIPPED_PYPI_TOP, str(SHIPPED_PYPI_TOP))
    if problem is not None:
        return {}
    try:
        ranked = parse_pypi_top(document, source=SHIPPED_PYPI_TOP.name, fallback_population=0)
    except BadResponse:
        return {}
    return {normalise_project_name(r.identifier): r.downloads for r in ranked.entries}
