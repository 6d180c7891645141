"""The validate stage: run each staged recipe of a batch in an environment, record one line each."""

from __future__ import annotations

import time
import tomllib
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from automation.containers.downloads import download_cache_dir
from automation.containers.runtimes import ecosystems_in, runtimes_for
from automation.containers.tsuku import KIT_INSTALLER, Installer
from automation.core.atomic import atomic_write_text
from automation.core.errors import ExitCode, StoppedError, UsageError
from automation.core.hostplatform import host_platform
from automation.core.layout import RegistryLayout
from automation.core.timefmt import format_timestamp, now
from automation.ecosystems import split_source
from automation.registry.failure_codes import gap_subject, is_environment_gap
from automation.registry.failures import cap_message
from automation.registry.results import ResultLine, read_results_file, write_result_lines
from automation.registry.staging import GenerationOutcome, Staging
from automation.stages.validate_local import (
    LocalResult,
    LocalValidator,
    TsukuValidator,
    apply_verify,
)


@dataclass
class ValidateReport:
    batch_id: str
    environment: str
    platform: str
    lines: list[ResultLine] = field(default_factory=list)
    skipped_already_done: int = 0
    install_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str | None = None
    installer: Installer = KIT_INSTALLER

    @property
    def counts(self) -> Counter[str]:
        return Counter(line.status for line in self.lines)

    @property
    def exit_code(self) -> ExitCode:
        if self.stopped:
            return ExitCode.STOPPED
        return ExitCode.PARTIAL if self.counts["fail"] else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        per_recipe = self.seconds / len(self.lines) if self.lines else 0.0
        return {
            "batch_id": self.batch_id,
            "environment": self.environment,
            "platform": self.platform,
            "installer": self.installer.to_json(),
            "passed": self.counts["pass"],
            "failed": self.counts["fail"],
            "skipped": self.counts["skipped"],
            "skipped_already_done": self.skipped_already_done,
            "seconds": round(self.seconds, 2),
            "seconds_per_recipe": round(per_recipe, 2),
            "install_seconds_total": round(sum(self.install_seconds), 2),
            "stopped": self.stopped,
            "results": [line.to_json() for line in self.lines],
        }

    def to_text(self) -> str:
        through = "" if self.installer.tsuku is None else f" with {self.installer.label}"
        out = [
            f"validate {self.batch_id} in {self.environment} ({self.platform}){through}: "
            f"{self.counts['pass']} pass, {self.counts['fail']} fail, "
            f"{self.counts['skipped']} skipped in {self.seconds:.1f}s"
        ]
        for line in self.lines:
            # A skip has no category (the schema admits one only on a fail): say just why.
            code = (
                "/".join(part for part in (line.category, line.subcategory) if part)
                if line.status != "pass"
                else ""
            )
            if is_environment_gap(line.status, line.subcategory):
                code += f" (this machine lacks {gap_subject(line.message) or 'a toolchain'})"
            out.append(f"  {line.status:7} {line.recipe:30} {code}")
        if self.stopped:
            out.append(f"stopped: {self.stopped}")
        return "\n".join(out)


def _line_from_local(
    recipe: str,
    environment: str,
    platform: str,
    batch_id: str,
    result: LocalResult,
    installer: str | None = None,
) -> ResultLine:
    return ResultLine(
        recipe=recipe,
        environment=environment,
        platform=platform,
        status=result.status,
        category=result.category or None,
        subcategory=result.subcategory or None,
        exit_code=result.exit_code,
        attempts=result.attempts,
        message=cap_message(result.message),
        timestamp=format_timestamp(now()),
        version=result.version,
        duration_seconds=round(result.seconds, 3),
        batch_id=batch_id,
        installer=installer,
        runtimes=result.runtimes,
    )


def validate_batch_locally(
    layout: RegistryLayout,
    batch_id: str,
    *,
    validator: LocalValidator | TsukuValidator | None = None,
    installer: Installer = KIT_INSTALLER,
    guard: Callable[[str], None] = lambda _eco: None,
    progress: Callable[[ResultLine], None] = lambda _line: None,
    environment: str = "local",
    platform: str | None = None,
    only: Collection[str] | None = None,
    jobs: int = 1,
) -> ValidateReport:
    """Validate every generated recipe of a batch on this machine (environment ``local``).

    A native environment (``darwin-arm64`` on its runner) is this machine under its own
    ``environment`` id and ``platform``; ``only`` narrows the recipes (a budget's sample).

    Recipes that already have a result line for ``local`` in this batch are not run again, so an
    interrupted validation resumes (an environment gap excepted: it is tried again). A passing
    recipe's ``[verify]`` is rewritten with the command and pattern that really worked.

    ``installer`` says what installs (the kit's own, or a tsuku binary: :class:`TsukuValidator`);
    a ``validator`` given brings its own. ``jobs``: recipes installed side by side.
    """
    if jobs < 1:
        raise UsageError("jobs must be at least 1")
    staging = Staging(layout, batch_id)
    if not staging.exists():
        raise UsageError(f"no batch {batch_id!r}: {staging.log_path} does not exist")
    platform = platform or host_platform()
    if validator is None:
        tsuku = installer.tsuku
        if tsuku is None:
            # tsuku's runtimes for the ecosystems this batch installs from (provisioned once)
            documents = [
                tomllib.loads(staging.recipe_path(o.name).read_text(encoding="utf-8"))
                for o in staging.generated()
            ]
            validator = LocalValidator(
                runtimes=runtimes_for(ecosystems_in(documents)),
                download_cache=download_cache_dir(),
            )
        else:
            validator = TsukuValidator(tsuku)
    report = ValidateReport(batch_id, environment, platform, installer=validator.installer)
    started = time.monotonic()
    results_path = layout.results_file(batch_id, environment)
    # An environment gap (the toolchain was missing) is not done: a rerun after installing the
    # toolchain checks the recipe.
    done = (
        {
            line.recipe
            for line in read_results_file(results_path).latest().values()
            if not is_environment_gap(line.status, line.subcategory)
        }
        if results_path.exists()
        else set()
    )
    todo = []
    for outcome in staging.generated():
        if only is not None and outcome.name not in only:
            continue
        if outcome.name in done:
            report.skipped_already_done += 1
            continue
        todo.append(outcome)

    def check(outcome: GenerationOutcome) -> tuple[GenerationOutcome, str, LocalResult]:
        text = staging.recipe_path(outcome.name).read_text(encoding="utf-8")
        return outcome, text, validator.validate(tomllib.loads(text), text)

    def record(outcome: GenerationOutcome, text: str, result: LocalResult) -> None:
        path = staging.recipe_path(outcome.name)
        report.install_seconds.append(result.install_seconds)
        if result.status == "pass" and result.verify_command is not None:
            atomic_write_text(
                path,
                apply_verify(
                    text, result.verify_command, result.verify_pattern or "", path=str(path)
                ),
            )
        line = _line_from_local(
            outcome.name,
            environment,
            platform,
            batch_id,
            result,
            validator.installer.result_field,
        )
        write_result_lines(results_path, [line])
        report.lines.append(line)
        progress(line)

    # ``jobs`` recipes install side by side (an install mostly waits on the network); each
    # result is recorded here, in this thread, as soon as it is known.
    queue = iter(todo)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: set[Future[tuple[GenerationOutcome, str, LocalResult]]] = set()
        while True:
            while len(running) < jobs and report.stopped is None:
                following = next(queue, None)
                if following is None:
                    break
                try:
                    guard(split_source(following.source)[0])
                except StoppedError as exc:  # stop before the next item, keep what is done
                    report.stopped = str(exc)
                    break
                running.add(pool.submit(check, following))
            if not running:
                break
            # Woken twice a second: Ctrl-C or SIGTERM delivered to another thread raises here
            # only when this thread runs Python code.
            finished, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                record(*future.result())
    report.seconds = time.monotonic() - started
    return report
