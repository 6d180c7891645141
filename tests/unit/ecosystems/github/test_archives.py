"""Archive listings over a local server: real-shaped archives built here, ranged reads, caps."""

from __future__ import annotations

import io
import random
import struct
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from types import MappingProxyType

import pytest

from automation.core.config import Config, load_config
from automation.core.http import HttpClient
from automation.ecosystems.github import archives as archive_listing
from automation.ecosystems.github.archives import list_archive, read_listing
from tests.support.fake_upstream import FakeUpstream

KIB = 1024


MIB = 1024 * KIB


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    config = load_config(env={"AUTOMATION_ENDPOINT_GITHUBDOWNLOAD": upstream.base})
    fast = Config(
        endpoints=config.endpoints,
        rate_limits=MappingProxyType({"githubdownload": 1000.0}),
        retries=0,
        read_timeout=10,
    )
    with HttpClient(fast, env={}) as client:
        yield client


def tar_bytes(
    files: Sequence[tuple[str, bytes]], *, mode: str = "w:gz", dirs: Sequence[str] = ()
) -> bytes:
    """A tar archive; ``dirs`` are directory entries written first (as ``tar czf`` does)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            archive.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def zip_bytes(files: Sequence[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return out.getvalue()


def serve(upstream: FakeUpstream, name: str, data: bytes, *, honour_range: bool = True) -> str:
    path = f"/o/tool/releases/download/v1.0.0/{name}"
    upstream.blob(path, data, honour_range=honour_range)
    return upstream.base + path


def served_bytes(upstream: FakeUpstream, data_size: int) -> int:
    """Body bytes the fake server sent (from the Range headers it was asked)."""
    total = 0
    for _method, _path, header in upstream.log:
        if header is None:
            total += data_size
            continue
        first, last = header.removeprefix("bytes=").split("-")
        if first == "":
            total += min(int(last), data_size)
        else:
            total += min(int(last), data_size - 1) - int(first) + 1
    return total


WRAPPED = [
    ("tool-1.0.0/tool", b"\x7fELF" + b"x" * 5000),
    ("tool-1.0.0/LICENSE", b"MIT\n"),
    ("tool-1.0.0/README.md", b"# tool\n"),
]


def test_wrapped_tar_gz_lists_every_member(upstream: FakeUpstream, http: HttpClient) -> None:
    data = tar_bytes(WRAPPED, dirs=["tool-1.0.0"])
    url = serve(upstream, "tool_1.0.0_linux_amd64.tar.gz", data)
    listed = read_listing(http, url, len(data))
    assert listed.members == (
        "tool-1.0.0/",
        "tool-1.0.0/tool",
        "tool-1.0.0/LICENSE",
        "tool-1.0.0/README.md",
    )
    assert listed.requests == 1 and listed.bytes_read == len(data)
    assert upstream.log[0][2] == f"bytes=0-{len(data) - 1}"  # clamped to the known size


@pytest.mark.parametrize("mode, name", [("w:xz", "t.tar.xz"), ("w:bz2", "t.tbz2")])
def test_xz_and_bz2(upstream: FakeUpstream, http: HttpClient, mode: str, name: str) -> None:
    data = tar_bytes([("bin/tool", b"x" * 100), ("doc/tool.1", b"man")], mode=mode)
    assert list_archive(http, serve(upstream, name, data), None) == ("bin/tool", "doc/tool.1")


def test_flat_zip_and_zip_directories(upstream: FakeUpstream, http: HttpClient) -> None:
    data = zip_bytes([("tool", b"bin" * 1000), ("LICENSE", b"MIT"), ("docs/", b"")])
    listed = read_listing(http, serve(upstream, "tool.zip", data), len(data))
    assert listed.members == ("tool", "LICENSE", "docs/")
    assert listed.requests == 1


def test_zip_directory_before_the_tail_is_read_in_one_more_range(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    rng = random.Random(1)
    files = [(f"pkg/{i:05d}/" + "n" * 60, b"") for i in range(1500)]  # directory > 64 KiB
    data = zip_bytes([("pkg/bin/tool", rng.randbytes(300 * KIB)), *files])
    listed = read_listing(http, serve(upstream, "big.zip", data), len(data))
    assert listed.members is not None and len(listed.members) == 1501
    assert listed.requests == 2
    assert listed.bytes_read < 300 * KIB  # the compressed binary itself was never fetched


def _as_zip64(data: bytes) -> bytes:
    """Rewrite a small zip's end records the zip64 way (EOCD fields saturated, real values in
    the zip64 record), as writers do past 65,535 entries or 4 GiB."""
    eocd = data.rfind(b"PK\x05\x06")
    (_, _, _, _, entries, cd_size, cd_offset, _) = struct.unpack("<4sHHHHIIH", data[eocd:][:22])
    record_offset = eocd
    record = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, record_offset, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:eocd] + record + locator + end


def test_zip64_end_records(upstream: FakeUpstream, http: HttpClient) -> None:
    data = _as_zip64(zip_bytes([("tool-2/bin/tool", b"x"), ("tool-2/README", b"r")]))
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["tool-2/bin/tool", "tool-2/README"]
    assert list_archive(http, serve(upstream, "t.zip", data), len(data)) == (
        "tool-2/bin/tool",
        "tool-2/README",
    )


def test_central_directory_over_the_cap_gives_no_listing(
    upstream: FakeUpstream, http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_listing, "MAX_ZIP_DIRECTORY", 4 * KIB)
    data = zip_bytes([(f"d/{i:04d}", b"") for i in range(200)])
    listed = read_listing(http, serve(upstream, "t.zip", data), len(data))
    assert listed.members is None and "exceeds the cap" in (listed.reason or "")


def test_range_ignored_small_file_still_lists(upstream: FakeUpstream, http: HttpClient) -> None:
    tgz = tar_bytes(WRAPPED)
    zipped = zip_bytes(WRAPPED)
    for name, data in (("t.tar.gz", tgz), ("t.zip", zipped)):
        listed = read_listing(http, serve(upstream, name, data, honour_range=False), None)
        assert listed.members == tuple(n for n, _ in WRAPPED)
        assert listed.requests == 1


def test_range_ignored_large_file_gives_up_without_reading_it(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    data = zip_bytes([("tool", random.Random(2).randbytes(5 * MIB))])
    listed = read_listing(http, serve(upstream, "t.zip", data, honour_range=False), None)
    assert listed.members is None and "exceeds the cap" in (listed.reason or "")
    assert listed.bytes_read == 0  # refused on Content-Length


def test_fifty_megabyte_tarball_costs_one_small_window(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    """The top directory comes first, then a 50 MB binary: the next header is out of reach, so
    the listing stops after the first window instead of reading megabytes."""
    binary = random.Random(3).randbytes(50 * MIB)
    data = tar_bytes([("tool-1.0/tool", binary), ("tool-1.0/LICENSE", b"MIT")], dirs=["tool-1.0"])
    assert len(data) > 50 * MIB
    url = serve(upstream, "t.tar.gz", data)
    # Its size known (GitHub lists it), a tar past the cap is not fetched at all ...
    skipped = read_listing(http, url, len(data))
    assert (skipped.members, skipped.bytes_read, skipped.requests) == (None, 0, 0)
    assert "larger than" in (skipped.reason or "")
    # ... and with the size unknown, one small window shows the next header is out of reach.
    listed = read_listing(http, url, None)
    assert listed.members is None and "hides the rest" in (listed.reason or "")
    assert listed.requests == 1 and listed.bytes_read == archive_listing.FIRST_WINDOW
    assert served_bytes(upstream, len(data)) == archive_listing.FIRST_WINDOW


def test_listing_past_the_compressed_cap_gives_up_at_the_cap(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    rng = random.Random(4)
    files = [(f"t/{i}", rng.randbytes(512 * KIB)) for i in range(12)]  # ~6 MiB incompressible
    data = tar_bytes(files)
    listed = read_listing(http, serve(upstream, "t.tar.gz", data), None)  # size unknown
    assert listed.members is None and "compressed bytes" in (listed.reason or "")
    assert listed.bytes_read == archive_listing.MAX_COMPRESSED
    # 256 KiB, then doubling what was read: 256K, 512K, 1M, 2M windows
    assert [r for _, _, r in upstream.log] == [
        "bytes=0-262143",
        "bytes=262144-524287",
        "bytes=524288-1048575",
        "bytes=1048576-2097151",
        "bytes=2097152-4194303",
    ]


def test_grows_windows_until_the_end_of_the_archive(
    upstream: FakeUpstream, http: HttpClient
) -> None:
    rng = random.Random(5)
    data = tar_bytes([("a/x", rng.randbytes(400 * KIB)), ("a/tool", b"t")], dirs=["a"])
    listed = read_listing(http, serve(upstream, "t.tgz", data), len(data))
    assert listed.members == ("a/", "a/x", "a/tool")
    assert listed.requests == 2 and listed.bytes_read == len(data)


@pytest.mark.parametrize(
    "names", [["../evil", "ok"], ["/etc/passwd"], ["a\\b"], ["a/\x1b[2Jb"], ["a/../../b"]]
)
def test_unsafe_member_names_give_no_listing(
    upstream: FakeUpstream, http: HttpClient, names: list[str]
) -> None:
    data = tar_bytes([(n, b"x") for n in names])
    listed = read_listing(http, serve(upstream, "t.tar.gz", data), len(data))
    assert listed.members is None and "unsafe member name" in (listed.reason or "")


def test_corrupt_truncated_and_unsupported(upstream: FakeUpstream, http: HttpClient) -> None:
    good = tar_bytes(WRAPPED)
    cases = {
        "junk.tar.gz": b"not gzip at all" * 10,
        "cut.tar.gz": good[: len(good) // 2],
        "junk.zip": b"PK not really",
    }
    for name, data in cases.items():
        listed = read_listing(http, serve(upstream, name, data), len(data))
        assert listed.members is None and listed.reason, name
    for name in ("tool.tar.zst", "tool", "tool.deb"):
        listed = read_listing(http, upstream.base + "/never/" + name, 10)
        assert listed.members is None and listed.requests == 0


def test_missing_asset_is_no_listing(upstream: FakeUpstream, http: HttpClient) -> None:
    upstream.json("/o/tool/releases/download/v1.0.0/gone.tar.gz", {}, status=404)
    listed = read_listing(http, upstream.base + "/o/tool/releases/download/v1.0.0/gone.tar.gz", 9)
    assert listed.members is None and (listed.reason or "").startswith("not_found")


def test_zip_bomb_stops_at_the_uncompressed_cap(
    upstream: FakeUpstream, http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_listing, "MAX_UNCOMPRESSED", 1 * MIB)
    data = tar_bytes([("a/zeros", bytes(3 * MIB)), ("a/tool", b"t")])
    listed = read_listing(http, serve(upstream, "t.tar.gz", data), len(data))
    assert listed.members is None and listed.reason is not None
