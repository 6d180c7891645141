"""The shared download cache: where it is, how it is turned off, who owns what containers write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from automation.containers.downloads import (
    CONTAINER_DOWNLOAD_CACHE,
    DOWNLOAD_CACHE_ENV,
    ROOT_OWNED,
    container_cache_dir,
    download_cache_dir,
    local_environment,
)


def test_the_default_folder_is_under_the_kits_cache_and_is_created(tmp_path: Path) -> None:
    folder = download_cache_dir({"XDG_CACHE_HOME": str(tmp_path)})
    assert folder == tmp_path / "registry-automation" / "downloads"
    assert folder.is_dir()


def test_a_configured_folder_is_used(tmp_path: Path) -> None:
    assert download_cache_dir({DOWNLOAD_CACHE_ENV: str(tmp_path / "dl")}) == tmp_path / "dl"


@pytest.mark.parametrize("value", ["off", "OFF", "none", "0", "false", "no", " off "])
def test_the_cache_can_be_turned_off(value: str, tmp_path: Path) -> None:
    assert download_cache_dir({DOWNLOAD_CACHE_ENV: value, "XDG_CACHE_HOME": str(tmp_path)}) is None
    assert list(tmp_path.iterdir()) == []  # nothing created either


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_no_cache_rather_than_a_failed_run(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert download_cache_dir({DOWNLOAD_CACHE_ENV: str(locked / "dl")}) is None


def test_a_file_in_the_way_is_no_cache(tmp_path: Path) -> None:
    (tmp_path / "dl").write_text("not a folder")
    assert download_cache_dir({DOWNLOAD_CACHE_ENV: str(tmp_path / "dl")}) is None


def test_containers_share_the_folder_when_their_root_writes_as_the_kits_user(
    tmp_path: Path,
) -> None:
    # podman (rootless: container root is the user; run by root: root both sides) and any
    # engine run by root write files the kit's user owns: one folder for local and containers.
    assert container_cache_dir(tmp_path, "podman", euid=1000) == tmp_path
    assert container_cache_dir(tmp_path, "/usr/bin/podman", euid=1000) == tmp_path
    assert container_cache_dir(tmp_path, "docker", euid=0) == tmp_path
    assert not (tmp_path / ROOT_OWNED).exists()


def test_a_rootful_engine_run_by_another_user_gets_a_folder_of_its_own(tmp_path: Path) -> None:
    """Root-owned files where local npm writes would make it fail with EACCES."""
    separate = container_cache_dir(tmp_path, "docker", euid=1000)
    assert separate == tmp_path / ROOT_OWNED and separate.is_dir()


def test_no_cache_stays_no_cache() -> None:
    assert container_cache_dir(None, "podman") is None
    assert local_environment(None) == {}


def test_local_validation_gets_the_host_folder(tmp_path: Path) -> None:
    assert local_environment(tmp_path) == {DOWNLOAD_CACHE_ENV: str(tmp_path)}
    assert CONTAINER_DOWNLOAD_CACHE.startswith("/")
