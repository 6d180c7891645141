"""What a release requires of the interpreter (``Requires-Python``) and of other projects
(``Requires-Dist``), read for the CPython tsuku installs.

tsuku runs every ``pipx_install`` tool on one CPython series (``FACTS.runtime``: 3.13, the kit
validates with 3.13.5). Its version resolver installs the newest release that is neither yanked
nor a pre-release and whose ``requires_python`` admits that series; a ``requires_python`` it
cannot parse counts as not admitting (internal/version/provider_pypi.go). ``newest_admitting``
makes the same choice, so the recipe is built from the release users get.

Specifiers, versions, markers and requirements are parsed by ``packaging``, the reference
implementation of the PEPs (440, 508, 685) pip itself vendors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from automation.core.ecosystem_facts import RuntimePin


@dataclass(frozen=True, slots=True)
class PythonTarget:
    """The interpreter a tool runs on: the series tsuku pins and the exact version validated."""

    series: str  # "3.13": what tsuku's resolver checks requires_python against
    version: str  # "3.13.5": what the tool really runs on (and pip checks at install)

    @classmethod
    def from_pin(cls, pin: RuntimePin) -> PythonTarget:
        return cls(series=pin.series, version=pin.version)

    @property
    def label(self) -> str:
        return f"Python {self.version}"

    def marker_environment(self, extra: str = "") -> dict[str, str]:
        """PEP 508 marker values of this interpreter on x86_64 Linux (none from the host)."""
        return {
            "implementation_name": "cpython",
            "implementation_version": self.version,
            "os_name": "posix",
            "platform_machine": "x86_64",
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": self.version,
            "python_version": self.series,
            "sys_platform": "linux",
            "extra": extra,
        }


def admits(requires_python: str | None, target: PythonTarget) -> bool:
    """True when ``requires_python`` (a PEP 440 specifier set) admits both the series and the
    exact version of ``target``; an empty value admits anything, an unparseable one nothing."""
    if requires_python is None or not requires_python.strip():
        return True
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return False
    return all(spec.contains(Version(v), prereleases=True) for v in (target.series, target.version))


@dataclass(frozen=True, slots=True)
class ReleaseChoice:
    """The release ``newest_admitting`` picked, and its ``requires_python``."""

    version: str
    requires_python: str | None


def release_requires_python(files: Sequence[Any]) -> str | None:
    """The first non-empty ``requires_python`` among a release's files (they agree in practice)."""
    for item in files:
        if isinstance(item, dict):
            value = item.get("requires_python")
            if isinstance(value, str) and value.strip():
                return value
    return None


def _installable(files: object) -> bool:
    """A release pip can install: it has a file that is not yanked."""
    return isinstance(files, list) and any(
        isinstance(f, dict) and not f.get("yanked") for f in files
    )


def newest_admitting(releases: Mapping[str, Any], target: PythonTarget) -> ReleaseChoice | None:
    """The newest final release (PEP 440 order; pre-releases, versions PEP 440 cannot parse and
    releases without an unyanked file left out) whose ``requires_python`` admits ``target``."""
    candidates: list[tuple[Version, str]] = []
    for key, files in releases.items():
        if not isinstance(key, str) or not _installable(files):
            continue
        try:
            parsed = Version(key)
        except InvalidVersion:
            continue
        if not parsed.is_prerelease:
            candidates.append((parsed, key))
    for _, key in sorted(candidates, reverse=True):
        requires_python = release_requires_python(releases[key])
        if admits(requires_python, target):
            return ReleaseChoice(key, requires_python)
    return None


# ---------------------------------------------------------------- Requires-Dist


@dataclass(frozen=True, slots=True)
class Requirements:
    """A release's dependencies for ``target``: canonical project names installed without any
    extra (``base``), and what each extra adds on top of them (extras adding nothing left out)."""

    base: frozenset[str]
    extras: Mapping[str, frozenset[str]]
    declared: frozenset[str]  # every extra the metadata declares (Provides-Extra), canonical

    def extras_providing(self, project: str) -> tuple[str, ...]:
        """Extras that install ``project`` (canonical) when the base does not, sorted."""
        if project in self.base:
            return ()
        return tuple(sorted(e for e, names in self.extras.items() if project in names))

    @property
    def has_extra_only(self) -> bool:
        """Some extra installs a project the base does not."""
        return bool(self.extras)


def _applies(requirement: Requirement, target: PythonTarget, extra: str) -> bool:
    if requirement.marker is None:
        return True
    try:
        return requirement.marker.evaluate(target.marker_environment(extra))
    except (UndefinedComparison, UndefinedEnvironmentName, InvalidMarker):
        return False


def parse_requirements(
    requires_dist: Iterable[str], provides_extra: Iterable[str], target: PythonTarget
) -> Requirements:
    """``Requires-Dist`` lines (unparseable ones skipped) evaluated for ``target``."""
    parsed: list[Requirement] = []
    for line in requires_dist:
        try:
            parsed.append(Requirement(line))
        except InvalidRequirement:
            continue
    declared = frozenset(canonicalize_name(e) for e in provides_extra if e.strip())
    base = frozenset(canonicalize_name(r.name) for r in parsed if _applies(r, target, ""))
    extras: dict[str, frozenset[str]] = {}
    for extra in sorted(declared):
        added = (
            frozenset(canonicalize_name(r.name) for r in parsed if _applies(r, target, extra))
            - base
        )
        if added:
            extras[extra] = added
    return Requirements(base=base, extras=extras, declared=declared)


def parse_metadata_requirements(text: str, target: PythonTarget) -> Requirements:
    """``Requirements`` from a wheel's ``METADATA`` (RFC 822 headers; the body is ignored)."""
    requires: list[str] = []
    provides: list[str] = []
    for line in text.split("\n\n", 1)[0].splitlines():
        name, sep, value = line.partition(":")
        if not sep or line[:1] in " \t":
            continue  # no continuation lines in these two headers
        key = name.strip().lower()
        if key == "requires-dist":
            requires.append(value.strip())
        elif key == "provides-extra":
            provides.append(value.strip())
    return parse_requirements(requires, provides, target)
