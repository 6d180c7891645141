"""Deterministic recipe builders: one pure function per ecosystem, upstream facts in, recipe out.

A builder never fetches anything: the ecosystem adapter (``automation.sources``) turns a registry
response into an ``UpstreamPackage``; the builder turns that into a recipe or a ``BuildFailure``
with a stable category and subcategory. The same input always gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import tomlkit

from automation.core.names import check_recipe_name

DESCRIPTION_LIMIT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

# tsuku's own pipeline marks every recipe it generates with ``llm_validation = "skipped"`` (1,124
# of the reference registry's 1,337 recipes carry it; hand-written ones do not). Ours are
# generated too, and no model ever looks at them: the same mark, in the same place.
LLM_VALIDATION_KEY = "llm_validation"
LLM_VALIDATION = "skipped"
# The [metadata] keys tsuku writes before ``llm_validation`` (in this order); everything else
# (dependencies, platform constraints, ...) comes after it.
_KEYS_BEFORE_LLM_VALIDATION = (
    "name",
    "description",
    "homepage",
    "version_format",
    "requires_sudo",
    "tier",
    "type",
)


@dataclass(frozen=True, slots=True)
class UpstreamPackage:
    """What a builder needs to know about one package, from its registry."""

    ecosystem: str
    identifier: str  # the source identifier (package / crate / module), never the display name
    version: str
    description: str
    homepage_candidates: tuple[str, ...]  # in order of preference
    executables: tuple[str, ...]  # as declared upstream (order irrelevant; builders sort)
    fallback_homepage: str = ""  # an https page the registry itself serves for the package
    first_release: str | None = None  # RFC3339 time of the first release, when known
    downloads: int | None = None  # from the registry document, when it says (popularity gate)
    downloads_period: str | None = None  # what ``downloads`` counts ("all time", "30 days")
    # Set when the package's declared runtime requirement excludes the runtime version tsuku
    # installs for the ecosystem (``FACTS.runtime``), for every release tsuku would install:
    # why, in one line. The builder then fails with ``runtime_unsatisfiable``.
    runtime_conflict: str = ""


@dataclass(frozen=True, slots=True)
class BuiltRecipe:
    name: str
    source: str
    text: str  # the TOML document
    executables: tuple[str, ...]
    verify_executable: str
    version: str
    first_release: str | None = None  # RFC3339, when the registry says (for the age gate)
    downloads: int | None = None  # when the registry document says (popularity gate)
    downloads_period: str | None = None  # what ``downloads`` counts


@dataclass(frozen=True, slots=True)
class BuildFailure:
    """A generation failure: category from the canonical six, a specific subcategory."""

    category: str
    subcategory: str
    message: str
    blocked_by: tuple[str, ...] = ()
    version: str = ""


def clean_description(text: str, fallback: str) -> str:
    """One line, no control characters, bounded length."""
    text = _CONTROL.sub(" ", text or "").strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        text = fallback
    if len(text) > DESCRIPTION_LIMIT:
        text = text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
    return text


_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(:\d+)?(/[^\s\"'<>\\]*)?")


def choose_homepage(candidates: Sequence[str], fallback: str) -> str:
    """The first candidate that is a plain https URL; the registry's own page otherwise."""
    for candidate in candidates:
        candidate = (candidate or "").strip()
        if _HTTPS_URL.fullmatch(candidate):
            return candidate
    return fallback


_SAFE_EXECUTABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def safe_executables(names: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split declared executables into (usable, rejected), usable sorted and de-duplicated."""
    usable = sorted({n for n in names if _SAFE_EXECUTABLE.fullmatch(n) and ".." not in n})
    rejected = sorted({n for n in names if n not in usable})
    return tuple(usable), tuple(rejected)


def generated_metadata(metadata: Mapping[str, object]) -> dict[str, object]:
    """``metadata`` with ``llm_validation = "skipped"`` where tsuku puts it.

    That is right after the header keys (name, description, homepage, version_format,
    requires_sudo, tier, type) and before every other key, whatever order the builder gave.
    """
    head = [(k, v) for k, v in metadata.items() if k in _KEYS_BEFORE_LLM_VALIDATION]
    tail = [
        (k, v)
        for k, v in metadata.items()
        if k not in _KEYS_BEFORE_LLM_VALIDATION and k != LLM_VALIDATION_KEY
    ]
    return dict([*head, (LLM_VALIDATION_KEY, LLM_VALIDATION), *tail])


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


def verify_executable_for(identifier: str, executables: Sequence[str]) -> str:
    """The executable matching the package name when there is one, else the first in sort order."""
    unscoped = identifier.rsplit("/", 1)[-1]
    wanted = _normalise(unscoped)
    for executable in executables:
        if _normalise(executable) == wanted:
            return executable
    for executable in executables:  # `httpie` -> `http`, `black` -> `black`
        if wanted.startswith(_normalise(executable)) or _normalise(executable).startswith(wanted):
            return executable
    return executables[0]


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_value(value: object) -> str | None:
    """tomlkit's rendering of a string or a list of strings; None for anything else."""
    if isinstance(value, str):
        return tomlkit.item(value).as_string()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(tomlkit.item(v).as_string() for v in value) + "]"
    return None


def _render_common(
    name: str,
    description: str,
    homepage: str,
    steps: Sequence[dict[str, object]],
    verify_command: str | None,
    verify_pattern: str,
    dependencies: Sequence[str],
) -> str | None:
    """The bytes ``tomlkit.dumps`` gives for the common recipe shape, about 3x faster.

    Recipes are rendered for every package of a live run while other threads wait for the GIL,
    and building a tomlkit document dominates the cost. Values are still escaped by tomlkit
    (``tomlkit.item``); only the layout is written here. Any other shape (no step, a key that
    needs quoting, a value that is not a string or list of strings) returns None and takes the
    document path. Tests hold both paths to the same bytes.
    """
    if not steps or not all(steps):
        return None
    pairs: list[tuple[str, object]] = [
        ("name", name),
        ("description", description),
        ("homepage", homepage),
        (LLM_VALIDATION_KEY, LLM_VALIDATION),
    ]
    if dependencies:
        pairs.append(("dependencies", list(dependencies)))
    tables: list[tuple[str, list[tuple[str, object]]]] = [("[metadata]", pairs)]
    tables += [("[[steps]]", list(step.items())) for step in steps]
    if verify_command is not None:
        tables.append(("[verify]", [("command", verify_command), ("pattern", verify_pattern)]))
    lines: list[str] = []
    for header, items in tables:
        if lines:
            lines.append("")
        lines.append(header)
        for key, value in items:
            rendered = _toml_value(value)
            if rendered is None or not _BARE_KEY.fullmatch(key):
                return None
            lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def render_recipe(
    *,
    name: str,
    description: str,
    homepage: str,
    steps: Sequence[dict[str, object]],
    verify_command: str | None,
    verify_pattern: str = "",
    dependencies: Sequence[str] = (),
    extra_metadata: dict[str, object] | None = None,
) -> str:
    """Render a recipe through tomlkit: every value is escaped by the TOML library.

    The [metadata] table carries ``llm_validation = "skipped"`` (:func:`generated_metadata`), on
    the direct layout and the document path alike.
    """
    check_recipe_name(name)
    if not extra_metadata:
        fast = _render_common(
            name, description, homepage, steps, verify_command, verify_pattern, dependencies
        )
        if fast is not None:
            return fast
    fields: dict[str, object] = {"name": name, "description": description, "homepage": homepage}
    if dependencies:
        fields["dependencies"] = list(dependencies)
    fields.update(extra_metadata or {})
    doc = tomlkit.document()
    metadata = tomlkit.table()
    for key, value in generated_metadata(fields).items():
        metadata.add(key, value)
    doc.add("metadata", metadata)
    steps_array = tomlkit.aot()
    for step in steps:
        table = tomlkit.table()
        for key, value in step.items():
            table.add(key, value)
        steps_array.append(table)
    doc.add("steps", steps_array)
    if verify_command is not None:
        verify = tomlkit.table()
        verify.add("command", verify_command)
        verify.add("pattern", verify_pattern)
        doc.add("verify", verify)
    return tomlkit.dumps(doc)
