"""Homebrew bottles on ghcr.io: anonymous token, OCI image index, blob, member listing.

A bottle is a gzipped tarball of ``<formula>/<pkg_version>/...`` (the keg). The blob is read
into memory with a size cap, its sha256 checked against the formula document, and its members
listed from the tar headers. Nothing is ever extracted: names are only strings here, and members
that would escape the keg (absolute paths, ``..``, links pointing outside) are ignored and
reported.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from automation.core.http import BadResponse, HttpClient

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
BOTTLE_DIGEST = "sh.brew.bottle.digest"
MAX_BOTTLE_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 50_000
MAX_UNPACKED_BYTES = 8 * 1024 * 1024 * 1024  # declared member sizes, summed (gzip-bomb guard)
MAX_NAME_LENGTH = 1024
_EXECUTABLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_LIBRARY = re.compile(r"\.(a|dylib|so(\.\d+)*)$")


class BottleRejected(Exception):
    """The bottle cannot be inspected safely (too many members, not a tarball, ...)."""

    def __init__(self, subcategory: str, message: str):
        super().__init__(message)
        self.subcategory = subcategory


class ChecksumMismatch(Exception):
    """The downloaded blob's sha256 differs from the formula document's."""


def image_name(formula: str) -> str:
    """GHCR repository of a core formula: ``openssl@3`` -> ``homebrew/core/openssl/3``."""
    return "homebrew/core/" + formula.replace("@", "/").replace("+", "x")


def token_path(formula: str) -> str:
    scope = f"repository:{image_name(formula)}:pull"
    return f"/token?service=ghcr.io&scope={quote(scope, safe=':/@')}"


def manifest_tag(pkg_version: str, rebuild: int) -> str:
    """The image tag: ``<pkg_version>`` or ``<pkg_version>-<rebuild>``."""
    return f"{pkg_version}-{rebuild}" if rebuild > 0 else pkg_version


def ref_names(version: str, revision: int, rebuild: int, tag: str) -> tuple[str, ...]:
    """Acceptable ``ref.name`` annotations for a bottle tag (with and without revision)."""
    suffix = f".{rebuild}" if rebuild > 0 else ""
    versions = [f"{version}_{revision}", version] if revision else [version]
    return tuple(f"{v}.{tag}{suffix}" for v in versions)


def fetch_token(http: HttpClient, formula: str) -> str:
    document = http.get_json("ghcr", token_path(formula))
    token = document.get("token") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token or any(c.isspace() for c in token):
        raise BadResponse("ghcr.io token response has no token", url=http.url("ghcr", "/token"))
    return token


def fetch_index(http: HttpClient, formula: str, tag: str, token: str) -> Any:
    path = f"/v2/{image_name(formula)}/manifests/{quote(tag, safe='')}"
    headers = {"Accept": INDEX_MEDIA_TYPE, "Authorization": f"Bearer {token}"}
    return http.get_json("ghcr", path, headers=headers)


def find_digest(index: Any, wanted: Sequence[str]) -> str | None:
    """The bottle digest of the index entry whose ref name is one of ``wanted``."""
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        return None
    for name in wanted:
        for entry in manifests:
            annotations = entry.get("annotations") if isinstance(entry, dict) else None
            if not isinstance(annotations, dict) or annotations.get(REF_NAME) != name:
                continue
            digest = annotations.get(BOTTLE_DIGEST)
            if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest):
                return digest
    return None


def fetch_blob(
    http: HttpClient, formula: str, digest: str, token: str, expected_sha256: str
) -> bytes:
    """The blob's bytes (capped), checked against ``expected_sha256``."""
    path = f"/v2/{image_name(formula)}/blobs/sha256:{digest}"
    data = http.get_bytes(
        "ghcr", path, headers={"Authorization": f"Bearer {token}"}, max_bytes=MAX_BOTTLE_BYTES
    )
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ChecksumMismatch(
            f"bottle blob sha256 {actual} does not match the formula's {expected_sha256}"
        )
    return data


# ---------------------------------------------------------------- listing members


@dataclass(frozen=True, slots=True)
class BottleListing:
    """What a keg offers: executables in ``bin/``, library files and headers (keg-relative)."""

    binaries: tuple[str, ...]  # "bin/<x>", sorted
    libraries: tuple[str, ...]  # "lib/<x>" and "lib/pkgconfig/<x>.pc", sorted
    headers: tuple[str, ...]  # "include/...", sorted
    ignored: tuple[str, ...]  # unsafe or unusable members, sorted, with the reason

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.libraries + self.headers


def _clean_name(name: str) -> str | None:
    """The member name as keg-relative parts, or None when it is unsafe to even consider."""
    if not name or len(name) > MAX_NAME_LENGTH or "\\" in name:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return None
    if name.startswith("/"):
        return None
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    return name


def _inside(base_dir: str, target: str, keg: str) -> str | None:
    """Keg-relative path a link target resolves to, when it stays inside the keg."""
    if not target or target.startswith("/") or "\\" in target or "\x00" in target:
        return None
    resolved = posixpath.normpath(posixpath.join(base_dir, target))
    if resolved == keg or not resolved.startswith(keg + "/"):
        return None
    return resolved[len(keg) + 1 :]


def list_bottle(data: bytes, formula: str, pkg_version: str) -> BottleListing:
    """List a bottle's keg from the tar headers only (raises BottleRejected)."""
    keg = f"{formula}/{pkg_version}"
    binaries: set[str] = set()
    libraries: set[str] = set()
    headers: set[str] = set()
    ignored: set[str] = set()
    count = 0
    unpacked = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
            for member in archive:
                count += 1
                if count > MAX_MEMBERS:
                    raise BottleRejected(
                        "unsafe_bottle", f"bottle has more than {MAX_MEMBERS} members"
                    )
                unpacked += max(member.size, 0)
                if unpacked > MAX_UNPACKED_BYTES:
                    raise BottleRejected(
                        "unsafe_bottle", f"bottle unpacks to more than {MAX_UNPACKED_BYTES} bytes"
                    )
                _classify(member, keg, binaries, libraries, headers, ignored)
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise BottleRejected("bad_bottle", f"bottle is not a readable tarball: {exc}") from None
    return BottleListing(
        tuple(sorted(binaries)), tuple(sorted(libraries)), tuple(sorted(headers)),
        tuple(sorted(ignored)),
    )  # fmt: skip


def _is_library(parts: list[str]) -> bool:
    if len(parts) == 2:
        return bool(_LIBRARY.search(parts[1]))
    return len(parts) == 3 and parts[1] == "pkgconfig" and parts[2].endswith(".pc")


def _classify(
    member: tarfile.TarInfo,
    keg: str,
    binaries: set[str],
    libraries: set[str],
    headers: set[str],
    ignored: set[str],
) -> None:
    name = _clean_name(member.name)
    if name is None:
        ignored.add(f"{member.name[:200]!r}: unsafe path")
        return
    if member.isdir():
        return
    if not name.startswith(keg + "/"):
        ignored.add(f"{name[:200]}: outside the keg {keg}/")
        return
    rel = name[len(keg) + 1 :]
    if member.issym():
        if _inside(posixpath.dirname(name), member.linkname, keg) is None:
            ignored.add(f"{name[:200]}: symlink to {member.linkname[:200]!r} leaves the keg")
            return
    elif member.islnk():
        target = _clean_name(member.linkname)
        if target is None or not target.startswith(keg + "/"):
            ignored.add(f"{name[:200]}: hard link to {member.linkname[:200]!r} leaves the keg")
            return
    elif not member.isfile():
        ignored.add(f"{name[:200]}: not a regular file or link")
        return
    parts = rel.split("/")
    if parts[0] == "bin" and len(parts) == 2:
        # Executables only: regular files need an execute bit; links were checked above.
        if not _EXECUTABLE.fullmatch(parts[1]):
            ignored.add(f"{name[:200]}: unusable executable name")
        elif member.isfile() and not member.mode & 0o111:
            ignored.add(f"{name[:200]}: not executable")
        else:
            binaries.add(rel)
    elif parts[0] == "lib" and _is_library(parts):
        libraries.add(rel)
    elif parts[0] == "include" and len(parts) >= 2:
        headers.add(rel)
