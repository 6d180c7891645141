"""Member names of a remote archive, read with a few small HTTP Range requests.

Only lists: nothing is extracted or written, and member names are checked, never used as paths.

* zip: the end-of-central-directory record from the file's last 64 KiB, then the central
  directory (one more ranged read when it lies before that tail, zip64 included), parsed with
  the wheel reader of :mod:`automation.ecosystems.pypi.client`.
* tar.gz / tar.xz / tar.bz2: compressed bytes from the start in growing windows (256 KiB, then
  doubling the amount read, up to 4 MiB), decompressed as a stream and walked with ``tarfile``'s
  stream mode, member data skipped without being kept. A tar names its members one header at a
  time between their data, so the listing counts only when the walk reaches the end of the
  archive; one that would need more than the caps (or whose next header lies beyond the
  uncompressed cap, as behind a 50 MB binary) gives no listing and the naming rules decide.
* anything else (tar.zst, bare binaries): no listing.

A server that ignores Range answers 200 with the whole file: used when it fits the 4 MiB cap,
else no listing. Every failure (HTTP, corrupt data, caps, unsafe names) is a ``None`` listing
with its reason; callers fall back, they never fail on it.
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import tarfile
import zlib
from dataclasses import dataclass
from typing import IO, Protocol, cast

from automation.core.http import BadResponse, HttpClient, HttpError, RangeResult
from automation.ecosystems.github.assets import classify
from automation.ecosystems.pypi.client import (
    TAIL_BYTES,
    locate_central_directory,
    parse_central_directory,
    zip_regions,
)

FIRST_WINDOW = 256 * 1024
MAX_COMPRESSED = 4 * 1024 * 1024  # compressed bytes read for one listing (and a 200 body)
MAX_UNCOMPRESSED = 32 * 1024 * 1024  # tar stream bytes walked (zip bombs, huge members)
MAX_ZIP_DIRECTORY = 4 * 1024 * 1024
MAX_MEMBERS = 20_000
MAX_NAME = 4096
TAR_FORMATS = frozenset({"tar.gz", "tar.xz", "tar.bz2"})
# A path segment ".." (an archive that climbs out of its root is not a layout to trust).
_PARENT = re.compile(r"(?:^|/)\.\.(?:/|\Z)")


@dataclass(frozen=True, slots=True)
class ArchiveListing:
    """The outcome of one listing: ``members`` (None: unknown, see ``reason``) and its cost."""

    members: tuple[str, ...] | None
    bytes_read: int
    requests: int
    reason: str | None = None  # why ``members`` is None


class _GiveUp(Exception):
    """The listing cannot be completed within the caps (or is not to be trusted)."""


class _Reader:
    """Ranged GETs of one URL, counting requests and body bytes."""

    def __init__(self, http: HttpClient, url: str, size: int | None):
        self.http = http
        self.url = url
        self.endpoint = http.config.endpoint_for_url(url)
        self.total = size
        self.bytes_read = 0
        self.requests = 0

    def get(self, start: int | None, end: int, max_bytes: int) -> RangeResult:
        self.requests += 1
        got = self.http.get_range(self.endpoint, self.url, start, end, max_bytes=max_bytes)
        self.bytes_read += len(got.body)
        return got


def archive_format_of(name: str) -> str | None:
    """``zip`` / ``tar.gz`` / ... as the asset picker reads the name; None for anything else."""
    return classify(name).archive_format


def read_listing(
    http: HttpClient, url: str, size: int | None, *, archive_format: str | None = None
) -> ArchiveListing:
    """List the archive at absolute ``url`` (``size`` in bytes when known).

    ``archive_format`` defaults to what the URL's last path segment says.
    """
    fmt = archive_format or archive_format_of(url.rsplit("/", 1)[-1].split("?", 1)[0])
    reader = _Reader(http, url, size)
    if fmt != "zip" and fmt not in TAR_FORMATS:
        return ArchiveListing(None, 0, 0, f"unsupported format {fmt}")
    if fmt != "zip" and size is not None and size > MAX_COMPRESSED:
        # A tar stream is listed only when read to its end: one larger than the cap never is,
        # so nothing is downloaded (the naming rules decide).
        return ArchiveListing(None, 0, 0, f"{size} bytes: larger than the {MAX_COMPRESSED} cap")
    try:
        names = _zip_members(reader) if fmt == "zip" else _tar_members(reader, fmt or "")
        members: tuple[str, ...] | None = _checked(names)
        reason = None
    except _GiveUp as exc:
        members, reason = None, str(exc)
    except HttpError as exc:
        members, reason = None, f"{exc.category}: {exc}"
    except (tarfile.TarError, zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
        members, reason = None, f"unreadable archive: {type(exc).__name__}: {exc}"
    return ArchiveListing(members, reader.bytes_read, reader.requests, reason)


def list_archive(
    http: HttpClient, url: str, size: int | None, *, archive_format: str | None = None
) -> tuple[str, ...] | None:
    """Member names of the archive at ``url``, or None when they could not all be read."""
    return read_listing(http, url, size, archive_format=archive_format).members


def _checked(names: list[str]) -> tuple[str, ...]:
    if len(names) > MAX_MEMBERS:
        raise _GiveUp(f"more than {MAX_MEMBERS} members")
    for name in names:
        if (
            not name
            or len(name) > MAX_NAME
            or not name.isprintable()
            or "\\" in name
            or name.startswith("/")
            or _PARENT.search(name)
        ):
            raise _GiveUp(f"unsafe member name {name[:80]!r}")
    return tuple(names)


# ---------------------------------------------------------------- zip


def _zip_members(reader: _Reader) -> list[str]:
    url = reader.url
    first = reader.get(None, TAIL_BYTES, MAX_COMPRESSED)
    tail = first.body
    total = len(tail)
    if first.partial and first.total_size is not None:
        total = max(first.total_size, len(tail))

    def read(offset: int, length: int) -> bytes:
        # Before the tail window: one more read of exactly the directory (it may be larger).
        got = reader.get(offset, offset + length - 1, length)
        if not got.partial or len(got.body) != length:
            raise BadResponse(f"asked {length} bytes, got {len(got.body)}", url=url)
        return got.body

    region = zip_regions(read, tail, total, url)
    count, cd_size, cd_offset = locate_central_directory(region, tail, url)
    if cd_size > MAX_ZIP_DIRECTORY or count > MAX_MEMBERS:
        raise _GiveUp(f"central directory of {cd_size} bytes / {count} entries exceeds the cap")
    if count == 0:
        return []
    return [entry.name for entry in parse_central_directory(region(cd_offset, cd_size), count, url)]


# ---------------------------------------------------------------- tar streams


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _Inflating(io.RawIOBase):
    """The decompressed tar stream, fetching compressed windows only when it runs dry."""

    def __init__(self, reader: _Reader, fmt: str):
        self._reader = reader
        self._fmt = fmt
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS) if fmt == "tar.gz" else None
        self._other: _Decompressor | None = None
        if fmt == "tar.xz":
            self._other = lzma.LZMADecompressor()
        elif fmt == "tar.bz2":
            self._other = bz2.BZ2Decompressor()
        self._tail = b""  # zlib input not consumed yet (output was capped)
        self._fetched = 0
        self._source_done = False
        self.position = 0  # uncompressed bytes handed to tarfile

    def readable(self) -> bool:
        return True

    def _more(self) -> bytes:
        """The next compressed window, or b"" at the end of the file."""
        total = self._reader.total
        if self._source_done or (total is not None and self._fetched >= total):
            self._source_done = True
            return b""
        if self._fetched >= MAX_COMPRESSED:
            raise _GiveUp(f"listing needs more than {MAX_COMPRESSED} compressed bytes")
        size = min(max(FIRST_WINDOW, self._fetched), MAX_COMPRESSED - self._fetched)
        end = self._fetched + size - 1
        if total is not None:
            end = min(end, total - 1)
        first = self._fetched == 0
        got = self._reader.get(self._fetched, end, MAX_COMPRESSED if first else size)
        if not got.partial:
            if not first:
                raise BadResponse("server stopped honouring Range", url=self._reader.url)
            self._source_done = True  # the whole file arrived
        elif got.total_size is not None:
            self._reader.total = got.total_size
        if not got.body:
            self._source_done = True
        self._fetched += len(got.body)
        return got.body

    def _step(self, limit: int) -> bytes | None:
        """Some output (possibly b"" while input is consumed), or None at the end."""
        if self._zlib is not None:
            d = self._zlib
            if d.eof:
                if not d.unused_data:
                    return None
                # A concatenated gzip member: carry on with a fresh decompressor.
                rest = d.unused_data
                d = self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._tail = rest
            data = self._tail or self._more()
            if not data:
                raise _GiveUp("compressed stream ends early (truncated file)")
            out = d.decompress(data, limit)
            self._tail = d.unconsumed_tail
            return out
        assert self._other is not None
        other = self._other
        if other.eof:
            return None
        data = b""
        if other.needs_input:
            data = self._more()
            if not data:
                raise _GiveUp("compressed stream ends early (truncated file)")
        return other.decompress(data, limit)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        limit = len(buffer)
        while True:
            out = self._step(limit)
            if out is None:
                return 0
            if out:
                buffer[: len(out)] = out
                self.position += len(out)
                if self.position > MAX_UNCOMPRESSED:
                    raise _GiveUp(f"tar stream longer than {MAX_UNCOMPRESSED} bytes")
                return len(out)


def _tar_members(reader: _Reader, fmt: str) -> list[str]:
    stream = _Inflating(reader, fmt)
    names: list[str] = []
    with tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|") as archive:
        for info in archive:
            if len(names) >= MAX_MEMBERS:
                raise _GiveUp(f"more than {MAX_MEMBERS} members")
            if info.offset_data + info.size > MAX_UNCOMPRESSED:
                # The next header lies past what may be walked: stop before fetching more.
                raise _GiveUp(f"member {info.name[:80]!r} of {info.size} bytes hides the rest")
            names.append(info.name + "/" if info.isdir() else info.name)
    return names
