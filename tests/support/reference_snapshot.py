"""The reference data the tests read, shipped in the repository as one deterministic ``tar.xz``.

The tests read ``tsuku/`` (the whole reference registry: every file of it is read by some test,
``check-data`` on a copy reads them all) and five saved GitHub release listings from
``api-samples/github/``. With ``../shared/reference`` next to the repository the tests read it
there; without it, ``tests/conftest.py`` extracts this snapshot once per session.

The archive is deterministic: members in name order, one fixed mtime, uid/gid 0 with no owner
names, modes 0644/0755, so building it again from the same files gives the same tar bytes (and,
with the same liblzma, the same ``.xz`` bytes). Rebuild it, from the repository root::

    python -m tests.support.reference_snapshot build ../shared/reference
    python -m tests.support.reference_snapshot check ../shared/reference   # snapshot current?
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import lzma
import os
import stat
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHARED_REFERENCE = REPOSITORY_ROOT.parent / "shared" / "reference"
REFERENCE_ENV = "REGISTRY_AUTOMATION_REFERENCE"
SNAPSHOT_DIR = REPOSITORY_ROOT / "tests" / "fixtures" / "reference"
SNAPSHOT = SNAPSHOT_DIR / "reference.tar.xz"
CHECKSUM_FILE = SNAPSHOT_DIR / "SHA256SUMS"

# What the tests read, relative to the reference folder: whole trees, and single files.
TREES = ("tsuku",)
FILES = tuple(
    f"api-samples/github/{name}.releases.json"
    for name in (
        "TIBCOSoftware__jasperreports",
        "actions__checkout",
        "github__licensed",
        "integrations__terraform-provider-github",
        "opentable__sous",
    )
)
# 2026-08-15T00:00:00Z, the date of the tsuku commit the registry data was taken from.
FIXED_MTIME = 1_786_752_000
XZ_PRESET = 9 | lzma.PRESET_EXTREME


def chosen_reference() -> Path | None:
    """The reference folder the tests read in place, or None for the shipped snapshot.

    ``REGISTRY_AUTOMATION_REFERENCE`` unset: ``../shared/reference`` if it holds ``tsuku/``;
    ``none``: the snapshot; a folder: that folder. Raises ValueError for a folder without
    ``tsuku/``.
    """
    choice = os.environ.get(REFERENCE_ENV, "").strip()
    if choice.lower() == "none":
        return None
    if choice:
        folder = Path(choice)
        if not (folder / "tsuku").is_dir():
            raise ValueError(f"{REFERENCE_ENV}={choice}: no tsuku/ folder in it")
        return folder
    return SHARED_REFERENCE if (SHARED_REFERENCE / "tsuku").is_dir() else None


def snapshot_members(reference: Path) -> list[str]:
    """The snapshot's files and folders (relative, POSIX, sorted), as found under ``reference``.

    Raises FileNotFoundError naming the first missing tree or file.
    """
    names: set[str] = set()
    for tree in TREES:
        top = reference / tree
        if not top.is_dir():
            raise FileNotFoundError(f"{top}: reference tree missing")
        names.add(tree)
        for path in top.rglob("*"):
            names.add(path.relative_to(reference).as_posix())
    for rel in FILES:
        if not (reference / rel).is_file():
            raise FileNotFoundError(f"{reference / rel}: reference file missing")
        parts = rel.split("/")
        names.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(names)


def _tar_info(reference: Path, rel: str) -> tarfile.TarInfo:
    path = reference / rel
    info = tarfile.TarInfo(rel)
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    mode = path.lstat().st_mode
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    elif stat.S_ISREG(mode):
        info.size = path.stat().st_size
        info.mode = 0o755 if mode & 0o111 else 0o644
    else:
        raise ValueError(f"{path}: only regular files and folders belong in the snapshot")
    return info


def tar_bytes(reference: Path) -> bytes:
    """The uncompressed, deterministic tar of the snapshot's members under ``reference``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for rel in snapshot_members(reference):
            info = _tar_info(reference, rel)
            if info.isdir():
                archive.addfile(info)
            else:
                with (reference / rel).open("rb") as handle:
                    archive.addfile(info, handle)
    return buffer.getvalue()


def _write_atomically(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def build_snapshot(reference: Path, out: Path = SNAPSHOT) -> str:
    """Write the compressed snapshot of ``reference`` to ``out`` atomically; its sha256."""
    data = lzma.compress(tar_bytes(reference), format=lzma.FORMAT_XZ, preset=XZ_PRESET)
    _write_atomically(out, data)
    return hashlib.sha256(data).hexdigest()


def snapshot_tar_bytes(archive: Path = SNAPSHOT) -> bytes:
    """The shipped snapshot, decompressed."""
    return lzma.decompress(archive.read_bytes(), format=lzma.FORMAT_XZ)


def extract_snapshot(destination: Path, archive: Path = SNAPSHOT) -> Path:
    """Unpack the snapshot into ``destination`` (which then holds ``tsuku/``, ``api-samples/``)."""
    with tarfile.open(archive, mode="r:xz") as tar:
        # The "data" filter refuses absolute names, links out of the folder and device files.
        tar.extractall(destination, filter="data")
    return destination


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in [*dirs, *sorted(files)]:
            yield Path(folder) / name


def set_writable(root: Path, writable: bool) -> None:
    """Add (or remove) the write bits of everything under ``root`` (folders last when removing,
    so the walk itself never meets a folder it cannot list)."""
    paths = list(_walk(root))
    for path in paths if writable else reversed(paths):
        mode = path.lstat().st_mode
        wanted = (mode | stat.S_IWUSR) if writable else (mode & ~0o222)
        path.chmod(stat.S_IMODE(wanted))


Fingerprint = Mapping[str, tuple[str, int, int]]


def fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every path under ``root``: kind (``d``/``f``/``l``), size and mtime in nanoseconds.

    Folders are included: creating or removing anything in one changes its mtime.
    """
    found: dict[str, tuple[str, int, int]] = {}
    for path in _walk(root):
        info = path.lstat()
        kind = "d" if stat.S_ISDIR(info.st_mode) else "l" if stat.S_ISLNK(info.st_mode) else "f"
        size = 0 if kind == "d" else info.st_size
        found[path.relative_to(root).as_posix()] = (kind, size, info.st_mtime_ns)
    return found


def fingerprint_changes(before: Fingerprint, after: Fingerprint) -> list[str]:
    """What changed between two fingerprints, one line per path (added, removed, changed)."""
    changes = [f"added: {rel}" for rel in sorted(after.keys() - before.keys())]
    changes += [f"removed: {rel}" for rel in sorted(before.keys() - after.keys())]
    changes += [
        f"changed: {rel} {before[rel]} -> {after[rel]}"
        for rel in sorted(before.keys() & after.keys())
        if before[rel] != after[rel]
    ]
    return changes


@contextlib.contextmanager
def kept_unchanged(root: Path, *, shown: int = 20) -> Iterator[Path]:
    """Yield ``root``; afterwards raise AssertionError listing what changed under it, if anything
    (paths added or removed, sizes or mtimes changed)."""
    before = fingerprint(root)
    yield root
    changes = fingerprint_changes(before, fingerprint(root))
    if changes:
        more = f"\n... {len(changes) - shown} more" if len(changes) > shown else ""
        listed = "\n".join(changes[:shown]) + more
        raise AssertionError(f"the tests changed the reference data in {root}:\n{listed}")


def recorded_sha256(checksums: Path = CHECKSUM_FILE) -> str:
    """The archive's sha256 as recorded next to it."""
    for line in checksums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if name == SNAPSHOT.name:
            return digest
    raise ValueError(f"{checksums}: no line for {SNAPSHOT.name}")


def main(argv: Sequence[str]) -> int:
    """``build REFERENCE`` rewrites the snapshot and SHA256SUMS; ``check REFERENCE`` exits 1 when
    the shipped snapshot's tar differs from one built from REFERENCE."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.reference_snapshot")
    parser.add_argument("command", choices=("build", "check"))
    parser.add_argument("reference", type=Path, help="the folder holding tsuku/ and api-samples/")
    args = parser.parse_args(argv)
    if args.command == "build":
        digest = build_snapshot(args.reference)
        _write_atomically(CHECKSUM_FILE, f"{digest}  {SNAPSHOT.name}\n".encode())
        print(f"{SNAPSHOT.relative_to(REPOSITORY_ROOT)}: {SNAPSHOT.stat().st_size} bytes, {digest}")
        return 0
    if tar_bytes(args.reference) != snapshot_tar_bytes():
        print(f"{SNAPSHOT}: differs from {args.reference}; rebuild it", file=sys.stderr)
        return 1
    print(f"{SNAPSHOT.relative_to(REPOSITORY_ROOT)}: current")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
