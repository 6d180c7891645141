"""The Go module proxy: resolve a module or package path, and find its main packages.

``go:<path>`` names a module (``github.com/go-task/task/v3``) or a package inside one
(``golang.org/x/tools/cmd/goimports``). Like the go command, the module is the longest prefix of
the path the proxy knows: ``GET /<escaped prefix>/@latest`` is tried from the full path down
(404/410 mean "not a module"). The module zip (``GET /<module>/@v/<version>.zip``) is then read
with HTTP Range requests (end-of-central-directory record, central directory, then only the
first kilobytes of the ``.go`` files that decide a directory's package clause); a server that
ignores Range gets a capped full download. Nothing is extracted: entries are parsed in memory
and their names are only compared, never used as paths.

A directory is a main package when its first buildable ``.go`` file (not ``_test.go``, not
``_``/``.``-prefixed, not ``//go:build ignore``) says ``package main``. The executable ``go
install`` produces is the last element of the package path, or the one before it when that is
a major-version suffix (``/v3``). The proxy serves no checksum for the zip itself (go.sum's
``h1:`` hash covers the file tree via sum.golang.org); the zip is only read, never installed.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from automation.core.errors import UnsafeNameError
from automation.core.http import BadResponse, HttpClient, NotFound
from automation.ecosystems.pypi.client import (
    LOCAL,
    MAX_CENTRAL_DIRECTORY,
    ZipEntry,
    _find_eocd,
    _parse_eocd64,
    _safe_member,
    parse_central_directory,
)

ENDPOINT = "goproxy"
MAX_PATH = 300
MAX_ELEMENTS = 12
# Module path elements (golang.org/x/mod/module.CheckPath): ASCII letters, digits, ".-_~".
_ELEMENT = re.compile(r"[A-Za-z0-9._~-]{1,100}")
# The first element is a host name: lowercase, with a dot.
_HOST = re.compile(r"[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+")
_VERSION = re.compile(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+incompatible)?")
_MAJOR = re.compile(r"v[0-9]+")
_EXECUTABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
TAIL_BYTES = 64 * 1024
MAX_ZIP_BYTES = 500 * 1024 * 1024  # the module zip limit the go command enforces
MAX_FULL_DOWNLOAD = 64 * 1024 * 1024
HEAD_BYTES = 8 * 1024  # decompressed bytes read from a .go file to find its package clause
MAX_CMD_DIRS = 100
MAX_FILES_PER_DIR = 5


def check_go_path(path: object) -> str:
    """Return ``path`` if it is a plausible module/package path, else raise UnsafeNameError."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise UnsafeNameError(f"invalid Go module path {path!r}"[:200])
    elements = path.split("/")
    if len(elements) < 2 or len(elements) > MAX_ELEMENTS or not _HOST.fullmatch(elements[0]):
        raise UnsafeNameError(f"invalid Go module path {path!r}"[:200])
    for element in elements[1:]:
        if (
            not _ELEMENT.fullmatch(element)
            or element.startswith(".")
            or element.endswith(".")
            or ".." in element
        ):
            raise UnsafeNameError(f"invalid Go module path {path!r}"[:200])
    return path


def escape(text: str) -> str:
    """Proxy case-encoding: every uppercase letter becomes ``!`` + its lowercase."""
    return re.sub(r"[A-Z]", lambda m: "!" + m[0].lower(), text)


def latest_path(module: str) -> str:
    return f"/{escape(check_go_path(module))}/@latest"


def zip_path(module: str, version: str) -> str:
    return f"/{escape(check_go_path(module))}/@v/{escape(version)}.zip"


def executable_for(package: str) -> str:
    """What ``go install <package>`` names the binary: the last element, skipping ``/vN``."""
    elements = package.split("/")
    if len(elements) > 2 and _MAJOR.fullmatch(elements[-1]):
        return elements[-2]
    return elements[-1]


@dataclass(frozen=True, slots=True)
class ModuleVersion:
    module: str
    version: str
    time: str | None


def parse_latest(document: Any, module: str, *, url: str) -> ModuleVersion:
    """Parse an ``@latest`` (or ``.info``) document: ``{"Version", "Time", "Origin"?}``."""
    if not isinstance(document, dict) or not isinstance(document.get("Version"), str):
        raise BadResponse("proxy answer has no Version", url=url)
    version = document["Version"]
    if not _VERSION.fullmatch(version):
        raise BadResponse(f"unusable module version {version!r}"[:200], url=url)
    time = document.get("Time")
    return ModuleVersion(module, version, time if isinstance(time, str) else None)


def resolve(http: HttpClient, path: str) -> ModuleVersion:
    """The module providing ``path`` at its latest version (longest known prefix wins)."""
    check_go_path(path)
    elements = path.split("/")
    last: NotFound | None = None
    for size in range(len(elements), 1, -1):
        candidate = "/".join(elements[:size])
        request = latest_path(candidate)
        try:
            document = http.get_json(ENDPOINT, request)
        except NotFound as exc:
            last = exc
            continue
        return parse_latest(document, candidate, url=http.url(ENDPOINT, request))
    assert last is not None
    raise NotFound(f"no module on the proxy provides {path}", url=last.url, status=last.status)


# ---------------------------------------------------------------- zip reading

Reader = Callable[[int, int], bytes]  # (offset, length) -> bytes of the zip


def zip_entries(read: Reader, tail: bytes, total: int, url: str) -> list[ZipEntry]:
    """Central-directory entries of a zip, given its last bytes and a reader for the rest."""
    count, cd_size, cd_offset, _ = _find_eocd(tail, url)
    if count == -1:
        count, cd_size, cd_offset = _parse_eocd64(read(cd_offset, 56), url)
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise BadResponse(f"central directory of {cd_size} bytes is implausible", url=url)
    return parse_central_directory(read(cd_offset, cd_size), count, url)


def entry_head(read: Reader, entry: ZipEntry, total: int, url: str) -> bytes:
    """Up to HEAD_BYTES of ``entry``'s decompressed data, from a bounded read."""
    if entry.flags & 0x1:
        raise BadResponse(f"{entry.name} is encrypted", url=url)
    # Deflate needs far fewer input bytes than it yields for Go source; 3x is generous.
    want = min(entry.compressed_size, HEAD_BYTES * 3)
    guess = 30 + len(entry.name.encode("utf-8")) + 256 + want
    local = read(entry.header_offset, min(guess, total - entry.header_offset))
    if len(local) < 30 or local[:4] != LOCAL:
        raise BadResponse(f"bad local header for {entry.name}", url=url)
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = 30 + name_len + extra_len
    if start + want > len(local):
        local = read(entry.header_offset, min(start + want, total - entry.header_offset))
    raw = local[start : start + want]
    if entry.method == 0:
        return raw[:HEAD_BYTES]
    if entry.method != 8:
        raise BadResponse(f"{entry.name} uses unsupported compression {entry.method}", url=url)
    try:
        return zlib.decompressobj(-15).decompress(raw, HEAD_BYTES)
    except zlib.error as exc:
        raise BadResponse(f"cannot inflate {entry.name}: {exc}", url=url) from None


_BUILD_IGNORE = re.compile(r"^//\s*(go:build|\+build)\s.*\bignore\b")
_PACKAGE = re.compile(r"package\s+([A-Za-z_][A-Za-z0-9_]*)")


def package_clause(source: str) -> tuple[str | None, bool]:
    """(package name, excluded by a ``//go:build ignore`` constraint) from a file's start."""
    text = source.lstrip("\ufeff")
    pos = 0
    ignored = False
    while pos < len(text):
        if text[pos] in " \t\r\n":
            pos += 1
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            if _BUILD_IGNORE.match(text[pos:end]):
                ignored = True
            pos = end
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                return None, ignored
            pos = end + 2
        else:
            match = _PACKAGE.match(text, pos)
            return (match[1] if match else None), ignored
    return None, ignored


@dataclass(frozen=True, slots=True)
class ModuleTree:
    """The module zip as the adapter needs it: its directories' ``.go`` files."""

    module: str
    version: str
    go_files: dict[str, tuple[ZipEntry, ...]]  # directory ("" = root) -> .go files, sorted
    read: Reader
    total: int
    url: str
    ignored: tuple[str, ...]

    def is_main(self, directory: str) -> bool:
        """Whether ``directory`` holds a main package (reads at most a few file heads)."""
        files = self.go_files.get(directory, ())
        for entry in files[:MAX_FILES_PER_DIR]:
            head = entry_head(self.read, entry, self.total, self.url)
            package, excluded = package_clause(head.decode("utf-8", "replace"))
            if excluded or package is None:
                continue
            return package == "main"
        return False

    def command_dirs(self) -> tuple[str, ...]:
        """``cmd/<name>`` directories (direct children of ``cmd/``) holding .go files."""
        found = sorted(d for d in self.go_files if d.startswith("cmd/") and d.count("/") == 1)
        return tuple(found[:MAX_CMD_DIRS])


def tree_from_entries(
    entries: Sequence[ZipEntry], module: str, version: str, read: Reader, total: int, url: str
) -> ModuleTree:
    prefix = f"{module}@{version}/"
    go_files: dict[str, list[ZipEntry]] = {}
    ignored: list[str] = []
    for entry in entries:
        name = entry.name
        if not _safe_member(name) or not name.startswith(prefix):
            ignored.append(repr(name)[:100])
            continue
        rel = name[len(prefix) :]
        directory, _, base = rel.rpartition("/")
        if not base.endswith(".go") or base.endswith("_test.go") or base[0] in "._":
            continue
        # The go command skips directories named testdata or starting with "." or "_".
        if directory and any(p[0] in "._" or p == "testdata" for p in directory.split("/")):
            continue
        go_files.setdefault(directory, []).append(entry)
    files = {d: tuple(sorted(es, key=lambda e: e.name)) for d, es in sorted(go_files.items())}
    return ModuleTree(module, version, files, read, total, url, tuple(ignored))


def read_module_tree(http: HttpClient, found: ModuleVersion) -> ModuleTree:
    """The module zip's directory listing, read with Range (or one capped full download)."""
    path = zip_path(found.module, found.version)
    url = http.url(ENDPOINT, path)
    first = http.get_range(ENDPOINT, path, None, TAIL_BYTES, max_bytes=MAX_FULL_DOWNLOAD)
    if first.partial and first.total_size is not None and first.total_size > len(first.body):
        total = first.total_size
        if total > MAX_ZIP_BYTES:
            raise BadResponse(f"module zip of {total} bytes exceeds the go limit", url=url)
        tail, tail_start = first.body, total - len(first.body)

        def read(offset: int, length: int) -> bytes:
            if offset < 0 or length < 0 or offset + length > total:
                raise BadResponse("zip points outside the file", url=url)
            if offset >= tail_start:
                return tail[offset - tail_start : offset - tail_start + length]
            if length == 0:
                return b""
            got = http.get_range(ENDPOINT, path, offset, offset + length - 1, max_bytes=length)
            if not got.partial or len(got.body) != length:
                raise BadResponse("server stopped honouring Range", url=url)
            return got.body

        entries = zip_entries(read, tail, total, url)
        return tree_from_entries(entries, found.module, found.version, read, total, url)
    body = first.body

    def whole(offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > len(body):
            raise BadResponse("zip points outside the file", url=url)
        return body[offset : offset + length]

    entries = zip_entries(whole, body, len(body), url)
    return tree_from_entries(entries, found.module, found.version, whole, len(body), url)


# ---------------------------------------------------------------- the answer


@dataclass(frozen=True, slots=True)
class GoTool:
    """What ``go install`` of ``path`` produces, or why nothing."""

    path: str  # the queue identifier (module or package path)
    module: str
    version: str
    time: str | None
    install_target: str  # what to pass to ``go install <target>@<version>``
    executables: tuple[str, ...]
    problem: tuple[str, str] | None = None  # (subcategory, message)
    ignored: tuple[str, ...] = ()


def main_packages(tree: ModuleTree, path: str) -> GoTool:
    """Decide the install target and executables of ``path`` inside the module ``tree``."""
    module = tree.module

    def tool(target: str, exes: tuple[str, ...], problem: tuple[str, str] | None) -> GoTool:
        return GoTool(path, module, tree.version, None, target, exes, problem, tree.ignored)

    if path != module:
        directory = path[len(module) + 1 :]
        if directory not in tree.go_files:
            return tool(path, (), ("no_package", f"{module}@{tree.version} has no {directory}/"))
        if not tree.is_main(directory):
            return tool(path, (), ("not_main_package", f"{path} is not a main package"))
        return tool(path, (executable_for(path),), None)
    if "" in tree.go_files and tree.is_main(""):
        return tool(module, (executable_for(module),), None)
    commands = tuple(d for d in tree.command_dirs() if tree.is_main(d))
    if not commands:
        return tool(
            module,
            (),
            (
                "no_executables",
                f"{module}@{tree.version} has no main package at its root or in cmd/",
            ),
        )
    names = tuple(sorted({d.split("/", 1)[1] for d in commands}))
    names = tuple(n for n in names if _EXECUTABLE.fullmatch(n))
    target = f"{module}/{commands[0]}" if len(commands) == 1 else f"{module}/cmd/..."
    return tool(target, names, None)


def fetch_go_tool(http: HttpClient, path: str) -> GoTool:
    """Resolve ``path`` on the proxy and find what installing it produces."""
    found = resolve(http, path)
    tree = read_module_tree(http, found)
    result = main_packages(tree, path)
    return GoTool(
        result.path,
        result.module,
        result.version,
        found.time,
        result.install_target,
        result.executables,
        result.problem,
        result.ignored,
    )
