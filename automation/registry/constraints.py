"""Platform constraints derived from per-platform validation outcomes.

A recipe's ``[metadata]`` constraints (``supported_os``, ``supported_arch``, ``supported_libc``,
``unsupported_platforms``) are read by tsuku's loader as (reference §2.2)::

    (supported_os or {linux, darwin}) x (supported_arch or {amd64, arm64})
      minus every os/arch in unsupported_platforms
      on linux also minus every os/arch/libc listed, and libc must be in supported_libc if set

The loader can tell six points apart: linux x {amd64, arm64} x {glibc, musl} and darwin x
{amd64, arm64}. Validation runs on *environments* (``linux-debian-glibc-x86_64``...), several of
which (the distro families) map to the same point. The derivation:

* a point **passed** when some environment of it passed and none failed;
* a point **failed** when some environment of it failed and none passed;
* a point where one family failed and another passed is a *family failure*: the loader has no
  family dimension, so the constraint fields cannot exclude the failing family without excluding
  the passing one. The fields keep the point admitted and the decision names the failure
  (``family_failures``); :func:`admitted_failures` lists every environment that failed on a
  point the fields admit, and the merge holds such a recipe for review instead of merging it;
* a point with no pass or fail (only skipped, or not run) is **untested**. Untested points keep
  their previous admission (the recipe's current constraints; admitted when it has none). Every
  point can be excluded on its own, so this is always possible: the first cost criterion below is
  the number of untested points whose admission would change, which is therefore zero.

Among the field sets that admit exactly the passed points and none of the failed ones, the
cheapest wins: fewest untested points changed, then fewest list entries over all four fields,
then fewest fields, then fewest ``unsupported_platforms`` entries, then the allow-lists in the
order os, libc, arch. Nothing passed: the recipe is excluded.

The module is pure except for :func:`constrain_recipe_file` at the end (the task's edge).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import tomlkit

from automation.core.atomic import atomic_write_text
from automation.core.errors import DataError, ExitCode
from automation.core.jsondata import loads
from automation.registry.recipes import (
    RecipeDocument,
    dump_recipe,
    load_recipe,
    remove_metadata_field,
    set_metadata_field,
)

Outcome = Literal["pass", "fail", "skipped"]
# What a new recipe's constraints say of a platform no environment validated it on.
UntestedPolicy = Literal["exclude", "admit"]
UNTESTED_POLICIES: tuple[UntestedPolicy, ...] = ("exclude", "admit")
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "skipped")
CONSTRAINT_FIELDS = ("supported_os", "supported_arch", "supported_libc", "unsupported_platforms")

OSES = ("linux", "darwin")
ARCHES = ("amd64", "arm64")
LIBCS = ("glibc", "musl")

# Validation result platforms use uname-style architectures; constraints use Go's names.
_ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}
_LINUX_PLATFORM = re.compile(r"linux-([a-z0-9]+)-(glibc|musl)-([a-z0-9_]+)")
_DARWIN_PLATFORM = re.compile(r"darwin-([a-z0-9_]+)")

# The reference's 11 validation environments (§2.3).
VALIDATION_PLATFORMS = (
    "linux-debian-glibc-x86_64",
    "linux-rhel-glibc-x86_64",
    "linux-arch-glibc-x86_64",
    "linux-suse-glibc-x86_64",
    "linux-alpine-musl-x86_64",
    "linux-debian-glibc-arm64",
    "linux-rhel-glibc-arm64",
    "linux-suse-glibc-arm64",
    "linux-alpine-musl-arm64",
    "darwin-arm64",
    "darwin-x86_64",
)


class Point(NamedTuple):
    """One point the loader distinguishes; ``libc`` is None on darwin."""

    os: str
    arch: str
    libc: str | None

    def label(self) -> str:
        return f"{self.os}/{self.arch}" + (f"/{self.libc}" if self.libc else "")


UNIVERSE: tuple[Point, ...] = tuple(
    [Point("linux", a, c) for a in ARCHES for c in LIBCS]
    + [Point("darwin", a, None) for a in ARCHES]
)


@dataclass(frozen=True, slots=True)
class Platform:
    """A parsed validation platform string."""

    name: str
    point: Point
    family: str | None  # distro family on linux


def parse_platform(name: str) -> Platform:
    """``linux-<family>-<libc>-<arch>`` or ``darwin-<arch>``; raises ValueError otherwise."""
    match = _LINUX_PLATFORM.fullmatch(name)
    if match:
        family, libc, arch = match[1], match[2], match[3]
        if arch not in _ARCH_NAMES:
            raise ValueError(f"platform {name!r}: unknown architecture {arch!r}")
        return Platform(name, Point("linux", _ARCH_NAMES[arch], libc), family)
    match = _DARWIN_PLATFORM.fullmatch(name)
    if match and match[1] in _ARCH_NAMES:
        return Platform(name, Point("darwin", _ARCH_NAMES[match[1]], None), None)
    raise ValueError(
        f"platform {name!r} is not linux-<family>-<glibc|musl>-<x86_64|arm64> or darwin-<arch>"
    )


@dataclass(frozen=True, slots=True)
class ConstraintFields:
    """The four metadata fields; ``None`` means the key is absent (loader default)."""

    supported_os: tuple[str, ...] | None = None
    supported_arch: tuple[str, ...] | None = None
    supported_libc: tuple[str, ...] | None = None
    unsupported_platforms: tuple[str, ...] = ()

    def as_metadata(self) -> dict[str, list[str]]:
        """The keys to write (absent fields left out), in the loader's field order."""
        out: dict[str, list[str]] = {}
        for key in CONSTRAINT_FIELDS:
            value = getattr(self, key)
            if value is not None and (key != "unsupported_platforms" or value):
                out[key] = list(value)
        return out

    @property
    def entry_count(self) -> int:
        return sum(len(v) for v in self.as_metadata().values())

    @property
    def field_count(self) -> int:
        return len(self.as_metadata())

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ConstraintFields:
        """Read the fields from a recipe's ``[metadata]`` (non-string values are ignored)."""

        def strings(key: str) -> tuple[str, ...] | None:
            value = metadata.get(key)
            if value is None:
                return None
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise DataError(f"metadata.{key} must be a list of strings")
            return tuple(str(v) for v in value)

        return cls(
            supported_os=strings("supported_os"),
            supported_arch=strings("supported_arch"),
            supported_libc=strings("supported_libc"),
            unsupported_platforms=strings("unsupported_platforms") or (),
        )


def admitted_points(fields: ConstraintFields) -> frozenset[Point]:
    """The points tsuku's loader admits for these fields (§2.2), over :data:`UNIVERSE`.

    Entries the loader cannot use (``linux/debian``, unknown names) have no effect, as there.
    """
    oses = set(OSES if fields.supported_os is None else fields.supported_os)
    arches = set(ARCHES if fields.supported_arch is None else fields.supported_arch)
    out = set()
    for point in UNIVERSE:
        if point.os not in oses or point.arch not in arches:
            continue
        if f"{point.os}/{point.arch}" in fields.unsupported_platforms:
            continue
        if point.os == "linux":
            if point.label() in fields.unsupported_platforms:
                continue
            if fields.supported_libc and point.libc not in fields.supported_libc:
                continue
        out.add(point)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class FamilyFailure:
    """A point where some distro families failed while others passed (not expressible)."""

    point: Point
    failed_platforms: tuple[str, ...]
    passed_platforms: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "point": self.point.label(),
            "failed": list(self.failed_platforms),
            "passed": list(self.passed_platforms),
        }


@dataclass(frozen=True, slots=True)
class ConstraintDecision:
    """What to write into a recipe's metadata, and why."""

    fields: ConstraintFields
    excluded: bool
    reasons: tuple[str, ...]
    passed: frozenset[Point]
    failed: frozenset[Point]
    untested: frozenset[Point]
    family_failures: tuple[FamilyFailure, ...] = ()

    @property
    def supported_os(self) -> tuple[str, ...] | None:
        return self.fields.supported_os

    @property
    def supported_arch(self) -> tuple[str, ...] | None:
        return self.fields.supported_arch

    @property
    def supported_libc(self) -> tuple[str, ...] | None:
        return self.fields.supported_libc

    @property
    def unsupported_platforms(self) -> tuple[str, ...]:
        return self.fields.unsupported_platforms

    @property
    def unconstrained(self) -> bool:
        return not self.excluded and not self.fields.as_metadata()

    def to_json(self) -> dict[str, Any]:
        return {
            "excluded": self.excluded,
            "metadata": self.fields.as_metadata(),
            "reasons": list(self.reasons),
            "passed": sorted(p.label() for p in self.passed),
            "failed": sorted(p.label() for p in self.failed),
            "untested": sorted(p.label() for p in self.untested),
            "family_failures": [f.to_json() for f in self.family_failures],
        }

    def to_text(self) -> str:
        if self.excluded:
            head = "excluded"
        elif self.unconstrained:
            head = "no constraints needed"
        else:
            head = "\n".join(f"{k} = {json.dumps(v)}" for k, v in self.fields.as_metadata().items())
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])


def admitted(decision: ConstraintDecision) -> frozenset[Point]:
    """The points the loader admits for a decision (empty for an excluded recipe)."""
    return frozenset() if decision.excluded else admitted_points(decision.fields)


def _candidate_field_sets() -> Iterable[ConstraintFields]:
    single_os: list[tuple[str, ...] | None] = [None, ("linux",), ("darwin",)]
    single_arch: list[tuple[str, ...] | None] = [None, ("amd64",), ("arm64",)]
    single_libc: list[tuple[str, ...] | None] = [None, ("glibc",), ("musl",)]
    pairs = [f"{o}/{a}" for o in OSES for a in ARCHES]
    triples = [f"linux/{a}/{c}" for a in ARCHES for c in LIBCS]
    unsupported = pairs + triples
    for os_, libc, arch in itertools.product(single_os, single_libc, single_arch):
        for size in range(len(unsupported) + 1):
            for combo in itertools.combinations(unsupported, size):
                yield ConstraintFields(os_, arch, libc, combo)


def _cost(fields: ConstraintFields) -> tuple[int, ...]:
    return (
        fields.entry_count,
        fields.field_count,
        len(fields.unsupported_platforms),
        # Prefer allow-lists in the order os, libc, arch (os is the most common, §2.2).
        fields.supported_arch is not None,
        fields.supported_libc is not None,
    )


@functools.cache
def _cheapest_by_admitted_set() -> dict[frozenset[Point], ConstraintFields]:
    """For every reachable admitted set, its cheapest field set (6 points: 64 sets at most)."""
    best: dict[frozenset[Point], tuple[tuple[int, ...], ConstraintFields]] = {}
    for fields in _candidate_field_sets():
        points = admitted_points(fields)
        cost = _cost(fields)
        known = best.get(points)
        if known is None or cost < known[0]:
            best[points] = (cost, fields)
    return {points: fields for points, (_, fields) in best.items()}


def _point_outcomes(
    outcomes: Mapping[str, str],
) -> tuple[dict[Point, list[str]], dict[Point, list[str]]]:
    passes: dict[Point, list[str]] = {}
    fails: dict[Point, list[str]] = {}
    for name, outcome in sorted(outcomes.items()):
        if outcome not in OUTCOMES:
            raise ValueError(f"platform {name!r}: outcome {outcome!r} is not pass|fail|skipped")
        platform = parse_platform(name)
        if outcome == "pass":
            passes.setdefault(platform.point, []).append(name)
        elif outcome == "fail":
            fails.setdefault(platform.point, []).append(name)
    return passes, fails


def derive_constraints(
    outcomes: Mapping[str, str],
    *,
    previous: ConstraintFields | None = None,
    untested: UntestedPolicy = "admit",
) -> ConstraintDecision:
    """Derive the complete, minimal constraints for ``platform -> pass|fail|skipped``.

    ``previous`` (the recipe's current fields) decides untested points: they keep the admission
    it gives them (earlier evidence, or an earlier policy's decision). Without ``previous`` (a new
    recipe) the ``untested`` policy decides: ``exclude`` leaves every point no environment tested
    out of the constraints, ``admit`` leaves it in (the loader's default, no evidence). Raises
    ValueError for an unknown platform string, outcome or policy.
    """
    if untested not in UNTESTED_POLICIES:
        raise ValueError(f"untested platforms policy {untested!r} is not exclude|admit")
    passes, fails = _point_outcomes(outcomes)
    passed = frozenset(p for p in passes if p not in fails)
    failed = frozenset(p for p in fails if p not in passes)
    mixed = sorted(set(passes) & set(fails))
    family_failures = tuple(FamilyFailure(p, tuple(fails[p]), tuple(passes[p])) for p in mixed)
    must_admit = passed | frozenset(mixed)
    not_run = frozenset(UNIVERSE) - must_admit - failed
    reasons: list[str] = []
    for failure in family_failures:
        reasons.append(
            f"{', '.join(failure.failed_platforms)} failed but "
            f"{', '.join(failure.passed_platforms)} passed on {failure.point.label()}: "
            "the loader has no family dimension, so the constraint fields cannot exclude it"
        )
    if not must_admit:
        if failed:
            reasons.insert(0, "failed on every platform it ran on: " + _labels(failed))
        else:
            reasons.insert(0, "no platform ran (every result skipped or missing)")
        return ConstraintDecision(
            ConstraintFields(), True, tuple(reasons), passed, failed, not_run, family_failures
        )
    if previous is not None:
        wanted = admitted_points(previous)
    else:
        wanted = frozenset(UNIVERSE) if untested == "admit" else must_admit
    best: tuple[tuple[int, ...], ConstraintFields] | None = None
    for points, fields in _cheapest_by_admitted_set().items():
        if not must_admit <= points or points & failed:
            continue
        changed = len((points ^ wanted) & not_run)
        cost = (changed, *_cost(fields))
        if best is None or cost < best[0]:
            best = (cost, fields)
    assert best is not None  # every point is separately excludable, so the full set always fits
    chosen = best[1]
    if failed:
        reasons.insert(0, "failed on " + _labels(failed))
    excluded_untested = not_run - admitted_points(chosen)
    if excluded_untested and previous is not None:
        reasons.append("not run and kept excluded as before: " + _labels(excluded_untested))
    elif excluded_untested:
        reasons.append(
            "not tested, so not admitted (untested platforms policy: exclude): "
            + _labels(excluded_untested)
        )
    return ConstraintDecision(
        chosen, False, tuple(reasons), passed, failed, not_run, family_failures
    )


def _labels(points: Iterable[Point]) -> str:
    return ", ".join(sorted(p.label() for p in points))


def combine_outcomes(records: Iterable[tuple[str, str]]) -> dict[str, Outcome]:
    """Fold repeated ``(platform, outcome)`` records: fail beats pass beats skipped."""
    rank = {"skipped": 0, "pass": 1, "fail": 2}
    out: dict[str, Outcome] = {}
    for platform, outcome in records:
        if outcome not in rank:
            raise ValueError(f"platform {platform!r}: outcome {outcome!r} is not pass|fail|skipped")
        current = out.get(platform)
        if current is None or rank[outcome] > rank[current]:
            out[platform] = outcome  # type: ignore[assignment]
    return out


def combine_environment_outcomes(
    records: Iterable[tuple[str, str, str]],
) -> tuple[dict[str, Outcome], tuple[str, ...]]:
    """Fold ``(environment, platform, outcome)`` records (one per environment) to platforms.

    Several environments share a platform string (debian-12 and ubuntu-24.04 are both
    ``linux-debian-glibc-x86_64``; ``local`` has the host's). When some of them passed and others
    failed, constraints cannot tell them apart any more than they can tell families apart: like a
    family failure, the platform is folded to ``pass`` (the fields must admit what passed) and a
    reason names who failed. Such a failure is not accepted by folding it: pass the same records
    to :func:`admitted_failures` with the decision, which lists it (the merge holds the recipe).
    Otherwise :func:`combine_outcomes` applies (fail beats pass).
    """
    by_platform: dict[str, list[tuple[str, str]]] = {}
    for environment, platform, outcome in records:
        by_platform.setdefault(platform, []).append((environment, outcome))
    combined = combine_outcomes(
        (platform, outcome) for platform, pairs in by_platform.items() for _, outcome in pairs
    )
    reasons = []
    for platform, pairs in sorted(by_platform.items()):
        passed = sorted({env for env, outcome in pairs if outcome == "pass"})
        failed = sorted({env for env, outcome in pairs if outcome == "fail"})
        if passed and failed:
            combined[platform] = "pass"
            reasons.append(
                f"{', '.join(failed)} failed but {', '.join(passed)} passed on {platform}: "
                "constraints cannot tell these distributions apart, so the platform stays in "
                "the constraint fields"
            )
    return combined, tuple(reasons)


@dataclass(frozen=True, slots=True)
class AdmittedFailure:
    """An environment that failed on a point the constraint fields admit: the loader would offer
    the recipe where it is known to fail (one distribution or family of a platform)."""

    environment: str
    platform: str
    point: Point
    passed: tuple[str, ...]  # environments that passed on the same point

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "platform": self.platform,
            "point": self.point.label(),
            "passed": list(self.passed),
        }


def admitted_failures(
    records: Iterable[tuple[str, str, str]], decision: ConstraintDecision
) -> tuple[AdmittedFailure, ...]:
    """Every ``(environment, platform, outcome)`` record that failed on a point ``decision``
    admits, sorted by environment (none for an excluded decision).

    A point that failed everywhere is excluded by the fields and never listed; what is listed
    is a failure the fields cannot express (a family, or one of several environments sharing a
    platform), which a caller must not accept silently. Raises ValueError for an unknown
    platform string.
    """
    points = admitted(decision)
    listed = [
        (env, platform, parse_platform(platform).point, out) for env, platform, out in records
    ]
    passed_on: dict[Point, set[str]] = {}
    for env, _platform, point, outcome in listed:
        if outcome == "pass":
            passed_on.setdefault(point, set()).add(env)
    found = {
        (env, platform): AdmittedFailure(
            env, platform, point, tuple(sorted(passed_on.get(point, ())))
        )
        for env, platform, point, outcome in listed
        if outcome == "fail" and point in points
    }
    return tuple(found[key] for key in sorted(found))


def tested_where(
    records: Iterable[tuple[str, str, str]], decision: ConstraintDecision
) -> dict[str, dict[str, Any]]:
    """What was tested where, per point the loader distinguishes (all six, in
    :data:`UNIVERSE` order): ``{"linux/amd64/glibc": {"outcome": "pass", "environments":
    {"debian-12": "pass", ...}, "admitted": true}, "darwin/arm64": {"outcome": "untested",
    "environments": {}, "admitted": false}, ...}``.

    ``outcome`` is ``pass``, ``fail``, ``mixed`` (some environments of the point passed, others
    failed) or ``untested`` (no environment gave a verdict there: skipped lines only, or none);
    ``admitted`` is whether the decision's constraint fields offer the recipe there. Raises
    ValueError for an unknown platform string.
    """
    by_point: dict[Point, dict[str, str]] = {}
    for environment, platform, outcome in records:
        by_point.setdefault(parse_platform(platform).point, {})[environment] = outcome
    points = admitted(decision)
    out: dict[str, dict[str, Any]] = {}
    for point in UNIVERSE:
        environments = dict(sorted(by_point.get(point, {}).items()))
        verdicts = {o for o in environments.values() if o in ("pass", "fail")}
        outcome = (
            "untested" if not verdicts else "mixed" if len(verdicts) == 2 else next(iter(verdicts))
        )
        out[point.label()] = {
            "outcome": outcome,
            "environments": environments,
            "admitted": point in points,
        }
    return out


def untested_admitted(coverage: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The points :func:`tested_where` shows admitted without any verdict (the ``admit``
    policy's claims without evidence)."""
    return [p for p, c in coverage.items() if c["admitted"] and c["outcome"] == "untested"]


# --- applying a decision to a tomlkit recipe document ------------------------------------------


def _as_recipe_document(document: RecipeDocument | tomlkit.TOMLDocument) -> RecipeDocument:
    if isinstance(document, RecipeDocument):
        return document
    return RecipeDocument("<recipe>", document)


def _metadata_of(doc: RecipeDocument) -> Mapping[str, Any]:
    metadata = doc.toml.get("metadata")
    if not isinstance(metadata, Mapping):
        raise DataError("recipe has no [metadata] table", path=doc.path, where="metadata")
    return metadata


def apply_constraints(
    document: RecipeDocument | tomlkit.TOMLDocument, decision: ConstraintDecision
) -> bool:
    """Set the four constraint fields of a recipe to the decision's; True if it changed.

    Fields the decision leaves absent are removed; other keys, comments and order stay (edits go
    through ``automation.registry.recipes``). Raises DataError for an excluded decision (an excluded
    recipe is removed, not constrained).
    """
    if decision.excluded:
        raise DataError("cannot constrain an excluded recipe: " + "; ".join(decision.reasons))
    doc = _as_recipe_document(document)
    metadata = _metadata_of(doc)
    wanted = decision.fields.as_metadata()
    changed = False
    for key in CONSTRAINT_FIELDS:
        if key not in wanted:
            changed |= remove_metadata_field(doc, key)
            continue
        current = metadata.get(key)
        if isinstance(current, list) and list(current) == wanted[key]:
            continue
        set_metadata_field(doc, key, wanted[key])
        changed = True
    return changed


# --- edge: one recipe file and its results files (the `constrain` task) -------------------------


@dataclass(frozen=True, slots=True)
class ConstrainReport:
    """What `invoke constrain` did to one recipe."""

    recipe: str
    path: str
    decision: ConstraintDecision
    changed: bool
    results_used: int
    ignored: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "path": self.path,
            "changed": self.changed,
            "results_used": self.results_used,
            "ignored": list(self.ignored),
            "decision": self.decision.to_json(),
        }

    def to_text(self) -> str:
        state = "updated" if self.changed else "unchanged"
        if self.decision.excluded:
            state = "left unchanged: EXCLUDED (no platform passed)"
        lines = [f"{self.recipe} ({self.path}): {state}", self.decision.to_text()]
        lines += [f"  ignored: {i}" for i in self.ignored]
        return "\n".join(lines)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.decision.excluded else ExitCode.OK


def read_results(paths: Sequence[Path], recipe: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``(platform, outcome)`` records for ``recipe`` from JSONL results files.

    A record with ``passed: false`` is a failure whatever its status (the reference recorded
    sandbox verification failures as passes). Raises DataError naming file and line.
    """
    records: list[tuple[str, str]] = []
    ignored: list[str] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DataError(f"cannot read results: {exc.strerror}", path=str(path)) from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"line {number}"
            record, problem = loads(line, str(path), where)  # bounded: nesting, int64 (jsondata)
            if problem is not None:
                raise DataError(problem.message, path=str(path), where=problem.where)
            if not isinstance(record, dict):
                raise DataError("expected a JSON object", path=str(path), where=where)
            name, platform, status = (
                record.get("recipe"),
                record.get("platform"),
                record.get("status"),
            )
            if not all(isinstance(v, str) for v in (name, platform, status)):
                raise DataError(
                    "needs string fields recipe, platform, status", path=str(path), where=where
                )
            assert isinstance(platform, str) and isinstance(status, str)
            if name != recipe:
                continue
            if status not in OUTCOMES:
                raise DataError(
                    f"status {status!r} is not pass|fail|skipped", path=str(path), where=where
                )
            try:
                parse_platform(platform)
            except ValueError as exc:
                ignored.append(f"{path}:{number}: {exc}")
                continue
            if status == "pass" and record.get("passed") is False:
                status = "fail"
            records.append((platform, status))
    return records, ignored


def constrain_recipe_file(
    recipe_path: Path,
    results_paths: Sequence[Path],
    *,
    write: bool = True,
    untested: UntestedPolicy | None = None,
) -> ConstrainReport:
    """Derive constraints for one recipe from results files and write them through tomlkit.

    The recipe's name is its ``metadata.name`` (else the file stem). An excluded decision
    leaves the file untouched (the caller removes excluded recipes). Platforms no result covers
    keep the admission the recipe's current fields give them, unless ``untested`` names a policy
    to re-decide them by (a registry moving a recipe merged under ``admit`` to ``exclude``).
    """
    doc = load_recipe(recipe_path)
    metadata = _metadata_of(doc)
    name = metadata.get("name")
    recipe = str(name) if isinstance(name, str) and name else recipe_path.stem
    records, ignored = read_results(results_paths, recipe)
    try:
        previous = ConstraintFields.from_metadata(metadata)
    except DataError as exc:
        raise DataError(exc.detail, path=str(recipe_path), where="metadata") from None
    if untested is None:
        decision = derive_constraints(combine_outcomes(records), previous=previous)
    else:
        decision = derive_constraints(combine_outcomes(records), untested=untested)
    changed = False
    if not decision.excluded:
        changed = apply_constraints(doc, decision)
        if changed and write:
            atomic_write_text(recipe_path, dump_recipe(doc))
    return ConstrainReport(
        recipe, str(recipe_path), decision, changed, len(records), tuple(ignored)
    )
