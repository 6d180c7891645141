"""Container validation between generate and merge, offline: a fake engine plays the containers.

Several environments of one batch each get their own results file and resume independently, an
emergency stop between recipes keeps what is done, and merge turns the per-environment matrix
into the right constraints."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import pytest

from automation.containers.runtime import PodmanRuntime
from automation.containers.validate import (
    Recipe,
    load_recipe,
    validate_batch_in_environments,
)
from automation.core.errors import ExitCode, StoppedError
from automation.core.layout import RegistryLayout
from automation.ecosystems.recipe import UpstreamPackage
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.results import read_results_file
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from automation.stages.merge import merge_batch
from tests.support.container_matrix import BY_ID, Engine, record

BATCH = "2026-11-27-120000-pypi"


@pytest.fixture
def recipe(tmp_path: Path) -> Recipe:
    path = tmp_path / "goodtool.toml"
    path.write_text(
        '[metadata]\nname = "goodtool"\n\n[[steps]]\naction = "pipx_install"\n'
        'package = "goodtool"\nexecutables = ["goodtool"]\n\n[verify]\n'
        'command = "goodtool --version"\npattern = "{version}"\n'
    )
    return load_recipe(path)


def fetch(ecosystem: str, identifier: str) -> UpstreamPackage:
    return UpstreamPackage(
        ecosystem,
        identifier,
        "1.0.0",
        f"{identifier} does things",
        (f"https://example.org/{identifier}",),
        (identifier,),
        f"https://pypi.org/project/{identifier}/",
    )


@pytest.fixture
def batch(tmp_path: Path) -> RegistryLayout:
    layout = RegistryLayout.at(tmp_path)
    entries = [
        QueueEntry(n, f"pypi:{n}", 3, "pending", "auto", None, 0, None)
        for n in ("goodtool", "ubuntubroken", "muslbroken")
    ]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries))
    generate_entries(Staging(layout, BATCH), load_queue(layout.queue).entries, fetch=fetch)
    return layout


def matrix_answer(env: str, name: str, phase: str) -> dict:
    broken = (name == "ubuntubroken" and env == "ubuntu-24.04") or (
        name == "muslbroken" and env == "alpine-3.21"
    )
    if broken and phase == "verify":
        return record(
            "fail",
            "verify_failed",
            "exit_code",
            message="'x --version' exited 1, expected 0",
            output="ModuleNotFoundError: No module named 'distutils'",
        )
    return record("pass", version="1.0.0")


def test_environments_write_their_own_files_resume_and_merge_derives_constraints(
    batch: RegistryLayout,
) -> None:
    engine = Engine(matrix_answer)
    envs = ["debian-12", "ubuntu-24.04", "alpine-3.21"]
    report = validate_batch_in_environments(
        batch, BATCH, envs, runtime=PodmanRuntime(engine), build=False, ca_bundle=False
    )
    assert report.exit_code == ExitCode.PARTIAL
    assert report.counts == {"pass": 7, "fail": 2}
    for env in envs:
        path = batch.results_file(BATCH, env)
        scan = read_results_file(path)
        assert scan.problems == [] and len(scan.lines) == 3
        assert {line.platform for line in scan.lines} == {BY_ID[env].platform}
    [failed] = [r for r in report.results if r.environment == "ubuntu-24.04" and r.status == "fail"]
    assert (failed.category, failed.subcategory) == ("verify_failed", "exit_code")
    assert "distutils" in failed.message

    # A rerun finds every (recipe, environment) done and starts no container.
    engine.calls.clear()
    again = validate_batch_in_environments(
        batch, BATCH, envs, runtime=PodmanRuntime(engine), build=False, ca_bundle=False
    )
    assert again.results == () and again.already_done == 9
    assert not [c for c in engine.calls if c[1] in ("run", "exec")]

    merged = merge_batch(batch, BATCH)
    decisions = {d.name: d for d in merged.decisions}
    assert {n: d.action for n, d in decisions.items()} == {
        "goodtool": "merged",
        "ubuntubroken": "held",
        "muslbroken": "merged",
    }
    recipe = {
        n: tomllib.loads(batch.recipe_path(n).read_text())["metadata"]
        for n in ("goodtool", "muslbroken")
    }
    # Passed everywhere it ran (linux/amd64, glibc and musl); darwin and arm64 were not tested,
    # and the default untested-platforms policy (exclude) leaves them out.
    assert {k: v for k, v in recipe["goodtool"].items() if "supported" in k} == {
        "supported_os": ["linux"],
        "supported_arch": ["amd64"],
    }
    # Musl failed, glibc passed: the loader can express it.
    # (arm64 and darwin untested: left out too.)
    assert recipe["muslbroken"]["supported_os"] == ["linux"]
    assert recipe["muslbroken"]["unsupported_platforms"] == ["linux/arm64", "linux/amd64/musl"]
    # One of two distributions on the same platform failed: no constraint can express it, so
    # the recipe is held for review, not merged; the reason and a failure record say who failed.
    assert not batch.recipe_path("ubuntubroken").exists()
    held = decisions["ubuntubroken"]
    assert held.reasons[0].startswith(
        "ubuntu-24.04 failed on linux-debian-glibc-x86_64, admitted by its constraints: "
        "debian-12 passed there (verify_failed/exit_code)"
    )
    assert "unsupported_platforms" not in tomllib.loads(held.recipe_text)["metadata"]
    [entry] = [e for e in load_queue(batch.queue).entries if e.name == "ubuntubroken"]
    assert entry.status == "requires_manual"
    failures = "".join(p.read_text() for p in batch.failures_dir.glob("*.jsonl"))
    assert "distutils" in failures and "ubuntubroken" in failures


def test_emergency_stop_between_recipes_keeps_what_is_done(batch: RegistryLayout) -> None:
    seen: list[str] = []

    def guard(ecosystem: str) -> None:
        seen.append(ecosystem)
        if len(seen) > 1:
            raise StoppedError("emergency stop: pypi")

    report = validate_batch_in_environments(
        batch,
        BATCH,
        ["debian-12"],
        runtime=PodmanRuntime(Engine(matrix_answer)),
        build=False,
        ca_bundle=False,
        guard=guard,
    )
    assert report.exit_code == ExitCode.STOPPED and "emergency stop" in (report.stopped or "")
    assert seen == ["pypi", "pypi"] and len(report.results) == 1
    assert len(read_results_file(batch.results_file(BATCH, "debian-12")).lines) == 1


def test_containers_overlap_local_and_check_what_local_found(
    batch: RegistryLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`validate_matrix` with local and containers: a container starts on a recipe once local
    has written its line, not after the whole batch; it checks the recipe local rewrote; a
    package-level local failure is not tried (skipped/failed_locally), and merge fails it on
    local's verdict alone."""
    import threading

    import automation.containers.validate as container_validate
    import automation.stages.validate_matrix as matrix
    from automation.core.atomic import atomic_write_text
    from automation.registry.results import ResultLine, append_results
    from automation.stages.validate_local import apply_verify

    events: list[str] = []
    payloads: dict[str, str] = {}
    first_container = threading.Event()

    def answer(env: str, name: str, phase: str) -> dict:
        events.append(f"{env} {name} {phase}")
        if name == "goodtool":
            first_container.set()
        return record("pass", version="1.0.0")

    engine = Engine(answer)

    def copying(args: list[str], *, timeout: float | None = None) -> object:
        # The payload's recipe, what the container checks: mounted when the container starts
        # (the default), or copied in after.
        if args[1] == "cp":
            recipe = Path(args[2]) / "recipe.json"
            payloads[args[3].split(":")[0]] = recipe.read_text()
        if args[1] == "run":
            name = args[args.index("--name") + 1]
            for flag, value in itertools.pairwise(args):
                host, _, target = value.partition(":")
                if flag == "-v" and target.split(":")[0] == container_validate.PAYLOAD_DIR:
                    payloads[name] = (Path(host) / "recipe.json").read_text()
        return engine(args, timeout=timeout)

    def fake_local(layout: RegistryLayout, batch_id: str, **kw: object) -> object:
        progress = kw["progress"]
        staging = Staging(layout, batch_id)
        report = matrix.ValidateReport(batch_id, "local", "linux-debian-glibc-x86_64")
        for outcome in staging.generated():
            name = outcome.name
            path = staging.recipe_path(name)
            failing = name == "ubuntubroken"
            if not failing:
                text = apply_verify(path.read_text(), f"{name} -V", "v{version}", path=str(path))
                # Atomically, as local validation writes it back: the container thread reads
                # the staged recipes meanwhile.
                atomic_write_text(path, text)
            line = ResultLine(
                recipe=name,
                environment="local",
                platform="linux-debian-glibc-x86_64",
                status="fail" if failing else "pass",
                category="install_failed" if failing else None,
                subcategory="build_failed" if failing else None,
                exit_code=6 if failing else 0,
                attempts=1,
                message="Failed building wheel" if failing else "ok",
                timestamp="2026-11-27T12:10:00Z",
                version="1.0.0",
                batch_id=batch_id,
            )
            append_results(layout, batch_id, "local", [line])
            events.append(f"local {name}")
            progress(line)  # type: ignore[operator]
            if name == "goodtool":
                # The containers take goodtool while local goes on with the next recipe.
                # A bound for a loaded machine, not a timing check: without the overlap the
                # containers never start before local is done, and this waits in vain.
                assert first_container.wait(120)
            report.lines.append(line)
        return report

    monkeypatch.setattr(matrix, "validate_batch_locally", fake_local)
    monkeypatch.setattr(container_validate, "runtimes_for", lambda _ecosystems: ())
    monkeypatch.setattr(
        container_validate, "detect_runtime", lambda prefer=None: PodmanRuntime(copying)
    )
    report = matrix.validate_matrix(
        batch, BATCH, ["local", "debian-12", "ubuntu-24.04"], skip_failed_locally=True
    )

    assert events.index("local goodtool") < min(
        i for i, e in enumerate(events) if e.endswith("goodtool install")
    )
    # A container ran goodtool before local was done with the batch.
    assert min(i for i, e in enumerate(events) if e.endswith("goodtool install")) < events.index(
        "local muslbroken"
    )
    assert report.containers is not None
    by_key = {(r.recipe, r.environment): r for r in report.containers.results}
    for env in ("debian-12", "ubuntu-24.04"):
        assert by_key[("goodtool", env)].status == "pass"
        assert by_key[("muslbroken", env)].status == "pass"
        assert (
            by_key[("ubuntubroken", env)].status,
            by_key[("ubuntubroken", env)].subcategory,
        ) == (
            "skipped",
            "failed_locally",
        )
    assert not any("ubuntubroken install" in e for e in events)
    # What the containers checked is the recipe local rewrote.
    checked = [text for name, text in payloads.items() if "goodtool" in name]
    assert checked and all('"command": "goodtool -V"' in text for text in checked)
    merged = merge_batch(batch, BATCH)
    assert {d.name: d.action for d in merged.decisions}["ubuntubroken"] == "failed"
