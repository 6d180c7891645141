"""The shipped reference snapshot: current, deterministic, read-only, and guarded against writes."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.support import reference_snapshot as snapshot


def test_the_archive_matches_its_recorded_checksum() -> None:
    data = snapshot.SNAPSHOT.read_bytes()
    assert hashlib.sha256(data).hexdigest() == snapshot.recorded_sha256()
    assert len(data) <= 2_000_000  # the size budget for data shipped in the repository


def test_the_reference_read_is_byte_for_byte_the_snapshot(reference_root: Path) -> None:
    """With ../shared: the snapshot is current. Without: extraction lost nothing."""
    assert snapshot.tar_bytes(reference_root) == snapshot.snapshot_tar_bytes()


def test_the_snapshot_holds_what_the_tests_read() -> None:
    with tarfile.open(snapshot.SNAPSHOT, mode="r:xz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert "tsuku/LICENSE" in members and "tsuku/batch-control.json" in members
    assert "tsuku/data/queues/priority-queue.json" in members
    assert sum(1 for name in members if name.startswith("tsuku/data/failures/")) == 5785
    assert all(name in members for name in snapshot.FILES)
    assert list(members) == sorted(members)
    for member in members.values():
        assert (member.mtime, member.uid, member.gid) == (snapshot.FIXED_MTIME, 0, 0)
        assert (member.uname, member.gname) == ("", "")
        assert member.isdir() or member.isfile()


def _small_reference(root: Path) -> Path:
    for rel, text in {
        "tsuku/LICENSE": "MIT\n",
        "tsuku/recipes/a/act.toml": "[metadata]\nname = 'act'\n",
        "tsuku/data/metrics/.gitkeep": "",
        **{rel: "[]\n" for rel in snapshot.FILES},
        "api-samples/github/not-read.json": "{}\n",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_building_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    reference = _small_reference(tmp_path / "reference")
    first = tmp_path / "first.tar.xz"
    digest = snapshot.build_snapshot(reference, first)
    # Other mtimes, modes and creation order: the archive does not change.
    for path in sorted(reference.rglob("*"), reverse=True):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (reference / "tsuku/LICENSE").chmod(0o600)
    second = tmp_path / "second.tar.xz"
    assert snapshot.build_snapshot(reference, second) == digest
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first, mode="r:xz") as tar:
        names = tar.getnames()
        assert tar.getmember("tsuku/LICENSE").mode == 0o644
    assert "api-samples/github/not-read.json" not in names  # only what the tests read
    assert names == sorted(names) and "tsuku/data/metrics/.gitkeep" in names


def test_a_missing_reference_file_is_named(tmp_path: Path) -> None:
    reference = _small_reference(tmp_path / "reference")
    (reference / snapshot.FILES[0]).unlink()
    with pytest.raises(FileNotFoundError, match=snapshot.FILES[0]):
        snapshot.snapshot_members(reference)


@pytest.mark.slow
def test_the_extracted_snapshot_is_read_only_until_released(tmp_path: Path) -> None:
    root = snapshot.extract_snapshot(tmp_path / "x")
    snapshot.set_writable(root, False)
    modes = [p.lstat().st_mode for p in [root, *root.rglob("*")]]
    assert modes and all(mode & 0o222 == 0 for mode in modes)
    if os.geteuid() != 0:  # root writes anyway: the fingerprint check is what catches that
        with pytest.raises(PermissionError):
            (root / "tsuku" / "new.txt").write_text("x")
    snapshot.set_writable(root, True)
    shutil.rmtree(root)  # pytest can remove old session folders
    assert not root.exists()


def test_every_kind_of_change_is_reported(tmp_path: Path) -> None:
    root = _small_reference(tmp_path / "reference")
    with pytest.raises(AssertionError) as caught, snapshot.kept_unchanged(root):
        (root / "tsuku/.cache/automation").mkdir(parents=True)  # what the failure index did
        (root / "tsuku/LICENSE").write_text("MIT, edited\n")
        (root / "tsuku/data/metrics/.gitkeep").unlink()
        os.utime(root / "tsuku/recipes/a/act.toml", (1, 1))
    report = str(caught.value)
    assert "added: tsuku/.cache" in report and "added: tsuku/.cache/automation" in report
    assert "removed: tsuku/data/metrics/.gitkeep" in report
    assert "changed: tsuku/LICENSE" in report and "changed: tsuku/recipes/a/act.toml" in report
    with snapshot.kept_unchanged(root):  # reading changes nothing
        (root / "tsuku/LICENSE").read_text()
        list(root.rglob("*"))


def test_the_reference_is_chosen_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(snapshot.REFERENCE_ENV, "none")
    assert snapshot.chosen_reference() is None
    monkeypatch.setenv(snapshot.REFERENCE_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="no tsuku/ folder"):
        snapshot.chosen_reference()
    (tmp_path / "tsuku").mkdir()
    assert snapshot.chosen_reference() == tmp_path
    monkeypatch.delenv(snapshot.REFERENCE_ENV)
    shared = snapshot.SHARED_REFERENCE
    expected = shared if (shared / "tsuku").is_dir() else None
    assert snapshot.chosen_reference() == expected


def test_the_check_command_reports_a_stale_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = _small_reference(tmp_path / "reference")
    assert snapshot.main(["check", str(reference)]) == 1
    assert "rebuild it" in capsys.readouterr().err


def test_tar_bytes_reads_back_as_the_same_files(tmp_path: Path) -> None:
    reference = _small_reference(tmp_path / "reference")
    with tarfile.open(fileobj=io.BytesIO(snapshot.tar_bytes(reference))) as tar:
        member = tar.extractfile("tsuku/recipes/a/act.toml")
        assert member is not None and member.read() == b"[metadata]\nname = 'act'\n"
