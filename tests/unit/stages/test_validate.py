"""The validate stage on this machine: every result line it writes is one the schema accepts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

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
