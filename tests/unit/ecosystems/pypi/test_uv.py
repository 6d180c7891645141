"""Provisioning uv, the kit's PyPI installer, from its sha256-pinned PyPI wheel."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.containers.runtimes import (
    RuntimeUnavailable,
    ensure_installer_tool,
    installer_tool_wanted,
    tool_path,
)
from automation.core.config import load_config, public_endpoints
from automation.core.ecosystem_facts import facts_for
from automation.core.errors import UsageError
from automation.ecosystems.pypi import uv
from tests.support.fake_upstream import FakeUpstream

FACTS = facts_for("pypi")
assert FACTS is not None and FACTS.installer_tool is not None
PIN = FACTS.installer_tool
FILENAME = f"uv-{PIN.version}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def _wheel(version_printed: str, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        script = f'#!/bin/sh\necho "uv {version_printed} (x86_64-unknown-linux-gnu)"\n'
        archive.writestr(f"uv-{PIN.version}.data/scripts/uv", script)
        archive.writestr(f"uv-{PIN.version}.dist-info/METADATA", "Name: uv\n")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


def _serve(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, wheel: bytes, pinned: str = ""
) -> None:
    """A fake PyPI whose uv release lists the wheel by a relative URL (as a proxy serves it)."""
    upstream.json(
        "/pypi/uv/json",
        {
            "info": {"version": PIN.version},
            "urls": [
                {"filename": "uv-0.0.0-other.whl", "url": "../../packages/other.whl"},
                {"filename": FILENAME, "url": f"../../packages/ab/{FILENAME}"},
            ],
        },
    )
    upstream.blob(f"/packages/ab/{FILENAME}", wheel)
    sha = pinned or hashlib.sha256(wheel).hexdigest()
    monkeypatch.setitem(uv.WHEELS, PIN.version, {"x86_64": (FILENAME, sha)})
    monkeypatch.setattr(uv, "PROVIDER", uv.UvWheel(machine="x86_64"))


def _config(upstream: FakeUpstream, **validate: str):  # type: ignore[no-untyped-def]
    env = {f"AUTOMATION_ENDPOINT_{n.upper()}": upstream.base for n in public_endpoints()}
    config = load_config(env=env)
    return config.with_settings("validate", **validate) if validate else config


def test_the_pinned_wheel_becomes_bin_uv_and_nothing_else(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A member outside the scripts folder, with a path that climbs out, is never written.
    _serve(upstream, monkeypatch, _wheel(PIN.version, {"../../escape": b"x"}))
    ready = ensure_installer_tool(FACTS, config=_config(upstream), root=tmp_path, log=print)
    assert ready is not None and (ready.name, ready.version) == ("uv", PIN.version)
    root = tmp_path / "uv" / PIN.version
    assert sorted(p.name for p in root.iterdir()) == ["bin", "provisioned.json"]
    assert [p.name for p in (root / "bin").iterdir()] == ["uv"]
    assert os.access(root / "bin" / "uv", os.X_OK)
    assert not (tmp_path.parent / "escape").exists()
    assert FILENAME in ready.build and "sha256-pinned" in ready.build
    assert tool_path([ready], "uv", container=False) == str(root / "bin" / "uv")
    assert tool_path([ready], "uv", container=True) == f"{uv.MOUNT_POINT}/bin/uv"
    assert tool_path([ready], "pip", container=True) is None


def test_a_wheel_that_is_not_the_pinned_one_leaves_the_install_to_pip(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _serve(upstream, monkeypatch, _wheel(PIN.version), pinned="0" * 64)
    said: list[str] = []
    ready = ensure_installer_tool(FACTS, config=_config(upstream), root=tmp_path, log=said.append)
    assert ready is None
    assert "sha256 mismatch" in said[-1] and "installing without it" in said[-1]
    assert not (tmp_path / "uv" / PIN.version).exists()
    with pytest.raises(RuntimeUnavailable, match="sha256 mismatch"):
        uv.PROVIDER.provision(PIN, tmp_path / "t", _config(upstream), said.append)


def test_a_binary_reporting_another_version_is_not_admitted(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _serve(upstream, monkeypatch, _wheel("0.1.0"))
    said: list[str] = []
    assert (
        ensure_installer_tool(FACTS, config=_config(upstream), root=tmp_path, log=said.append)
        is None
    )
    assert "not the pinned" in said[-1]


def test_wheel_members_and_machines(tmp_path: Path) -> None:
    assert uv.pinned_wheel(PIN.version, "AMD64")[0].endswith("x86_64.whl")
    assert "aarch64" in uv.pinned_wheel(PIN.version, "arm64")[0]
    with pytest.raises(RuntimeUnavailable, match=r"no uv .* pinned for machine 'riscv64'"):
        uv.pinned_wheel(PIN.version, "riscv64")
    for pinned in uv.WHEELS.values():
        assert all(len(sha) == 64 and int(sha, 16) >= 0 for _f, sha in pinned.values())
    with pytest.raises(RuntimeUnavailable, match="does not list"):
        uv.wheel_url({"urls": []}, FILENAME, "https://pypi.org/pypi/uv/json")
    url = uv.wheel_url(
        {"urls": [{"filename": FILENAME, "url": "/f/x.whl"}]},
        FILENAME,
        "https://m.example/pypi/uv/json",
    )
    assert url == "https://m.example/f/x.whl"
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("uv/__init__.py", "")
    with pytest.raises(RuntimeUnavailable, match="has no uv-"):
        uv.unpack_binary(empty, PIN.version, tmp_path / "out")
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(RuntimeUnavailable, match="not a zip"):
        uv.unpack_binary(tmp_path / "bad.whl", PIN.version, tmp_path / "out")


def test_validate_pypi_installer_setting_chooses_uv_or_pip(upstream: FakeUpstream) -> None:
    assert installer_tool_wanted(FACTS, _config(upstream))  # uv by default
    assert not installer_tool_wanted(FACTS, _config(upstream, pypi_installer="pip"))
    with pytest.raises(UsageError, match=r"\[validate\] pypi_installer must be 'uv' or 'pip'"):
        installer_tool_wanted(FACTS, _config(upstream, pypi_installer="poetry"))
    npm = facts_for("npm")
    assert npm is not None and not installer_tool_wanted(npm, _config(upstream))
