"""tsuku's Python for PyPI tools: Debian's source, sha256-pinned, built into /opt/tsuku-python.

The real build takes minutes, so these tests serve a tiny "source release" whose ``configure``
and ``Makefile`` are shell: ``make install DESTDIR=...`` lays out the prefix the provider expects,
with a ``python3.13`` that answers the version probe. What is checked is the provider's part:
the download path, the checksum gate, the configure flags, the staged install moved into the
cache, the test suite dropped, the ``python3`` alias, and the version gate.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.containers.runtimes import RuntimeUnavailable, ensure, find
from automation.core.config import load_config, public_endpoints
from automation.core.ecosystem_facts import facts_for
from automation.ecosystems.pypi import runtime
from tests.support.fake_upstream import FakeUpstream

PIN = facts_for("pypi").runtime  # type: ignore[union-attr]

CONFIGURE = """#!/bin/sh
echo "$@" > configure.args
"""
# The interpreter answers the provider's probe (it imports modules, then prints the version).
MAKEFILE = """all:
\t@echo built
install:
\tmkdir -p $(DESTDIR)/opt/tsuku-python/3.13/bin $(DESTDIR)/opt/tsuku-python/3.13/lib/python3.13/test
\tprintf '#!/bin/sh\\necho {version}\\n' > $(DESTDIR)/opt/tsuku-python/3.13/bin/python3.13
\tchmod 755 $(DESTDIR)/opt/tsuku-python/3.13/bin/python3.13
\tcp configure.args $(DESTDIR)/opt/tsuku-python/3.13/configure.args
\techo big > $(DESTDIR)/opt/tsuku-python/3.13/lib/python3.13/test/test_big.py
\techo os > $(DESTDIR)/opt/tsuku-python/3.13/lib/python3.13/os.py
"""


def _source(reported_version: str) -> bytes:
    buffer = io.BytesIO()
    top = f"Python-{reported_version}"
    files = {
        f"{top}/configure": (CONFIGURE, 0o755),
        f"{top}/Makefile": (MAKEFILE.format(version=reported_version), 0o644),
    }
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


def _serve(upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, reported_version: str) -> bytes:
    assert PIN is not None
    data = _source(reported_version)
    upstream.blob(runtime.source_path(PIN.version), data)
    monkeypatch.setitem(runtime.SOURCE_SHA256, PIN.version, hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(runtime, "PROVIDER", runtime.DebianSourceBuild(jobs=1))
    return data


def _config(upstream: FakeUpstream):  # type: ignore[no-untyped-def]
    env = {f"AUTOMATION_ENDPOINT_{n.upper()}": upstream.base for n in public_endpoints()}
    return load_config(env=env)


def test_the_source_path_is_debians_pool_layout() -> None:
    assert runtime.source_path("3.13.5") == "/pool/main/p/python3.13/python3.13_3.13.5.orig.tar.xz"


def test_builds_into_the_mount_point_prefix_once(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert PIN is not None
    _serve(upstream, monkeypatch, PIN.version)
    facts = facts_for("pypi")
    assert facts is not None
    ready = ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert ready is not None and ready.version == PIN.version
    root = tmp_path / "python3" / PIN.version
    # Configured for the path containers mount it at, so the prefix is right in both places.
    assert (root / "configure.args").read_text().split() == [
        "--prefix=/opt/tsuku-python/3.13",
        "--with-ensurepip=install",
    ]
    assert (root / "bin" / "python3").readlink() == Path("python3.13")
    assert (root / "lib" / "python3.13" / "os.py").exists()
    assert not (root / "lib" / "python3.13" / "test").exists()  # the test suite is not kept
    assert "sha256-verified" in ready.build and PIN.version in ready.build
    # Found again without another download.
    before = len(upstream.requests_to("python3.13_"))
    assert find(facts, tmp_path) == ready
    ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert len(upstream.requests_to("python3.13_")) == before


def test_a_source_that_is_not_the_pinned_one_is_refused_and_leaves_nothing(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert PIN is not None
    _serve(upstream, monkeypatch, PIN.version)
    monkeypatch.setitem(runtime.SOURCE_SHA256, PIN.version, "0" * 64)
    facts = facts_for("pypi")
    assert facts is not None
    with pytest.raises(RuntimeUnavailable, match="sha256 mismatch"):
        ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert find(facts, tmp_path) is None
    assert not (tmp_path / "python3" / PIN.version).exists()


def test_a_version_without_a_pinned_checksum_says_where_to_add_it(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert PIN is not None
    _serve(upstream, monkeypatch, PIN.version)
    monkeypatch.delitem(runtime.SOURCE_SHA256, PIN.version)
    facts = facts_for("pypi")
    assert facts is not None
    with pytest.raises(RuntimeUnavailable, match=r"automation/ecosystems/pypi/runtime\.py"):
        ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert find(facts, tmp_path) is None


def test_a_build_reporting_another_version_is_not_admitted(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _serve(upstream, monkeypatch, "3.12.3")
    facts = facts_for("pypi")
    assert facts is not None
    with pytest.raises(RuntimeUnavailable, match="not the pinned"):
        ensure(facts, config=_config(upstream), root=tmp_path, log=lambda _m: None)
    assert find(facts, tmp_path) is None


def test_every_pinned_source_checksum_is_a_sha256() -> None:
    for version, digest in runtime.SOURCE_SHA256.items():
        assert len(digest) == 64 and int(digest, 16) >= 0, version
