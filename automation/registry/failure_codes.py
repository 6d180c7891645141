"""Stable failure codes: canonical category x specific subcategory, and what each one causes.

One table (:func:`codes`) says, for every subcategory this kit emits, what it means, who emits it,
whether it is transient (worth retrying at once) and which queue transition it causes.
The shared rows are below; each ecosystem declares the rows only it emits
(``FACTS.failure_codes``, same format; a row whose meaning is ``-`` adds emitters to a shared row).
``docs/FAILURE-CODES.md`` is generated from it (:func:`render_markdown`) and a test checks that
the document is current and that every subcategory literal in the package's source is listed
(:func:`scan_source`).

Some emitters write a raw category that is not one of the canonical six (the container installer
writes ``timeout``, ``missing_runtime``, ``unsupported_platform``; the container runner writes
``container_error``); :func:`canonical` maps a raw pair to the canonical one.

``unclassified`` and ``unexpected_<exception>`` exist only as fallbacks: seeing them in a failure
record means a classifier missed a case and should get a specific code.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from automation.core.ecosystem_facts import all_facts, ecosystem_packages
from automation.registry.failures import CATEGORIES

# Queue transitions a failure causes (merge applies them to the entry).
FAILED_BACKOFF = "failed+backoff"  # status failed, failure_count + 1, next_retry_at = backoff
BLOCKED = "blocked"  # waits for the recipes in blocked_by; requeued when they land
EXCLUDED = "excluded"  # no rerun can succeed: never selected again
REQUIRES_MANUAL = "requires_manual"  # a human decides
NO_TRANSITION = "none"  # a note on a passing or skipped line, not a failure
# An environment gap: the entry stays pending, held for an environment that has what it needs.
PENDING = "pending"
TRANSITIONS = (FAILED_BACKOFF, BLOCKED, EXCLUDED, REQUIRES_MANUAL, PENDING, NO_TRANSITION)
QUEUE_STATUS = {
    FAILED_BACKOFF: "failed",
    BLOCKED: "blocked",
    EXCLUDED: "excluded",
    REQUIRES_MANUAL: "requires_manual",
    PENDING: "pending",
}
# Raw categories written by the container installer/runner, and their canonical reading.
RAW_CATEGORIES = ("timeout", "missing_runtime", "unsupported_platform", "container_error")
FALLBACKS = ("unclassified", "unexpected_<exception>")

# category | subcategory | transient | transition | raw category | emitters | meaning
# ("-" = none; emitters are paths under automation/, comma-separated; a trailing "!" on the
# subcategory marks a fallback)
_TABLE = """
recipe_not_found | not_found | no | excluded | - | stages/generate.py | registry answered 404 for
    the identifier
recipe_not_found | package_not_found | no | excluded | - | containers/validate.py | the package
    manager cannot find the package (404)
recipe_not_found | formula_disabled | no | excluded | - | ops/maintenance.py | the formula is
    disabled upstream
recipe_not_found | unsupported_ecosystem | no | excluded | - | ops/maintenance.py | no deterministic
    builder for the source prefix
recipe_not_found | no_source_prefix | no | requires_manual | - | ops/maintenance.py | the source has
    no <ecosystem>: prefix
network_error | rate_limited | yes | failed+backoff | - | stages/generate.py | HTTP 429 after
    retries
network_error | connection_error | yes | failed+backoff | - | stages/generate.py,
    containers/installer.py, containers/validate.py, containers/tsuku.py | connection refused, reset
    or broken
network_error | upstream_unavailable | yes | failed+backoff | - | stages/generate.py | registry 5xx
    after retries
network_error | timeout | yes | failed+backoff | - | stages/generate.py, containers/installer.py,
    containers/tsuku.py | a request timed out or passed its overall deadline (stalled or slow-drip
    upstream)
network_error | dns_error | yes | failed+backoff | - | containers/installer.py, containers/tsuku.py
    | name resolution failed
network_error | tls_error | no | failed+backoff | - | containers/installer.py, containers/tsuku.py |
    certificate verification failed (a CA-bundle problem: not retried at once)
network_error | transient_network | yes | failed+backoff | - | stages/validate_local.py | the
    package manager's output shows a network failure
network_error | http_<status> | yes | failed+backoff | - | containers/installer.py | a download
    answered 408, 429 or 5xx
generation_failed | no_executables | no | excluded | - | ecosystems/packaged.py,
    ecosystems/toolchain.py | the release declares no command-line executables
generation_failed | runtime_unsatisfiable | no | failed+backoff | - | ecosystems/packaged.py | the
    package's declared runtime requirement excludes the runtime version tsuku installs (no
    release tsuku would install admits it)
generation_failed | library_only | no | excluded | - | ops/maintenance.py | a library: no
    executables where a tool is expected
generation_failed | unsafe_name | no | excluded | - | stages/generate.py, ecosystems/packaged.py,
    ecosystems/toolchain.py | a recipe, executable or install-target
    name is unsafe
generation_failed | unsupported_ecosystem | no | excluded | - | ecosystems/packaged.py,
    ecosystems/toolchain.py | no builder for the source's ecosystem
generation_failed | bad_response | no | failed+backoff | - | stages/generate.py | a registry
    response is not in the expected shape
generation_failed | response_too_large | no | failed+backoff | - | stages/generate.py | a registry
    response is larger than the per-request cap (declared, or an endless body)
generation_failed | builder_error | no | failed+backoff | - | stages/generate.py | the builder
    raised (a bug in this kit)
generation_failed | unexpected_<exception>! | no | failed+backoff | - | stages/generate.py |
    fallback: an adapter exception no classifier knows
missing_dep | dependency_not_found | no | failed+backoff | - | containers/tsuku.py | a recipe tsuku
    needs for the recipe's dependencies is in no registry it reads (tsuku exit 3, or exit 8 naming
    the missing recipes)
missing_dep | dependency_failed | no | failed+backoff | - | containers/tsuku.py | a dependency tsuku
    installs before the recipe failed (tsuku exit 8)
install_failed | timeout | no | failed+backoff | - | stages/validate_local.py,
    containers/validate.py, containers/tsuku.py | the install exceeded its time limit
install_failed | install | no | failed+backoff | timeout | containers/installer.py | raw installer
    code: install timed out
install_failed | container_exec | yes | failed+backoff | timeout | containers/validate.py | raw: the
    container gave no answer within the timeout
install_failed | engine | yes | failed+backoff | container_error | containers/validate.py | raw: the
    container engine failed (start, copy); the line is skipped
install_failed | no_result | no | failed+backoff | container_error | containers/validate.py | raw:
    the installer printed no result line; the line is skipped
install_failed | runtime_version | no | failed+backoff | - | containers/installer.py | needs
    another version of the language runtime
install_failed | build_failed | no | failed+backoff | - | containers/installer.py | building from
    source failed (wheel, native addon)
install_failed | package_manager_error | no | failed+backoff | - | stages/validate_local.py | the
    package manager failed for another reason
install_failed | exit_<code> | no | failed+backoff | - | containers/installer.py,
    containers/tsuku.py | an install command exited non-zero
install_failed | http_<status> | no | failed+backoff | - | containers/installer.py | a download
    answered 4xx
install_failed | bad_response | no | failed+backoff | - | containers/installer.py | download
    metadata is not JSON
install_failed | checksum_mismatch | no | failed+backoff | - | containers/installer.py,
    containers/tsuku.py | a downloaded file fails its sha256
install_failed | checksum_missing | no | failed+backoff | - | ops/drift.py | no sha256 published
    for the asset
install_failed | checksum_drift | no | failed+backoff | - | ops/drift.py | the artifact no longer
    matches its recorded sha256
install_failed | artifact_missing | no | failed+backoff | - | ops/drift.py | the recorded artifact
    URL is gone (404)
install_failed | unsafe_archive | no | failed+backoff | - | containers/installer.py | an archive
    member escapes the tree, is a device or a link to no regular file, or it expands past the cap
install_failed | unknown_archive | no | failed+backoff | - | containers/installer.py | the download
    is not a known archive format
install_failed | bad_archive | no | failed+backoff | - | containers/installer.py | the archive
    cannot be read
install_failed | bad_recipe | no | failed+backoff | - | containers/installer.py,
    containers/tsuku.py, stages/validate_local.py | the recipe is malformed for the installer
install_failed | bad_endpoint | no | failed+backoff | - | containers/installer.py | an
    AUTOMATION_ENDPOINT_* value the toolchain is pointed at is not an http(s) base URL
install_failed | missing_executable | no | failed+backoff | - | containers/installer.py | a declared
    executable was not installed
install_failed | layout_mismatch | no | failed+backoff | - | containers/installer.py | the archive
    keeps the binary under one more top-level directory than strip_dirs removes
install_failed | unresolved_placeholder | no | failed+backoff | - | containers/installer.py | a URL
    template needs a version source the installer lacks
install_failed | no_version | no | failed+backoff | - | containers/installer.py, containers/tsuku.py
    | no version could be resolved
install_failed | unknown_action | no | failed+backoff | - | containers/installer.py | a step action
    the installer does not support
install_failed | unclassified! | no | failed+backoff | - | stages/merge.py, containers/validate.py |
    fallback: a failing line without a subcategory
verify_failed | missing_executable | no | failed+backoff | - | stages/validate_local.py,
    containers/installer.py | a declared executable is missing or not executable
verify_failed | nonzero_exit | no | failed+backoff | - | stages/validate_local.py | every verify
    candidate exited non-zero
verify_failed | timeout | no | failed+backoff | - | stages/validate_local.py,
    containers/validate.py, containers/tsuku.py | the verify command timed out
verify_failed | verify | no | failed+backoff | timeout | containers/installer.py | raw installer
    code: verify timed out
verify_failed | exit_code | no | failed+backoff | - | containers/installer.py, containers/tsuku.py |
    verify exited with an unexpected status
verify_failed | pattern_mismatch | no | failed+backoff | - | containers/installer.py,
    containers/tsuku.py | verify output does not match the pattern
verify_failed | unclassified! | no | failed+backoff | - | containers/validate.py | fallback: a
    verify failure without a subcategory
environment_gap | missing_toolchain | no | pending | - | containers/validate.py,
    stages/validate_local.py | the validation environment lacks a toolchain or runtime the
    install needs (a language toolchain, python3, zstd...): not the package's fault. The
    result line is skipped (the message starts "environment lacks <tool>:"); merge records it,
    keeps the entry pending and gives the breaker no vote
environment_gap | image_missing | no | pending | - | containers/validate.py | the environment's
    validation image disappeared from the engine during the run (make setup-containers
    ENVS=<env>); the result line is skipped, as for missing_toolchain
environment_gap | <runtime> | no | pending | missing_runtime | containers/installer.py,
    containers/validate.py | raw installer code: the missing tool's name (python3, zstd...),
    read as missing_toolchain
"""
# Subcategories on passing or skipped lines: notes, never failures (no queue transition).
_NOTES = """
- | version_not_printed | no | none | - | stages/validate_local.py | pass: verify exits 0 but does
    not print the version
- | no_verify | no | none | - | containers/installer.py, containers/tsuku.py | pass: the recipe has
    no [verify] command
- | unsupported_action | no | none | - | stages/validate_local.py | skipped: local validation
    cannot run this action
- | unsupported_platform | no | none | - | containers/validate.py, stages/validate_local.py |
    skipped: the platform is not supported by the recipe
- | container_error | no | none | - | containers/validate.py | skipped: the container could not
    run the check
- | constraints | no | none | unsupported_platform | containers/installer.py | skipped: the
    recipe's constraints exclude this platform
- | no_matching_step | no | none | unsupported_platform | containers/installer.py | skipped: no
    step applies to this platform
- | failed_locally | no | none | - | containers/validate.py | skipped: not tried in this
    environment because the recipe failed in local validation on the same os, libc and
    architecture with a package-level cause or a timeout (not a network failure or an
    environment gap); the local line is the verdict, so this line is neither a pass nor a
    platform failure
- | held_for_review | no | none | - | containers/validate.py | skipped: not tried in this
    environment because the recipe passed local validation but a gate decided by the recipe
    alone (a run_command action; a [verify] with no version under merge.verify = "version")
    holds it for review; merge holds it (requires_manual) and never merges it on this line
"""


@dataclass(frozen=True, slots=True)
class FailureCode:
    """One row of the table.

    ``subcategory`` is a literal, or a pattern ending in one ``<placeholder>``
    (``http_<status>``). ``raw_category`` is what the emitter writes when that differs from the
    canonical ``category``. ``transition`` applies when the failure carries no ``blocked_by``.
    """

    category: str
    subcategory: str
    meaning: str
    emitters: tuple[str, ...]
    transient: bool
    transition: str
    raw_category: str | None = None
    fallback: bool = False

    @property
    def is_pattern(self) -> bool:
        return "<" in self.subcategory

    def matches(self, subcategory: str) -> bool:
        if not self.is_pattern:
            return subcategory == self.subcategory
        prefix = self.subcategory.split("<", 1)[0]
        return subcategory.startswith(prefix) and len(subcategory) > len(prefix)


def _parse(text: str) -> tuple[FailureCode, ...]:
    rows = []
    joined: list[str] = []
    if not text.strip():
        return ()
    for line in text.strip().splitlines():
        if line.startswith(" ") and joined:
            joined[-1] += " " + line.strip()  # a continuation of a long row
        else:
            joined.append(line)
    for line in joined:
        category, sub, transient, transition, raw, emitters, meaning = (
            cell.strip() for cell in line.split("|", 6)
        )
        if transition not in TRANSITIONS or transient not in ("yes", "no"):
            raise ValueError(f"bad failure-code row: {line}")
        rows.append(
            FailureCode(
                category="" if category == "-" else category,
                subcategory=sub.rstrip("!"),
                meaning=meaning,
                emitters=tuple(f"automation/{e.strip()}" for e in emitters.split(",")),
                transient=transient == "yes",
                transition=transition,
                raw_category=None if raw == "-" else raw,
                fallback=sub.endswith("!"),
            )
        )
    return tuple(rows)


def _merge(shared: tuple[FailureCode, ...], declared: list[FailureCode]) -> list[FailureCode]:
    """Shared rows in order; a declared row with meaning ``-`` extends the shared row's emitters,
    any other goes after the last row of its category."""
    rows = list(shared)
    for row in declared:
        index = next(
            (
                i
                for i, r in enumerate(rows)
                if (r.category, r.subcategory) == (row.category, row.subcategory)
            ),
            None,
        )
        if row.meaning == "-":
            if index is None:
                raise ValueError(f"failure code {row.category}/{row.subcategory} extends no row")
            rows[index] = replace(rows[index], emitters=(*rows[index].emitters, *row.emitters))
            continue
        if index is not None:
            raise ValueError(f"failure code {row.category}/{row.subcategory} is declared twice")
        same = [i for i, r in enumerate(rows) if r.category == row.category]
        rows.insert(same[-1] + 1 if same else len(rows), row)
    return rows


@functools.cache
def _tables(packages: tuple[str, ...]) -> tuple[tuple[FailureCode, ...], tuple[FailureCode, ...]]:
    declared = [row for facts in all_facts() for row in _parse(facts.failure_codes)]
    codes = _merge(_parse(_TABLE), [r for r in declared if r.category])
    notes = _merge(_parse(_NOTES), [r for r in declared if not r.category])
    return tuple(codes), tuple(notes)


def codes() -> tuple[FailureCode, ...]:
    """Every failure code: the shared rows and the ecosystems' rows."""
    return _tables(ecosystem_packages())[0]


def notes() -> tuple[FailureCode, ...]:
    """Every note code (passing or skipped lines): shared and the ecosystems'."""
    return _tables(ecosystem_packages())[1]


def lookup(category: str, subcategory: str) -> FailureCode | None:
    """The row for a (canonical or raw) category and a subcategory; literals before patterns."""
    rows = [
        c
        for c in (*codes(), *notes())
        if category in (c.category, c.raw_category) and c.matches(subcategory)
    ]
    rows.sort(key=lambda c: c.is_pattern)
    return rows[0] if rows else None


def canonical(category: str, subcategory: str) -> tuple[str, str]:
    """The canonical (category, subcategory) for a raw pair; unknown pairs stay as they are."""
    row = lookup(category, subcategory)
    if row is not None and row.category:
        return row.category, subcategory
    return category, subcategory


ENVIRONMENT_GAP = "environment_gap"
MISSING_TOOLCHAIN = "missing_toolchain"
IMAGE_MISSING = "image_missing"
# Subcategories of a skipped result line that record an environment gap, not a verdict.
GAP_SUBCATEGORIES = frozenset({MISSING_TOOLCHAIN, IMAGE_MISSING})
_GAP_PREFIX = "environment lacks "


def is_environment_gap(status: str, subcategory: str | None) -> bool:
    """A result line that says the environment could not run the check (a skipped line with
    a gap subcategory): no verdict on the package or its platform."""
    return status == "skipped" and subcategory in GAP_SUBCATEGORIES


FAILED_LOCALLY = "failed_locally"
HELD_FOR_REVIEW = "held_for_review"
# Failures that may say more about this machine or this moment than about the package.
_NOT_PACKAGE_LEVEL = frozenset({"network_error", ENVIRONMENT_GAP})


def is_package_failure(status: str, category: str | None, subcategory: str | None) -> bool:
    """A failing line whose cause is the package itself (its install or its executables), so
    another environment of the same platform need not try it: not a network failure, not a
    timeout (a loaded machine), not a transient code, not an environment gap."""
    if status != "fail" or not category or category in _NOT_PACKAGE_LEVEL:
        return False
    sub = subcategory or ""
    return sub != "timeout" and not is_transient(category, sub)


def spares_the_containers(status: str, category: str | None, subcategory: str | None) -> bool:
    """A failing ``local`` line after which the containers of the same platform need not
    install the recipe in this batch: a package failure (:func:`is_package_failure`), or an
    install or verify that ran out of time. A timeout is not the package's fault (the queue
    retries it), but the containers' longer limit would be spent the same way, and a recipe
    that failed locally does not merge from this batch whatever they say: a later batch tries
    it everywhere again."""
    if is_package_failure(status, category, subcategory):
        return True
    return status == "fail" and subcategory == "timeout" and category not in _NOT_PACKAGE_LEVEL


def gap_message(missing: str, detail: str) -> str:
    """A gap line's message: ``environment lacks cargo: <what the installer said>``."""
    head = f"{_GAP_PREFIX}{missing}"
    return f"{head}: {detail}" if detail else head


def gap_subject(message: str) -> str | None:
    """What a gap line's message says the environment lacks (``cargo``), or None."""
    first = message.split("\n", 1)[0]
    if not first.startswith(_GAP_PREFIX):
        return None
    return first[len(_GAP_PREFIX) :].split(": ", 1)[0].strip() or None


def is_specific(category: str, subcategory: str | None) -> bool:
    """True for a listed code that is not a fallback."""
    if not subcategory:
        return False
    row = lookup(category, subcategory)
    return row is not None and not row.fallback


def is_transient(category: str, subcategory: str | None) -> bool:
    """Worth retrying at once (network trouble); unknown codes are not."""
    row = lookup(category, subcategory or "")
    if row is not None:
        return row.transient
    return category == "network_error"


def _excluding() -> frozenset[str]:
    return frozenset(c.subcategory for c in codes() if c.transition == EXCLUDED)


def queue_transition(category: str, subcategory: str | None, blocked_by: tuple[str, ...]) -> str:
    """The transition a generation failure causes (one of :data:`TRANSITIONS`).

    Waiting on dependencies wins; otherwise the row decides. An unlisted pair whose subcategory
    is excluding under another category (an adapter reporting ``not_found`` as
    ``generation_failed``) is still excluded, as merge always did; everything else is retried
    with backoff.
    """
    if blocked_by:
        return BLOCKED
    sub = subcategory or ""
    row = lookup(category, sub)
    if row is not None and row.transition in (EXCLUDED, REQUIRES_MANUAL):
        return row.transition
    if (row is None or row.is_pattern) and sub in _excluding():
        return EXCLUDED
    return FAILED_BACKOFF


def queue_status(transition: str) -> str:
    """The queue status a transition sets."""
    return QUEUE_STATUS[transition]


# --- documentation ---------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """``docs/FAILURE-CODES.md``: the table, generated (never edited by hand)."""
    lines = [
        "# Failure codes",
        "",
        "<!-- Generated from automation/registry/failure_codes.py by render_markdown(); "
        "tests/unit/registry/test_failure_codes.py fails when it is stale. -->",
        "",
        "Every failure record carries one of the canonical categories and a specific",
        "subcategory from this table. *Transient* codes are retried at once by the emitter",
        "(validation attempts, HTTP retries); the *queue transition* is what merge does to the",
        "queue entry when the failure carries no `blocked_by` (with `blocked_by` it is always",
        "`blocked`). `failed+backoff` sets status `failed`, increments `failure_count` and sets",
        "`next_retry_at`; for validation failures it applies when every platform fails, while a",
        "failure on some platforms only becomes a platform constraint on the merged recipe.",
        "",
        "`unclassified` and `unexpected_<exception>` are fallbacks only: a record with one",
        "means a classifier missed a case.",
        "",
        "`environment_gap` is the one category that is not about the package: the validation",
        "environment lacked what the install needs (a toolchain, its image). Its result line is",
        "`skipped` (no verdict, so it never constrains a platform or holds a recipe); merge",
        "records it here, keeps the queue entry `pending` (held for an environment that has what",
        "it needs) and gives the ecosystem's circuit breaker no vote, success or failure.",
        "",
        "| category | subcategory | meaning | emitted by | transient | queue transition |",
        "|---|---|---|---|---|---|",
    ]
    for code in codes():
        raw = f" (written as `{code.raw_category}`)" if code.raw_category else ""
        fallback = " **fallback**" if code.fallback else ""
        lines.append(
            f"| `{code.category}`{raw} | `{code.subcategory}`{fallback} | {_cell(code.meaning)} "
            f"| {', '.join(code.emitters)} | {'yes' if code.transient else 'no'} "
            f"| {code.transition} |"
        )
    lines += [
        "",
        "## Notes on passing and skipped lines",
        "",
        "These subcategories explain a `pass` or `skipped` result; they are not failures.",
        "",
        "| written category | subcategory | meaning | emitted by |",
        "|---|---|---|---|",
    ]
    for code in notes():
        lines.append(
            f"| {f'`{code.raw_category}`' if code.raw_category else '(none)'} "
            f"| `{code.subcategory}` | {_cell(code.meaning)} | {', '.join(code.emitters)} |"
        )
    lines += [
        "",
        "## Raw categories",
        "",
        "The container installer and runner write `timeout`, `missing_runtime`,",
        "`unsupported_platform` and `container_error`; `canonical(category, subcategory)` maps",
        "them to the canonical category shown above.",
        "",
    ]
    return "\n".join(lines)


# --- source scan -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Emitted:
    """A subcategory found in the source. ``subcategory`` is a literal or ``prefix<*>``;
    ``category`` is None when the emitting site does not name it."""

    path: str
    line: int
    category: str | None
    subcategory: str


_KNOWN_CATEGORIES = frozenset((*CATEGORIES, *RAW_CATEGORIES))


def string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments of a parsed module."""
    out: dict[str, str] = {}
    for part in tree.body:
        if (
            isinstance(part, ast.Assign)
            and isinstance(part.value, ast.Constant)
            and isinstance(part.value.value, str)
        ):
            for target in part.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = part.value.value
    return out


def _resolve(part: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(part, ast.Constant) and isinstance(part.value, str):
        return part.value
    if isinstance(part, ast.Name):
        return constants.get(part.id)
    if isinstance(part, ast.Attribute):
        return constants.get(part.attr)
    return None


def _subcategories(part: ast.expr, constants: dict[str, str]) -> Iterator[str]:
    """Literal subcategories an expression can produce (patterns for f-strings)."""
    if isinstance(part, ast.IfExp):
        yield from _subcategories(part.body, constants)
        yield from _subcategories(part.orelse, constants)
    elif isinstance(part, ast.BoolOp):
        for value in part.values:
            yield from _subcategories(value, constants)
    elif isinstance(part, ast.JoinedStr):
        head = part.values[0] if part.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            yield f"{head.value}<*>"
        else:
            yield "<*>"
    elif isinstance(part, ast.Constant) and isinstance(part.value, str):
        yield part.value
    elif isinstance(part, ast.Name | ast.Attribute) and _resolve(part, constants) is not None:
        yield str(_resolve(part, constants))
    elif isinstance(part, ast.Call):
        yield "<*>"  # computed (a runtime's name): only a pattern row can cover it


def _pairs(elements: list[ast.expr], constants: dict[str, str]) -> Iterator[tuple[str, ast.expr]]:
    for first, second in itertools.pairwise(elements):
        category = _resolve(first, constants)
        if category in _KNOWN_CATEGORIES:
            yield category, second


def _subcategory_params(trees: list[tuple[str, ast.Module]]) -> dict[str, dict[int, str]]:
    """Callables taking a ``subcategory`` (or ``problem``) parameter: name -> {index: kind}.

    Covers functions, classes with such an ``__init__`` and dataclass-style annotated fields.
    """
    out: dict[str, dict[int, str]] = {}
    for _, tree in trees:
        for part in ast.walk(tree):
            params: list[str] = []
            if not isinstance(part, ast.FunctionDef | ast.ClassDef):
                continue
            if isinstance(part, ast.FunctionDef):
                params = [a.arg for a in part.args.args if a.arg not in ("self", "cls")]
            elif isinstance(part, ast.ClassDef):
                init = next(
                    (
                        b
                        for b in part.body
                        if isinstance(b, ast.FunctionDef) and b.name == "__init__"
                    ),
                    None,
                )
                if init is not None:
                    params = [a.arg for a in init.args.args if a.arg != "self"]
                else:
                    params = [
                        b.target.id
                        for b in part.body
                        if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)
                    ]
            kinds = {i: p for i, p in enumerate(params) if p in ("subcategory", "problem")}
            if kinds:
                out.setdefault(part.name, {}).update(kinds)
    return out


def _problem_subcategories(part: ast.expr, constants: dict[str, str]) -> Iterator[str]:
    """``(subcategory, message)`` problem tuples; the subcategory may be a module constant."""
    if isinstance(part, ast.Tuple) and part.elts:
        value = _resolve(part.elts[0], constants)
        if value is not None:
            yield value
    elif isinstance(part, ast.IfExp):
        yield from _problem_subcategories(part.body, constants)
        yield from _problem_subcategories(part.orelse, constants)


def _callee(part: ast.Call) -> str | None:
    if isinstance(part.func, ast.Name):
        return part.func.id
    if isinstance(part.func, ast.Attribute):
        return part.func.attr
    return None


def scan_source(package: Path, *, skip: tuple[str, ...] = ("failure_codes.py",)) -> list[Emitted]:
    """Every subcategory the package's source can emit, found in its syntax tree.

    Recognised: a category (literal or module constant) followed by the subcategory in a call's
    arguments or a tuple (``BuildFailure(...)``, ``StepFailure(...)``, classifier tables and
    returns, result tuples); the argument in a ``subcategory`` (or ``problem`` tuple) position
    of any callable that declares one, and ``subcategory=`` / ``problem=`` keywords; assignments
    to ``subcategory`` / ``problem``; keys of ``*_PROBLEMS`` tables; the ``*_SIGNATURES``
    classifier tables; merge's former excluded set. Values bound at run time are skipped;
    f-strings become prefix patterns (``http_<*>``).
    """
    constants: dict[str, str] = {}
    trees: list[tuple[str, ast.Module]] = []
    for path in sorted(package.rglob("*.py")):
        if path.name in skip:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        trees.append((path.relative_to(package.parent).as_posix(), tree))
        constants.update(string_constants(tree))
    params = _subcategory_params(trees)
    found: list[Emitted] = []

    def add(rel: str, line: int, category: str | None, values: Iterable[str]) -> None:
        for value in values:
            if value != "<*>" and value not in _KNOWN_CATEGORIES:
                found.append(Emitted(rel, line, category, value))

    for rel, tree in trees:
        for part in ast.walk(tree):
            if isinstance(part, ast.Call | ast.Tuple):
                elements = list(part.args if isinstance(part, ast.Call) else part.elts)
                for category, sub in _pairs(elements, constants):
                    values = list(_subcategories(sub, constants))
                    add(rel, sub.lineno, category, values)
                    if "<*>" in values:  # computed: only a pattern row of the category covers it
                        found.append(Emitted(rel, sub.lineno, category, "<*>"))
            if isinstance(part, ast.Call):
                keywords = {k.arg: k.value for k in part.keywords if k.arg}
                category_node = keywords.get("category")
                named = _resolve(category_node, constants) if category_node else None
                if "subcategory" in keywords:
                    add(
                        rel,
                        part.lineno,
                        named,
                        _subcategories(keywords["subcategory"], constants),
                    )
                if "problem" in keywords:
                    add(
                        rel,
                        part.lineno,
                        None,
                        _problem_subcategories(keywords["problem"], constants),
                    )
                for index, kind in params.get(_callee(part) or "", {}).items():
                    if index < len(part.args):
                        arg = part.args[index]
                        produced = (
                            _subcategories(arg, constants)
                            if kind == "subcategory"
                            else _problem_subcategories(arg, constants)
                        )
                        add(rel, arg.lineno, None, produced)
            if isinstance(part, ast.Assign):
                names = [t.id for t in part.targets if isinstance(t, ast.Name)]
                if "subcategory" in names:
                    add(rel, part.lineno, None, _subcategories(part.value, constants))
                if "problem" in names:
                    add(rel, part.lineno, None, _problem_subcategories(part.value, constants))
                if any(n.endswith("_PROBLEMS") for n in names) and isinstance(part.value, ast.Dict):
                    keys = [_resolve(k, constants) for k in part.value.keys if k is not None]
                    add(rel, part.lineno, None, iter([k for k in keys if k]))
                if any(n.endswith("_SIGNATURES") for n in names) and isinstance(
                    part.value, ast.Tuple
                ):
                    for item in part.value.elts:
                        if isinstance(item, ast.Tuple) and item.elts:
                            value = _resolve(item.elts[0], constants)
                            if value:
                                found.append(Emitted(rel, item.lineno, "network_error", value))
                if "STRUCTURAL" in names and isinstance(part.value, ast.Call):
                    for arg in part.value.args:
                        if isinstance(arg, ast.Set):
                            add(
                                rel,
                                arg.lineno,
                                None,
                                iter([v for v in (_resolve(e, constants) for e in arg.elts) if v]),
                            )
    return found


def unlisted(found: list[Emitted]) -> list[Emitted]:
    """Scan results the table does not cover."""
    missing = []
    for item in found:
        if item.subcategory == "<*>":
            # A computed value: the category needs a pattern row (unknown categories pass).
            rows = [c for c in codes() if item.category in (c.category, c.raw_category)]
            if rows and not any(c.is_pattern for c in rows):
                missing.append(item)
            continue
        sub = item.subcategory.replace("<*>", "x")
        if item.category is None:
            covered = any(c.matches(sub) for c in (*codes(), *notes()))
        else:
            covered = lookup(item.category, sub) is not None or (
                item.category in ("pass", "skipped", "fail")
            )
        if not covered:
            missing.append(item)
    return missing
