"""The validate stage on this machine: every result line it writes is one the schema accepts."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from automation.core.errors import StoppedError, UsageError
from automation.core.layout import RegistryLayout
from automation.core.process import Completed
from automation.registry.results import read_results_file
from automation.registry.staging import GenerationOutcome, Staging
from automation.stages.validate import validate_batch_locally
from automation.stages.validate_local import LocalValidator

BATCH = "2026-01-02-030405-pypi"


class PerPackageRunner:
    """pip "installs" each package's executable; each executable answers as scripted.

    ``verify`` maps an executable to what it prints on ``--version`` (exit 0), or None for a tool
    that exits non-zero on every flag. A package in ``broken`` fails to install.
    """

    def __init__(self, verify: Mapping[str, str | None], broken: Sequence[str] = ()) -> None:
        self.verify = verify
        self.broken = set(broken)

    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        if "venv" in argv:
            return Completed(0, "")
        if "pip" in argv:
            package = argv[-1]
            if package in self.broken:
                return Completed(1, "error: whatever went wrong")
            bin_dir = Path(argv[argv.index("--python") + 1]).parent
            bin_dir.mkdir(parents=True, exist_ok=True)
            (bin_dir / package).write_text("#!/bin/sh\n")
            (bin_dir / package).chmod(0o755)
            return Completed(0, "")
        if "-c" in argv:  # the installed-version probe
            return Completed(0, "1.2.3\n")
        printed = self.verify.get(Path(argv[0]).name)
        if printed is None:
            return Completed(2, "unknown option")
        return Completed(0, printed) if argv[1:] == ["--version"] else Completed(2, "no")


def _pipx_recipe(name: str) -> str:
    return (
        f'[metadata]\nname = "{name}"\n\n'
        f'[[steps]]\naction = "pipx_install"\npackage = "{name}"\nexecutables = ["{name}"]\n\n'
        f'[verify]\ncommand = "{name} --version"\n'
    )


# An action local validation does not run (a Homebrew bottle): the skip.
BOTTLE_RECIPE = (
    '[metadata]\nname = "bottle-tool"\n\n[[steps]]\naction = "homebrew"\nformula = "bottle-tool"\n'
)


@pytest.fixture
def batch(tmp_path: Path) -> RegistryLayout:
    """A staged batch with one recipe for each outcome local validation can have."""
    layout = RegistryLayout.at(tmp_path)
    staging = Staging(layout, BATCH)
    for name in ("good-tool", "quiet-tool", "broken-tool", "silent-tool"):
        staging.record(GenerationOutcome(name, f"pypi:{name}", "generated"), _pipx_recipe(name))
    staging.record(
        GenerationOutcome("bottle-tool", "homebrew:bottle-tool", "generated"), BOTTLE_RECIPE
    )
    return layout


def test_every_local_status_is_written_as_a_schema_valid_line(batch: RegistryLayout) -> None:
    """pass, pass without a printed version, both kinds of fail and a skip all go through the
    real (schema-checking) writer and read back unchanged, with no problem reported."""
    runner = PerPackageRunner(
        {"good-tool": "good-tool 1.2.3\n", "quiet-tool": "usage\n", "silent-tool": None},
        broken=["broken-tool"],
    )
    report = validate_batch_locally(
        batch, BATCH, validator=LocalValidator(runner=runner, backoff=0)
    )

    scan = read_results_file(batch.results_file(BATCH, "local"))
    assert scan.problems == []
    read_back = {line.recipe: (line.status, line.category, line.subcategory) for line in scan.lines}
    assert read_back == {
        "good-tool": ("pass", None, None),
        "quiet-tool": ("pass", None, "version_not_printed"),
        "broken-tool": ("fail", "install_failed", "package_manager_error"),
        "silent-tool": ("fail", "verify_failed", "nonzero_exit"),
        "bottle-tool": ("skipped", None, "unsupported_action"),
    }
    assert [line.to_json() for line in scan.lines] == [line.to_json() for line in report.lines]
    skipped = next(line for line in scan.lines if line.recipe == "bottle-tool")
    assert "not ['homebrew']" in skipped.message  # the reason travels in the message
    assert report.counts == {"pass": 2, "fail": 2, "skipped": 1}


def test_a_skip_reads_as_its_reason_in_the_text_report(batch: RegistryLayout) -> None:
    runner = PerPackageRunner({"good-tool": "good-tool 1.2.3\n"})
    report = validate_batch_locally(
        batch, BATCH, validator=LocalValidator(runner=runner, backoff=0)
    )
    bottle_line = next(row for row in report.to_text().splitlines() if "bottle-tool" in row)
    assert bottle_line.split() == ["skipped", "bottle-tool", "unsupported_action"]


class EveryOutcomeRunner(PerPackageRunner):
    """As :class:`PerPackageRunner`, plus: pip times out for ``slow-tool``, the network fails for
    ``offline-tool``, ``hollow-tool`` installs without its executable and ``hang-tool`` hangs
    on every verify flag."""

    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        if "pip" in argv and argv[-1] == "slow-tool":
            return Completed(-9, "", timed_out=True)
        if "pip" in argv and argv[-1] == "offline-tool":
            return Completed(1, "ERROR: Temporary failure in name resolution")
        if "pip" in argv and argv[-1] == "hollow-tool":
            return Completed(0, "")
        if Path(argv[0]).name == "hang-tool":
            return Completed(-9, "", timed_out=True)
        return super().__call__(argv, env, cwd, timeout)


def test_every_local_outcome_writes_a_schema_valid_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each outcome local validation can produce (pass, every kind of fail, each skip: an action
    it does not run, a platform the recipe excludes, a toolchain this machine lacks) goes through
    the real writer (automation.registry.results, schema-checked) and reads back valid."""
    from automation.containers.tsuku import TsukuBinary
    from automation.core import schemas
    from automation.stages.validate_local import TsukuValidator

    layout = RegistryLayout.at(tmp_path / "registry")
    staging = Staging(layout, BATCH)
    pypi = ("good-tool", "slow-tool", "offline-tool", "hollow-tool", "hang-tool", "broken-tool")
    for name in pypi:
        staging.record(GenerationOutcome(name, f"pypi:{name}", "generated"), _pipx_recipe(name))
    staging.record(
        GenerationOutcome("bottle-tool", "homebrew:bottle-tool", "generated"), BOTTLE_RECIPE
    )
    npm_recipe = (
        '[metadata]\nname = "node-tool"\n\n[[steps]]\naction = "npm_install"\n'
        'package = "node-tool"\nexecutables = ["node-tool"]\n'
    )
    staging.record(GenerationOutcome("node-tool", "npm:node-tool", "generated"), npm_recipe)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no npm on this machine
    runner = EveryOutcomeRunner(
        {"good-tool": "good-tool 1.2.3\n", "hang-tool": None}, broken=["broken-tool"]
    )
    validator = LocalValidator(runner=runner, backoff=0, attempts=2)
    report = validate_batch_locally(layout, BATCH, validator=validator)

    scan = read_results_file(layout.results_file(BATCH, "local"))
    assert scan.problems == []
    got = {line.recipe: (line.status, line.category, line.subcategory) for line in scan.lines}
    assert got == {
        "good-tool": ("pass", None, None),
        "slow-tool": ("fail", "install_failed", "timeout"),
        "offline-tool": ("fail", "network_error", "transient_network"),
        "hollow-tool": ("fail", "verify_failed", "missing_executable"),
        "hang-tool": ("fail", "verify_failed", "timeout"),
        "broken-tool": ("fail", "install_failed", "package_manager_error"),
        "bottle-tool": ("skipped", None, "unsupported_action"),
        "node-tool": ("skipped", None, "missing_toolchain"),
    }
    offline = next(line for line in scan.lines if line.recipe == "offline-tool")
    assert offline.attempts == 2  # only network trouble is retried
    gap = next(line for line in scan.lines if line.recipe == "node-tool")
    assert gap.message.startswith("environment lacks npm: ")
    assert "this machine lacks npm" in report.to_text()

    # A platform the recipe excludes (tsuku's installer decides it before installing).
    excluded = (
        '[metadata]\nname = "mac-tool"\nsupported_os = ["darwin"]\n\n[[steps]]\n'
        'action = "pipx_install"\npackage = "mac-tool"\nexecutables = ["mac-tool"]\n'
    )
    staging.record(GenerationOutcome("mac-tool", "pypi:mac-tool", "generated"), excluded)
    never = TsukuBinary(str(tmp_path / "no-tsuku"), "0.13.0", "tsuku version 0.13.0")
    validate_batch_locally(layout, BATCH, validator=TsukuValidator(never, runner=runner))
    lines = read_results_file(layout.results_file(BATCH, "local"))
    assert lines.problems == []
    mac = lines.latest()[("mac-tool", "local")]
    assert (mac.status, mac.category, mac.subcategory) == ("skipped", None, "unsupported_platform")
    for line in lines.lines:
        assert schemas.check(line.to_json(), "results-line", path="x") == []


class MeetingRunner(PerPackageRunner):
    """As :class:`PerPackageRunner`, but the installs of ``meeting`` packages each wait until
    all of them have started: only installs that run side by side can finish."""

    def __init__(self, verify: Mapping[str, str | None], meeting: Sequence[str]) -> None:
        super().__init__(verify)
        self.meeting = set(meeting)
        self.barrier = threading.Barrier(len(meeting), timeout=10)

    def __call__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float
    ) -> Completed:
        if "pip" in argv and argv[-1] in self.meeting:
            self.barrier.wait()  # BrokenBarrierError (a failed test) if they ran one by one
        return super().__call__(argv, env, cwd, timeout)


def test_jobs_install_recipes_side_by_side_and_record_every_line(batch: RegistryLayout) -> None:
    """With ``jobs=2`` two installs are under way at once, and the batch ends with the same lines
    (and the same discovered ``[verify]``) as one install at a time would write."""
    verify = {"good-tool": "good-tool 1.2.3\n", "quiet-tool": "usage\n", "silent-tool": None}
    runner = MeetingRunner(verify, meeting=("good-tool", "quiet-tool"))

    report = validate_batch_locally(
        batch, BATCH, validator=LocalValidator(runner=runner, backoff=0), jobs=2
    )

    scan = read_results_file(batch.results_file(BATCH, "local"))
    assert scan.problems == []
    assert {line.recipe: line.status for line in scan.lines} == {
        "good-tool": "pass",
        "quiet-tool": "pass",
        "broken-tool": "fail",  # installs, but prints nothing on any version flag
        "silent-tool": "fail",
        "bottle-tool": "skipped",
    }
    assert report.counts == {"pass": 2, "fail": 2, "skipped": 1}
    staged = Staging(batch, BATCH).recipe_path("good-tool").read_text(encoding="utf-8")
    assert 'pattern = "{version}"' in staged


def test_a_stop_with_jobs_keeps_the_installs_under_way_and_starts_no_more(
    batch: RegistryLayout,
) -> None:
    """The guard refuses the third recipe: the two already installing are recorded, the rest
    are left for a rerun, and the report says why it stopped."""
    runner = PerPackageRunner({"good-tool": "good-tool 1.2.3\n", "quiet-tool": "usage\n"})
    asked: list[str] = []

    def guard(ecosystem: str) -> None:
        asked.append(ecosystem)
        if len(asked) == 3:
            raise StoppedError("emergency stop")

    report = validate_batch_locally(
        batch, BATCH, validator=LocalValidator(runner=runner, backoff=0), jobs=2, guard=guard
    )

    recorded = {line.recipe for line in read_results_file(batch.results_file(BATCH, "local")).lines}
    first_two = {o.name for o in Staging(batch, BATCH).generated()[:2]}
    assert recorded == first_two
    assert report.stopped == "emergency stop"


def test_jobs_below_one_is_a_usage_error(batch: RegistryLayout) -> None:
    with pytest.raises(UsageError, match="jobs"):
        validate_batch_locally(batch, BATCH, jobs=0)
