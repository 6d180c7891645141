"""The registry's numbers, computed from its files and written into the README by a task.

``invoke registry-stats`` reads ``recipes/``, the result lines under ``data/results/`` and the
failure files under ``data/failures/``, and reports: recipes per ecosystem, how each validation
environment judged the merged recipes (pass rate, share verified by a version the tool printed),
failures by code, and the runtime versions the installs ran on. ``--write README.md`` replaces
the text between the two markers below in that file (atomically), so the README's numbers are
always the kit's, never typed by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.atomic import atomic_write_text
from automation.core.errors import DataError, ExitCode
from automation.core.layout import RegistryLayout
from automation.registry.failures import read_failure_file
from automation.registry.queue import load_queue
from automation.registry.recipes import load_recipe_model, recipe_source
from automation.registry.results import ResultLine, latest_results, read_results_file

BEGIN_MARKER = "<!-- registry-stats:begin (written by `invoke registry-stats`) -->"
END_MARKER = "<!-- registry-stats:end -->"


@dataclass(frozen=True, slots=True)
class EnvironmentStats:
    """How one environment judged every package validated for this registry (latest line)."""

    environment: str
    validated: int
    passed: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.validated if self.validated else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "validated": self.validated,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4),
        }


@dataclass
class RegistryStats:
    recipes: int = 0
    per_ecosystem: dict[str, int] = field(default_factory=dict)
    environments: list[EnvironmentStats] = field(default_factory=list)
    passing_everywhere: int = 0  # recipes whose latest line passes in every environment it has
    version_verified: int = 0  # recipes whose verify pattern matches the version the tool prints
    named_like: int = 0  # recipes whose verified executable is named like the recipe or package
    failures_by_code: dict[str, int] = field(default_factory=dict)
    runtimes: dict[str, int] = field(default_factory=dict)  # "node 26.12.1" -> install count
    held: int = 0  # queue entries waiting for a reviewer (status requires_manual)
    # What `invoke grow` spent growing it (data/grow-state.json): runs, merged, seconds.
    grow: dict[str, int | float] | None = None
    unreadable: list[str] = field(default_factory=list)  # files that could not be read

    def to_json(self) -> dict[str, Any]:
        return {
            "recipes": self.recipes,
            "per_ecosystem": self.per_ecosystem,
            "passing_everywhere": self.passing_everywhere,
            "version_verified": self.version_verified,
            "named_like": self.named_like,
            "environments": [e.to_json() for e in self.environments],
            "failures_by_code": self.failures_by_code,
            "runtimes": self.runtimes,
            "held": self.held,
            "grow": self.grow,
            "unreadable": self.unreadable,
        }


@dataclass(frozen=True, slots=True)
class _RecipeFacts:
    ecosystem: str
    version_verified: bool
    named_like: bool


def _facts_of(path: Path) -> _RecipeFacts:
    recipe = load_recipe_model(path, strict=False)
    source = recipe_source(recipe)
    ecosystem, _, identifier = (source or "other:").partition(":")
    verify = recipe.verify
    patterns = (verify.pattern, *verify.patterns) if verify else ()
    command = verify.command.split() if verify and verify.command else []
    executable = command[0] if command else ""
    # An npm package's scope is not part of its command (@scope/tool -> tool).
    package = identifier.rsplit("/", 1)[-1].lower()
    return _RecipeFacts(
        ecosystem=ecosystem,
        version_verified=any("{version}" in p for p in patterns),
        named_like=bool(executable) and executable.lower() in {recipe.name.lower(), package},
    )


def _all_results(layout: RegistryLayout, unreadable: list[str]) -> list[ResultLine]:
    lines: list[ResultLine] = []
    if not layout.results_dir.is_dir():
        return lines
    # Batch folders sort by their time stamp: later lines supersede earlier ones.
    for path in sorted(layout.results_dir.glob("*/*.jsonl")):
        scan = read_results_file(path)
        if scan.problems:
            unreadable.append(str(path.relative_to(layout.root)))
        lines.extend(scan.lines)
    return lines


def _sorted_counts(counter: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def compute_stats(layout: RegistryLayout) -> RegistryStats:
    """Every number from the registry's own files; a file that cannot be read is listed."""
    stats = RegistryStats()
    names: set[str] = set()
    per_ecosystem: Counter[str] = Counter()
    for path in layout.recipe_files():
        try:
            facts = _facts_of(path)
        except DataError:
            stats.unreadable.append(str(path.relative_to(layout.root)))
            continue
        per_ecosystem[facts.ecosystem] += 1
        stats.version_verified += facts.version_verified
        stats.named_like += facts.named_like
        names.add(path.stem)
    stats.recipes = sum(per_ecosystem.values())
    stats.per_ecosystem = _sorted_counts(per_ecosystem)

    every = latest_results(_all_results(layout, stats.unreadable))
    # Pass rates over every package the kit validated here, merged or not.
    stats.environments = _environment_stats(every.values())
    latest = {key: line for key, line in every.items() if line.recipe in names}
    by_recipe: dict[str, list[ResultLine]] = {}
    for line in latest.values():
        by_recipe.setdefault(line.recipe, []).append(line)
    stats.passing_everywhere = sum(
        1 for lines in by_recipe.values() if all(x.status == "pass" for x in lines)
    )
    runtimes: Counter[str] = Counter()
    for line in latest.values():
        for runtime in line.runtimes:
            runtimes[f"{runtime.get('name', '?')} {runtime.get('version') or '?'}"] += 1
    stats.runtimes = _sorted_counts(runtimes)
    stats.failures_by_code = _failure_codes(layout, stats.unreadable)
    stats.held = _held(layout, stats.unreadable)
    stats.grow = _grow_spent(layout, stats.unreadable)
    return stats


def _held(layout: RegistryLayout, unreadable: list[str]) -> int:
    if not layout.queue.exists():
        return 0
    try:
        return sum(1 for e in load_queue(layout.queue).entries if e.status == "requires_manual")
    except DataError:
        unreadable.append(str(layout.queue.relative_to(layout.root)))
        return 0


def _grow_spent(layout: RegistryLayout, unreadable: list[str]) -> dict[str, int | float] | None:
    """Every `invoke grow` run the state file records (finished ones and the current one)."""
    from automation.stages.grow import load_state, state_path

    try:
        state = load_state(layout)
    except DataError:
        unreadable.append(str(state_path(layout).relative_to(layout.root)))
        return None
    if state is None:
        return None
    current = state["rounds"]
    runs = [*state["history"]]
    merged = sum(int(h.get("merged", 0)) for h in runs) + sum(
        int(b.get("merged", 0)) for r in current for b in r.get("batches", [])
    )
    seconds = sum(float(h.get("seconds", 0)) for h in runs) + float(state.get("seconds", 0))
    return {"runs": len(runs) + 1, "merged": merged, "seconds": round(seconds, 1)}


def _environment_stats(lines: Iterable[ResultLine]) -> list[EnvironmentStats]:
    validated: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for line in lines:
        if line.status == "skipped":
            continue
        validated[line.environment] += 1
        passed[line.environment] += line.status == "pass"
    return [EnvironmentStats(env, validated[env], passed[env]) for env in sorted(validated)]


def _failure_codes(layout: RegistryLayout, unreadable: list[str]) -> dict[str, int]:
    """The latest failure per (package, environment), counted by category/subcategory."""
    if not layout.failures_dir.is_dir():
        return {}
    latest: dict[tuple[str, str], str] = {}
    for path in sorted(layout.failures_dir.glob("*.jsonl")):
        scan = read_failure_file(path)
        if scan.problems:
            unreadable.append(str(path.relative_to(layout.root)))
        for record in sorted(scan.records, key=lambda r: r.timestamp):
            code = record.category + (f"/{record.subcategory}" if record.subcategory else "")
            latest[(record.package_id or record.name, record.environment)] = code
    return _sorted_counts(Counter(latest.values()))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def render_markdown(stats: RegistryStats) -> str:
    """The README section: short tables, nothing that changes when nothing changed."""
    out = [
        f"**{stats.recipes} recipes** in `recipes/`, "
        f"{stats.passing_everywhere} passing in every environment that validated them; "
        f"{_percent(stats.version_verified, stats.recipes)} verify by a version the tool prints, "
        f"{_percent(stats.named_like, stats.recipes)} run an executable named like the recipe or "
        "its package.",
        "",
        "| ecosystem | recipes |",
        "|---|---:|",
        *(f"| {eco} | {count} |" for eco, count in stats.per_ecosystem.items()),
        "",
        "| environment | packages validated | passed | pass rate |",
        "|---|---:|---:|---:|",
        *(
            f"| {e.environment} | {e.validated} | {e.passed} | {_percent(e.passed, e.validated)} |"
            for e in stats.environments
        ),
    ]
    if stats.failures_by_code:
        out += ["", "| failure code (latest per package and environment) | count |", "|---|---:|"]
        out += [f"| `{code}` | {n} |" for code, n in stats.failures_by_code.items()]
    if stats.held:
        out += [
            "",
            f"{stats.held} validated recipes wait for a reviewer (queue status `requires_manual`: "
            "a gate held them, or they failed on a platform their constraints cannot exclude).",
        ]
    if stats.grow and stats.grow["merged"]:
        runs, merged, seconds = stats.grow["runs"], stats.grow["merged"], stats.grow["seconds"]
        out += [
            "",
            f"Grown by {runs} `invoke grow` runs: {merged} recipes merged in "
            f"{seconds / 3600:.1f} h of growing, {seconds / merged:.1f} s per merged recipe "
            "(seeding, generation, three environments and failures included).",
        ]
    if stats.runtimes:
        out += ["", "Runtimes the merged recipes were validated on (installs): "]
        out[-1] += ", ".join(f"{name} ({n})" for name, n in stats.runtimes.items()) + "."
    if stats.unreadable:
        out += ["", "Files that could not be read: " + ", ".join(stats.unreadable) + "."]
    return "\n".join(out) + "\n"


def replace_section(text: str, section: str, *, where: str) -> str:
    """``text`` with the part between the markers replaced by ``section``."""
    begin, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if begin < 0 or end < 0 or end < begin:
        raise DataError(
            f"no registry-stats section: add the lines {BEGIN_MARKER!r} and {END_MARKER!r}",
            path=where,
        )
    head = text[: begin + len(BEGIN_MARKER)]
    return head + "\n" + section + text[end:]


def write_section(readme: Path, stats: RegistryStats) -> bool:
    """Rewrite the README section; True when the file changed."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path=str(readme)) from None
    updated = replace_section(text, render_markdown(stats), where=str(readme))
    if updated == text:
        return False
    atomic_write_text(readme, updated)
    return True


@dataclass(frozen=True, slots=True)
class StatsReport:
    """What ``invoke registry-stats`` prints; ``written`` names the README it rewrote."""

    stats: RegistryStats
    readme: str | None = None
    changed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**self.stats.to_json(), "readme": self.readme, "readme_changed": self.changed}

    def to_text(self) -> str:
        text = render_markdown(self.stats)
        if self.readme:
            text += f"\n{self.readme}: " + ("section rewritten" if self.changed else "up to date")
        return text

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK


def registry_stats(layout: RegistryLayout, *, readme: Path | None = None) -> StatsReport:
    """Compute the numbers; with ``readme``, rewrite its section between the markers."""
    stats = compute_stats(layout)
    if readme is None:
        return StatsReport(stats)
    return StatsReport(stats, str(readme), write_section(readme, stats))
