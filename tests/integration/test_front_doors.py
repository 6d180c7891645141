"""Every task through the real front door (``python -m invoke`` from the repository root): a bad
or missing flag is exit 2 naming the flag, a read-only or full registry is exit 2/3 naming the
path; never a traceback, and the registry's bytes are unchanged afterwards.

The registry: the gap-analysis fixture's blocked entries (one requeue-able), the offline fakes'
queue with batch A merged and batch B staged and validated, one impossible entry left to exclude
and an npm-only stop to lift, so every writing task below really has something to write.
Read-only and full disks are tmpfs mounts when this runs as root (chmod does not stop root);
otherwise read-only is ``chmod a-w`` and the full-disk cases are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke import Collection, Program

from automation.core.errors import ExitCode
from automation.core.layout import RegistryLayout
from automation.registry.control import emergency_stop
from automation.registry.queue import QueueEntry, load_queue, save_queue
from tests.support import gap_registry
from tests.support import pipeline_fakes as fakes
from tests.support.fake_upstream import FakeUpstream

REPOSITORY = Path(__file__).resolve().parents[2]
MERGED = "2026-11-27-100000-pypi"  # batch A: merged (rollback has something to undo)
STAGED = "2026-11-27-110000-pypi"  # batch B: generated and validated, not merged
LEFT_TO_EXCLUDE = QueueEntry(
    "tapped-later", "homebrew:someone/tap/tapped-later", 3, "pending", "auto", None, 0, None
)
# Nothing here may reach the network: PyPI is a local fake that knows no project (generate
# records each as not found, at once), every other endpoint a closed port.
OFFLINE = {
    f"AUTOMATION_ENDPOINT_{name}": "http://127.0.0.1:9"
    for name in ("NPM", "CRATESIO", "RUBYGEMS", "HOMEBREW", "GITHUB", "GITHUBDOWNLOAD")
}


def _build(root: Path) -> None:
    gap_registry.make_registry(root)
    layout = RegistryLayout.at(root)
    queue = load_queue(layout.queue)
    offline = [fakes.entry(name) for name in fakes.NAMES]
    save_queue(layout.queue, queue.with_entries([*queue.entries, *offline, *fakes.IMPOSSIBLE]))
    fakes.run_stage(root, MERGED, batch_size=4)
    fakes.run_stage(root, STAGED, "generate", batch_size=4)
    fakes.run_stage(root, STAGED, "validate")
    queue = load_queue(layout.queue)
    save_queue(layout.queue, queue.with_entries([*queue.entries, LEFT_TO_EXCLUDE]))
    emergency_stop(layout, "npm drill", "npm", by="test_front_doors")
    shutil.rmtree(root / ".cache")  # rebuilt on demand; keeps the tmpfs copies small


def _files(root: Path) -> dict[str, bytes]:
    """Every registry file's bytes (the cache and lock files are the kit's scratch space)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cache" not in p.parts and not p.name.endswith(".lock")
    }


@pytest.fixture(scope="module", autouse=True)
def fake_pypi() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream().start()
    for name in fakes.NAMES:
        upstream.json(f"/pypi/{name}/json", {"message": "Not Found"}, status=404)
    OFFLINE["AUTOMATION_ENDPOINT_PYPI"] = upstream.base
    try:
        yield upstream
    finally:
        upstream.stop()
    assert upstream.unexpected == []


def _invoke(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *argv, "--root", str(root)],
        cwd=REPOSITORY,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def program() -> Program:
    """This repository's tasks behind Invoke's own ``Program`` (parser, Exit handling): what
    ``python -m invoke`` runs, without an interpreter start-up per case."""
    spec = importlib.util.spec_from_file_location("front_door_tasks", REPOSITORY / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Program(namespace=Collection.from_module(module))


def _run_in_process(
    program: Program, capsys: pytest.CaptureFixture[str], root: Path, *argv: str
) -> subprocess.CompletedProcess[str]:
    """``invoke ARGV --root ROOT`` in this process; any exception but SystemExit (a traceback
    on the command line) fails the test where it is raised."""
    capsys.readouterr()
    code: int | str | None = 0
    try:
        program.run(["invoke", *argv, "--root", str(root)], exit=True)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, int(code or 0), out, err)


def _check_refused(done: subprocess.CompletedProcess[str], codes: set[int], named: str) -> str:
    output = done.stdout + done.stderr
    assert done.returncode in codes, f"exit {done.returncode}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert named in output, f"{named!r} not named in:\n{output[-3000:]}"
    return output


@pytest.fixture(scope="module")
def base_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("front-doors") / "registry"
    root.mkdir()
    _build(root)
    return root


@pytest.fixture(scope="module")
def scratch(base_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy for the flag cases (each asserts it leaves the bytes as they were)."""
    root = tmp_path_factory.mktemp("flags") / "registry"
    shutil.copytree(base_registry, root)
    return root


# Flag values from the reliability issue and their neighbours: (argv, the flag the message names).
BAD_VALUES = [
    (["gaps", "--top", "abc"], "--top"),
    (["gaps", "--top", "1e9"], "--top"),
    (["gaps", "--top", "0"], "--top"),
    (["backfill-report", "--top", "ten"], "--top"),
    (["seed", "--source", "pypi", "--limit", "abc"], "--limit"),
    (["seed", "--source", "pypi-ish"], "--source"),
    (["seed", "--source", "pypi", "--config", "no-such.toml"], "--config"),
    (["generate", "--ecosystem", "pypi", "--batch-size", "abc"], "--batch-size"),
    (["generate", "--ecosystem", "pypi", "--batch-size", "0"], "--batch-size"),
    (["generate", "--ecosystem", "pypi", "--max-tier", "4"], "--max-tier"),
    (["generate", "--ecosystem", "pypi", "--shard", "3/2", "--batch-id", STAGED], "--shard"),
    (["generate", "--ecosystem", "pypi", "--wait", "abc"], "--wait"),
    (["generate", "--ecosystem", "cobol"], "--ecosystem"),
    (["merge", "--batch-id", STAGED, "--wait", "abc"], "--wait"),
    (["merge", "--batch-id", STAGED, "--wait", "nan"], "--wait"),
    (["merge", "--batch-id", STAGED, "--pr-body", "/"], "--pr-body"),
    (["abandon", "--batch-id", STAGED, "--wait", "1e9"], "--wait"),
    (["exclude-impossible", "--wait", "soon"], "--wait"),
    (["validate", "--batch-id", STAGED, "--jobs", "abc"], "--jobs"),
    (["validate-containers", "--jobs", "two"], "--jobs"),
    (["validate-containers", "--engine", "lxc"], "--engine"),
    (["validate", "--batch-id", STAGED, "--installer", "apt"], "--installer"),
    (["validate", "--batch-id", STAGED, "--tsuku-bin", "tsuku"], "--tsuku-bin"),
    (["validate", "--batch-id", STAGED, "--installer", "tsuku", "--tsuku-bin", "nope"], "nope"),
    (["validate-containers", "--installer", "tsuku", "--tsuku-bin", "nope"], "--tsuku-bin"),
    (["pipeline", "--ecosystem", "pypi", "--installer", "rpm"], "--installer"),
    (["pipeline", "--ecosystem", "pypi", "--limit", "abc"], "--limit"),
    (["drift", "--budget", "abc"], "--budget"),
    (["drift", "--rate", "0"], "--rate"),
    (["sli", "--min-runs", "abc"], "--min-runs"),
    (["sli", "--min-merge-rate", "2"], "--min-merge-rate"),
    (["sli", "--window", "3x"], "--window"),
    (["sli", "--at", "yesterday"], "--at"),
    (["dashboard", "--out", "/proc/no-such/site"], "--out"),
    (["create", "--from", "pypi:httpie", "--output", "/"], "--output"),
    (["constrain", "--recipe", "recipes/n/nope.toml", "--results", "x.jsonl"], "--recipe"),
    (["grow", "--target", "abc"], "--target"),
    (["grow", "--target", "0"], "--target"),
    (["grow", "--batch-size", "0"], "--batch-size"),
    (["grow", "--ecosystem", "cobol"], "--ecosystem"),
    (["grow", "--env", "nowhere"], "--env"),
    (["seed-report", "--ecosystem", "pypi", "--top", "0"], "--top"),
    (["seed-report", "--ecosystem", "cobol"], "--ecosystem"),
]

MISSING_REQUIRED = [
    (["merge"], "--batch-id"),
    (["validate"], "--batch-id"),
    (["rollback"], "--batch-id"),
    (["abandon"], "--batch-id"),
    (["generate"], "--ecosystem"),
    (["pipeline"], "--ecosystem"),
    (["seed"], "--source"),
    (["seed-report"], "--ecosystem"),
    (["create"], "--from"),
    (["dashboard"], "--out"),
    (["constrain", "--results", "x.jsonl"], "--recipe"),
    (["constrain", "--recipe", "recipes/g/gmp.toml"], "--results"),
    (["merge", "--batch-id", "  "], "--batch-id"),
]

# Free-form ids were accepted by generate and refused by merge's metrics record ("stuck").
BAD_BATCH_IDS = [
    (["generate", "--ecosystem", "pypi", "--batch-id", "b1"], "b1"),
    (["validate", "--batch-id", "b1"], "b1"),
    (["merge", "--batch-id", "b1"], "b1"),
    (["merge", "--batch-id", "2026-11-27-PyPI"], "2026-11-27-PyPI"),
    (["merge", "--batch-id", "2026-11-27-a..b"], "2026-11-27-a..b"),
    (["rollback", "--batch-id", "../etc"], "../etc"),
]


def _case_id(case: tuple[list[str], str]) -> str:
    return " ".join(case[0])


@pytest.mark.parametrize("case", BAD_VALUES + MISSING_REQUIRED, ids=_case_id)
def test_a_bad_or_missing_flag_is_exit_2_naming_the_flag(
    program: Program,
    capsys: pytest.CaptureFixture[str],
    scratch: Path,
    case: tuple[list[str], str],
) -> None:
    argv, flag = case
    before = _files(scratch)
    done = _run_in_process(program, capsys, scratch, *argv)
    output = _check_refused(done, {ExitCode.USAGE}, flag)
    assert done.stderr.startswith("error: "), output
    assert _files(scratch) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--batch-id", STAGED, "--installer", "tsuku"],
        ["validate-containers", "--installer", "tsuku"],
        ["pipeline", "--ecosystem", "pypi", "--installer", "tsuku"],
    ],
    ids=lambda argv: argv[0],
)
def test_the_tsuku_installer_without_a_binary_names_both_ways_to_give_one(
    program: Program,
    capsys: pytest.CaptureFixture[str],
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    monkeypatch.delenv("TSUKU_BIN", raising=False)
    before = _files(scratch)
    done = _run_in_process(program, capsys, scratch, *argv)
    output = _check_refused(done, {ExitCode.USAGE}, "--tsuku-bin")
    assert "TSUKU_BIN" in output
    assert _files(scratch) == before


def test_validate_through_tsuku_records_the_binary_on_every_line(
    program: Program,
    capsys: pytest.CaptureFixture[str],
    base_registry: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support.fake_tsuku import write_fake_tsuku

    root = tmp_path / "registry"
    shutil.copytree(base_registry, root)
    results = RegistryLayout.at(root).results_file(STAGED, "local")
    results.unlink()  # validated again, this time through tsuku
    monkeypatch.setenv("TSUKU_BIN", str(write_fake_tsuku(tmp_path / "bin")))
    done = _run_in_process(
        program, capsys, root, "validate", "--batch-id", STAGED, "--installer", "tsuku", "--json"
    )
    assert done.returncode == ExitCode.OK, done.stdout[-2000:] + done.stderr[-2000:]
    import json

    report = json.loads(done.stdout)
    assert report["installer"]["version_output"] == "tsuku version 0.13.0"
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    assert lines and {line["installer"] for line in lines} == {"tsuku 0.13.0"}


@pytest.mark.parametrize("case", BAD_BATCH_IDS, ids=_case_id)
def test_a_bad_batch_id_is_refused_where_it_enters(
    program: Program,
    capsys: pytest.CaptureFixture[str],
    scratch: Path,
    case: tuple[list[str], str],
) -> None:
    argv, batch = case
    before = _files(scratch)
    output = _check_refused(_run_in_process(program, capsys, scratch, *argv), {2}, batch)
    assert "--batch-id" in output
    if argv[0] != "rollback":  # the id merge can record is the one pattern users are shown
        assert "YYYY-MM-DD" in output
    assert not (scratch / "data" / "staging" / "b1").exists()
    assert _files(scratch) == before


@pytest.mark.parametrize(
    "case",
    [
        (["gaps", "--top", "1e9"], "--top"),
        (["merge"], "--batch-id"),
        (["generate", "--ecosystem", "pypi", "--batch-id", "b1"], "--batch-id"),
        (["dashboard", "--out", "/proc/no-such/site"], "--out"),
    ],
    ids=_case_id,
)
def test_the_real_command_line_agrees(scratch: Path, case: tuple[list[str], str]) -> None:
    """The in-process cases above, spot-checked through ``python -m invoke``."""
    argv, flag = case
    before = _files(scratch)
    done = _invoke(scratch, *argv)
    _check_refused(done, {ExitCode.USAGE}, flag)
    assert done.stderr.startswith("error: ") and done.stdout == ""
    assert _files(scratch) == before


def test_merge_writes_the_pull_request_body_where_asked(
    program: Program,
    capsys: pytest.CaptureFixture[str],
    base_registry: Path,
    tmp_path: Path,
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(base_registry, root)
    body = tmp_path / "merge" / "pr-body.md"
    done = _run_in_process(
        program, capsys, root, "merge", "--batch-id", STAGED, "--pr-body", str(body)
    )
    assert done.returncode in (ExitCode.OK, ExitCode.PARTIAL), done.stdout + done.stderr
    text = body.read_text(encoding="utf-8")
    assert text.startswith(f"## Batch {STAGED}\n")
    assert "| merged | held |" in text
    assert (tmp_path / "merge" / "pr-body.full.md").read_text(encoding="utf-8") == text
    assert f"Pull-request body: {body}; complete: " in done.stdout


def test_a_usage_error_in_json_mode_is_one_json_document(scratch: Path) -> None:
    import json

    done = _invoke(scratch, "gaps", "--top", "abc", "--json")
    assert done.returncode == ExitCode.USAGE
    assert json.loads(done.stdout) == {
        "error": "--top: expected a whole number from 1 to 10000, got 'abc'",
        "exit_code": 2,
    }


# Every task that writes the registry, with what it writes here.
WRITING_TASKS = {
    "stop": ["stop", "--reason", "drill"],  # batch-control.json
    "resume": ["resume", "--ecosystem", "npm"],  # batch-control.json
    "requeue": ["requeue"],  # the queue (coreutils: gmp has a recipe now)
    "exclude-impossible": ["exclude-impossible"],  # the queue, a failure record
    "generate": ["generate", "--ecosystem", "pypi", "--batch-size", "2"],  # staging, queue
    "merge": ["merge", "--batch-id", STAGED],  # recipes, queue, metrics, manifest
    "rollback": ["rollback", "--batch-id", MERGED],  # recipes, queue, metrics, manifest
    "abandon": ["abandon", "--batch-id", STAGED],  # staging, abandoned.json
    "dashboard": ["dashboard", "--out", "site"],  # <root>/site/ (relative to the repository)
}


def _mount_tmpfs(target: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` on ``target``; the reason when that is impossible here."""
    if os.geteuid() != 0:
        return "not root: cannot mount a tmpfs"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
        capture_output=True,
        text=True,
    )
    return None if done.returncode == 0 else f"mount -t tmpfs failed: {done.stderr.strip()}"


def _unmount(target: Path) -> None:
    subprocess.run(["umount", str(target)], check=True, capture_output=True)


def _make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.fixture(scope="module")
def read_only_registry(
    base_registry: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The registry on a read-only tmpfs (EROFS) as root, else with every write bit removed
    (EACCES). Tasks refused on it change nothing, so the cases share one copy."""
    mount_point = tmp_path_factory.mktemp("read-only")
    reason = _mount_tmpfs(mount_point, "8m")
    root = mount_point / "registry"
    if reason is None:
        try:
            shutil.copytree(base_registry, root)
            subprocess.run(
                ["mount", "-o", "remount,ro", str(mount_point)], check=True, capture_output=True
            )
            yield root
        finally:
            _unmount(mount_point)
        return
    if os.geteuid() == 0:
        pytest.skip(f"root ignores permissions and {reason}")
    shutil.copytree(base_registry, root)
    _make_read_only(root)
    try:
        yield root
    finally:
        _make_writable(root)


READ_ONLY_PARTS = ("data", "recipes", "batch-control.json")


@pytest.fixture(scope="module")
def read_only_data_registry(
    base_registry: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Locks and cache writable, the registry's data read-only (``data/``, ``recipes/`` and
    ``batch-control.json`` bind-mounted read-only): the failures come from the data writes
    themselves, after a temp file may have been created beside the target."""
    if os.geteuid() != 0:
        pytest.skip("read-only bind mounts need root")
    root = tmp_path_factory.mktemp("read-only-data") / "registry"
    shutil.copytree(base_registry, root)
    mounted: list[Path] = []
    try:
        for part in READ_ONLY_PARTS:
            target = root / part
            done = subprocess.run(
                ["mount", "--bind", str(target), str(target)], capture_output=True
            )
            if done.returncode != 0:
                pytest.skip(f"mount --bind failed: {done.stderr.decode().strip()}")
            mounted.append(target)
            subprocess.run(
                ["mount", "-o", "remount,bind,ro", str(target)], check=True, capture_output=True
            )
        yield root
    finally:
        for target in reversed(mounted):
            _unmount(target)


def _fill(mount_point: Path) -> None:
    """Use up every free byte of the file system (pages first, then the last bytes)."""
    fd = os.open(mount_point / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, chunk)
    finally:
        os.close(fd)
    probe = mount_point / "probe"
    with pytest.raises(OSError) as full:
        probe.write_bytes(b"x" * 4096)
    probe.unlink(missing_ok=True)
    assert full.value.errno == errno.ENOSPC


@pytest.fixture
def full_registry(base_registry: Path, tmp_path: Path) -> Iterator[Path]:
    """The registry on a tmpfs with not one byte free (ENOSPC on every write)."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    reason = _mount_tmpfs(mount_point, "2m")
    if reason is not None:
        pytest.skip(f"a full disk needs a small tmpfs: {reason}")
    try:
        root = mount_point / "registry"
        shutil.copytree(base_registry, root)
        _fill(mount_point)
        yield root
    finally:
        _unmount(mount_point)


def _litter(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.tmp"))


def _dashboard_argv(argv: list[str], root: Path) -> list[str]:
    return [str(root / a) if a == "site" else a for a in argv]


@pytest.mark.parametrize("task", sorted(WRITING_TASKS))
def test_a_read_only_registry_is_refused_naming_the_path(
    read_only_registry: Path, base_registry: Path, task: str
) -> None:
    root = read_only_registry
    done = _invoke(root, *_dashboard_argv(WRITING_TASKS[task], root))
    output = _check_refused(done, {ExitCode.USAGE, ExitCode.DATA_ERROR}, str(root))
    assert any(word in output for word in ("EROFS", "EACCES")), output
    assert _files(root) == _files(base_registry)
    assert _litter(root) == []


@pytest.mark.parametrize("task", sorted(set(WRITING_TASKS) - {"dashboard"}))
def test_a_read_only_data_folder_is_refused_and_leaves_no_temp_file(
    read_only_data_registry: Path, base_registry: Path, task: str
) -> None:
    root = read_only_data_registry
    output = _check_refused(_invoke(root, *WRITING_TASKS[task]), {ExitCode.DATA_ERROR}, str(root))
    # EBUSY: batch-control.json is itself a mount point, so the rename onto it is refused.
    assert any(word in output for word in ("EROFS", "EBUSY")), output
    if task != "rollback":  # rollback's first step is removing a file, outside the writers
        assert "failed" in output  # "writing <path> failed", "taking the registry lock ..."
    assert _files(root) == _files(base_registry)
    assert _litter(root) == []


# Rollback removes the files its batch created before it rewrites any, so on this registry it
# frees the pages it needs and completes (checked below); every other task is refused.
FULL_DISK_TASKS = sorted(set(WRITING_TASKS) - {"rollback"})


@pytest.mark.parametrize("task", FULL_DISK_TASKS)
def test_a_full_disk_is_refused_naming_the_path_and_nothing_is_half_written(
    full_registry: Path, base_registry: Path, task: str
) -> None:
    root = full_registry
    done = _invoke(root, *_dashboard_argv(WRITING_TASKS[task], root))
    output = _check_refused(done, {ExitCode.USAGE, ExitCode.DATA_ERROR}, str(root))
    assert "ENOSPC" in output and "disk is full" in output, output
    assert _files(root) == _files(base_registry)
    assert _litter(root) == []


def test_rollback_on_a_full_disk_frees_what_it_needs_and_completes(full_registry: Path) -> None:
    done = _invoke(full_registry, *WRITING_TASKS["rollback"])
    assert done.returncode == ExitCode.OK, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (full_registry / "recipes" / "a" / "alpaca.toml").exists()
    assert _litter(full_registry) == []
    check = _invoke(full_registry, "check-data")
    assert check.returncode == ExitCode.OK, check.stdout[-2000:] + check.stderr[-2000:]


def test_every_writing_task_really_writes_this_registry(
    base_registry: Path, tmp_path: Path
) -> None:
    """Guards the two tests above: on a writable copy each of those tasks changes files, so
    their refusal on a read-only or full disk is a refusal, not a run with nothing to do."""
    for task, argv in sorted(WRITING_TASKS.items()):
        root = tmp_path / task
        shutil.copytree(base_registry, root)
        done = _invoke(root, *_dashboard_argv(argv, root))
        assert done.returncode in (ExitCode.OK, ExitCode.PARTIAL), (task, done.stderr[-2000:])
        assert _files(root) != _files(base_registry), f"{task} wrote nothing"
