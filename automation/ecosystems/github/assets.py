"""Pure GitHub-release asset picking: asset names in, per-platform choices and recipe steps out.

Nothing here does I/O. The flow is

1. :func:`classify` reads one asset name into an :class:`AssetInfo`: OS, architecture and libc
   tokens (with their spans, so a name can be turned back into a pattern), the archive type, and
   whether the name is not an installable asset at all (checksums, signatures, SBOMs, installers,
   source or debug bundles, other operating systems, 32-bit and other architectures).
2. :func:`pick` chooses, for each of the six points tsuku's loader tells apart (linux x
   amd64/arm64 x glibc/musl, darwin x amd64/arm64), the best-scoring candidate (see
   :func:`score`). Ties are broken by fewer unrecognised tokens, then the shorter name, then
   the name itself, so the same listing in any order gives the same choice.
3. :func:`plan_steps` turns the choices into ``github_archive`` / ``github_file`` steps: each
   chosen name becomes a template (``{version}``, ``{os}``, ``{arch}`` and the mappings needed),
   platforms whose templates agree share a step, and the fewest steps win, each with the simplest
   ``when`` clause that selects exactly its platforms. Every template is expanded again and must
   reproduce the chosen name, so a pattern can never point at another asset.

Scoring rules (higher is better; a name that fails a rule is not a candidate at all):

* OS: the token must name the platform's OS (linux; darwin/macos/osx/mac/apple-darwin). A name
  with an architecture but no OS token counts as Linux, below a named one.
* Architecture: x86_64/amd64/x64/64bit = amd64; aarch64/arm64/armv8 = arm64. A darwin name marked
  ``universal`` (or carrying no architecture at all) serves both Mac architectures, below an exact
  match; a Linux name without an architecture is taken as amd64, below an exact match.
* libc (Linux only): on glibc, gnu > unmarked = static > musl (static musl binaries run on glibc);
  on musl, musl = static > unmarked, and gnu builds are never chosen (they do not run there).
* Type: a bare binary or tar.gz/tgz first, then tar.xz, tar.bz2, zip, tar.zst. Bare binaries rank
  with tar.gz because installing them needs no guess about the archive layout.
* Names that start with the expected executable (or repo) name get a bonus, so a release that
  ships several tools (``kubectx`` and ``kubens``) yields the one asked for.

``strip_dirs`` comes from the archive listing when one is known (:func:`layout_from_listing`);
otherwise :func:`guess_layout` applies the release tools' documented conventions, first match wins:

1. cargo-dist release (``dist-manifest.json`` or ``<app>-installer.sh``/``.ps1`` among the assets)
   and an archive named ``<app>-<target>`` without the version: tarballs hold one
   ``<app>-<target>/`` directory (1), zips are flat (0) -- cargo-dist's documented layout.
2. zip: 0. GoReleaser, cargo-dist and taiki-e/upload-rust-binary-action all zip the files
   themselves; a wrapping directory is the tar idiom (``tar czf X.tar.gz X/``).
3. ``<app>-<rust target triple>.tar.xz`` without the version: cargo-dist's default unix archive
   (taiki-e's action only writes .tar.gz/.zip), so 1.
4. Naming: hyphen-separated ``<name>-<version>-<target>`` (the hand-made release-script layout
   of bat, ripgrep, golangci-lint...) holds one directory named like the archive, so 1; names
   without the version (taiki-e's default ``<bin>-<target>``) or with underscores (GoReleaser's
   ``<name>_<version>_<os>_<arch>``, whose ``wrap_in_directory`` defaults to false) are flat, 0.

Names alone cannot tell every layout apart (GoReleaser projects that turn ``wrap_in_directory``
on, flat hand-made ``<name>-<version>-<target>`` tarballs); the rule that decided is kept in
:attr:`PlannedStep.layout_rule` so a validation failure can be traced to a guessed layout.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- platforms


@dataclass(frozen=True, slots=True, order=True)
class Target:
    """One point the loader distinguishes; ``libc`` is None on darwin."""

    os: str
    arch: str
    libc: str | None

    @property
    def label(self) -> str:
        return f"{self.os}/{self.arch}" + (f"/{self.libc}" if self.libc else "")

    @property
    def validation_platform(self) -> str:
        """The validation-environment name ``automation.registry.constraints`` understands."""
        arch = "x86_64" if self.arch == "amd64" else "arm64"
        if self.os == "darwin":
            return f"darwin-{arch}"
        family = "alpine" if self.libc == "musl" else "debian"
        return f"linux-{family}-{self.libc}-{arch}"


TARGETS: tuple[Target, ...] = (
    Target("linux", "amd64", "glibc"),
    Target("linux", "amd64", "musl"),
    Target("linux", "arm64", "glibc"),
    Target("linux", "arm64", "musl"),
    Target("darwin", "amd64", None),
    Target("darwin", "arm64", None),
)

# ---------------------------------------------------------------- token tables

MAX_NAME_LENGTH = 255
# GitHub rewrites other characters in uploaded asset names; anything else is refused here, so no
# name can carry a path, quote, brace (placeholder) or control character into a recipe.
SAFE_ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@~-]*")

_OS_ALIASES: dict[str, tuple[str, str | None]] = {
    # alias -> (os, libc implied by the alias)
    "unknown-linux-gnu": ("linux", "gnu"),
    "unknown-linux-musl": ("linux", "musl"),
    "unknown-linux-gnueabihf": ("linux", "gnu"),
    "unknown-linux-musleabihf": ("linux", "musl"),
    "unknown-linux-gnueabi": ("linux", "gnu"),
    "unknown-linux-musleabi": ("linux", "musl"),
    "linux-gnu": ("linux", "gnu"),
    "linux-musl": ("linux", "musl"),
    "linux-gnueabihf": ("linux", "gnu"),
    "linux-musleabihf": ("linux", "musl"),
    "linuxstatic": ("linux", "static"),
    "linux-static": ("linux", "static"),
    "linux": ("linux", None),
    "apple-darwin": ("darwin", None),
    "darwin": ("darwin", None),
    "macos": ("darwin", None),
    "macosx": ("darwin", None),
    "osx": ("darwin", None),
    "mac": ("darwin", None),
    "apple": ("darwin", None),
    "pc-windows-msvc": ("windows", None),
    "pc-windows-gnu": ("windows", None),
    "pc-windows-gnullvm": ("windows", None),
    "windows": ("windows", None),
    "win": ("windows", None),
    "win32": ("windows", None),
    "win64": ("windows", None),
    "mingw": ("windows", None),
    "mingw64": ("windows", None),
    "linux-android": ("android", None),
    "linux-androideabi": ("android", None),
    "android": ("android", None),
    "freebsd": ("freebsd", None),
    "unknown-freebsd": ("freebsd", None),
    "netbsd": ("netbsd", None),
    "unknown-netbsd": ("netbsd", None),
    "openbsd": ("openbsd", None),
    "dragonfly": ("dragonfly", None),
    "solaris": ("solaris", None),
    "illumos": ("illumos", None),
    "unknown-illumos": ("illumos", None),
    "sunos": ("solaris", None),
    "aix": ("aix", None),
    "plan9": ("plan9", None),
    "ios": ("ios", None),
    "wasi": ("wasm", None),
    "wasip1": ("wasm", None),
    "js": ("wasm", None),
    "emscripten": ("wasm", None),
}
_ARCH_ALIASES: dict[str, str] = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "amd64": "amd64",
    "x64": "amd64",
    "64bit": "amd64",
    "64-bit": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8": "arm64",
    "universal": "universal",
    "universal2": "universal",
    "all": "universal",
}
_OTHER_ARCHES = [
    "386",
    "i386",
    "i486",
    "i586",
    "i686",
    "x86",
    "32bit",
    "32-bit",
    "ia32",
    "arm",
    "arm32",
    "armv5",
    "armv6",
    "armv6l",
    "armv6hf",
    "armv7",
    "armv7l",
    "armv7a",
    "armv7hf",
    "armhf",
    "armel",
    "armeabi",
    "ppc",
    "ppc64",
    "ppc64le",
    "powerpc",
    "powerpc64",
    "powerpc64le",
    "s390x",
    "riscv64",
    "riscv64gc",
    "mips",
    "mipsle",
    "mipsel",
    "mips64",
    "mips64le",
    "mips64el",
    "loong64",
    "loongarch64",
    "sparc64",
    "wasm",
    "wasm32",
]
_LIBC_ALIASES: dict[str, str] = {
    "gnu": "gnu",
    "glibc": "gnu",
    "musl": "musl",
    "static": "static",
}
# Tokens that mark a name as not an installable build (debug symbols, sources, GPU-only builds...).
_BAD_TOKENS = frozenset(
    [
        "src",
        "source",
        "sources",
        "vendor",
        "vendored",
        "debug",
        "dbg",
        "symbols",
        "debuginfo",
        "dsym",
        "pdb",
        "unstripped",
        "sbom",
        "spdx",
        "cyclonedx",
        "provenance",
        "attestation",
        "checksums",
        "checksum",
        "sha256sums",
        "sha512sums",
        "sha256sum",
        "sha1sums",
        "md5sums",
        "signature",
        "docs",
        "doc",
        "man",
        "manpages",
        "completions",
        "completion",
        "headers",
        "devel",
        "dev-only",
        "installer",
        "setup",
    ]
)
_ARCHIVES: tuple[tuple[str, str, float], ...] = (
    # (suffix, archive_format, preference)
    (".tar.gz", "tar.gz", 0.0),
    (".tgz", "tar.gz", 0.0),
    (".tar.xz", "tar.xz", -0.1),
    (".txz", "tar.xz", -0.1),
    (".tar.bz2", "tar.bz2", -0.2),
    (".tbz2", "tar.bz2", -0.2),
    (".tbz", "tar.bz2", -0.2),
    (".zip", "zip", -0.3),
    (".tar.zst", "tar.zst", -0.4),
    (".tzst", "tar.zst", -0.4),
)
# Suffixes that are never an installable asset for these platforms.
_EXCLUDED_SUFFIXES = [
    ".sha256",
    ".sha256sum",
    ".sha512",
    ".sha512sum",
    ".sha1",
    ".md5",
    ".sum",
    ".sig",
    ".asc",
    ".gpg",
    ".pem",
    ".cert",
    ".crt",
    ".pub",
    ".minisig",
    ".sigstore",
    ".bundle",
    ".sbom",
    ".spdx",
    ".cdx",
    ".intoto.jsonl",
    ".att",
    ".json",
    ".yaml",
    ".yml",
    ".xml",
    ".txt",
    ".md",
    ".html",
    ".pdf",
    ".sh",
    ".ps1",
    ".bat",
    ".cmd",
    ".deb",
    ".rpm",
    ".msi",
    ".msix",
    ".pkg",
    ".dmg",
    ".apk",
    ".snap",
    ".flatpak",
    ".appimage",
    ".exe",
    ".nupkg",
    ".vsix",
    ".whl",
    ".gem",
    ".jar",
    ".war",
    ".tar",
    ".gz",
    ".xz",
    ".bz2",
    ".zst",
    ".7z",
    ".rar",
    ".diff",
    ".patch",
    ".dll",
    ".so",
    ".dylib",
    ".a",
    ".lib",
    ".ipa",
    ".aar",
    ".crx",
    ".xpi",
    ".zsync",
    ".torrent",
    ".img",
    ".iso",
    ".qcow2",
    ".vhd",
    ".ova",
    ".box",
    ".lock",
    ".toml",
    ".ini",
    ".cfg",
    ".conf",
    ".csv",
    ".log",
    ".svg",
    ".png",
    ".jpg",
    ".ico",
    ".wasm",
    ".js",
    ".py",
    ".rb",
]
_GENERIC_CHECKSUM = re.compile(
    r"(?:^|.*[-_.])(?:sha256sums?|checksums?|sha256_?checksums?|sha256sum)(?:[-_.][A-Za-z0-9.]+)?"
    r"(?:\.txt)?$",
    re.IGNORECASE,
)
_SIDECAR_SUFFIXES = (".sha256", ".sha256sum", ".sha256.txt")


def _alias_regex(aliases: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(set(aliases), key=lambda a: (-len(a), a))  # longest first
    body = "|".join(re.escape(a) for a in ordered)
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")


_OS_RE = _alias_regex(_OS_ALIASES)
_ARCH_RE = _alias_regex([*_ARCH_ALIASES, *_OTHER_ARCHES])
_LIBC_RE = _alias_regex(_LIBC_ALIASES)
_WORD = re.compile(r"[a-z0-9]+")

# ---------------------------------------------------------------- classification


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """What one asset name says. ``excluded`` is a reason when it is never a candidate."""

    name: str
    size: int | None
    os: str | None  # linux | darwin | windows | freebsd ... | None
    os_span: Span | None
    arch: str | None  # amd64 | arm64 | universal | other | None
    arch_span: Span | None
    libc: str | None  # gnu | musl | static | None
    archive_format: str | None  # None for a bare binary
    format_score: float
    excluded: str | None
    unknown_tokens: int

    @property
    def is_archive(self) -> bool:
        return self.archive_format is not None


def is_safe_asset_name(name: object) -> bool:
    """A plain file name GitHub could have produced; anything else is ignored, never rendered."""
    return (
        isinstance(name, str)
        and len(name) <= MAX_NAME_LENGTH
        and SAFE_ASSET_NAME.fullmatch(name) is not None
        and ".." not in name
    )


def _normalise(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text.lower())


def _prefix_length(lower: str, prefixes: Sequence[str]) -> int:
    """Length of the leading tool/repo name in ``lower`` (its tokens are not platform tokens)."""
    best = 0
    for prefix in prefixes:
        p = prefix.lower()
        if p and lower.startswith(p) and (len(lower) == len(p) or not lower[len(p)].isalnum()):
            best = max(best, len(p))
    return best


def classify(name: str, size: int | None = None, *, prefixes: Sequence[str] = ()) -> AssetInfo:
    """Read platform, libc and type tokens from an asset name (see the module doc)."""
    lower = name.lower()
    skip = _prefix_length(lower, prefixes)
    archive_format: str | None = None
    format_score = 0.0
    excluded: str | None = None
    stem = lower
    for suffix, fmt, pref in _ARCHIVES:
        if lower.endswith(suffix):
            archive_format, format_score, stem = fmt, pref, lower[: -len(suffix)]
            break
    else:
        for suffix in _EXCLUDED_SUFFIXES:
            if lower.endswith(suffix):
                excluded = f"not an installable asset ({suffix})"
                break
    if _GENERIC_CHECKSUM.fullmatch(lower):
        excluded = "checksum file"

    os_value: str | None = None
    os_span: Span | None = None
    implied_libc: str | None = None
    for match in _OS_RE.finditer(stem, skip):
        os_value, implied_libc = _OS_ALIASES[match.group(0)]
        os_span = Span(match.start(), match.end())
        break
    arch_value: str | None = None
    arch_span: Span | None = None
    for match in _ARCH_RE.finditer(stem, skip):
        if os_span and os_span.start <= match.start() < os_span.end:
            continue
        text = match.group(0)
        arch_value = _ARCH_ALIASES.get(text, "other")
        arch_span = Span(match.start(), match.end())
        break
    libc = implied_libc
    if libc is None:
        for match in _LIBC_RE.finditer(stem, skip):
            if os_span and os_span.start <= match.start() < os_span.end:
                continue
            libc = _LIBC_ALIASES[match.group(0)]
            break

    words = [w for w in _WORD.findall(stem[skip:])]
    known = {"unknown", "pc", "v"}
    unknown = 0
    for word in words:
        if word in _BAD_TOKENS and excluded is None:
            excluded = f"not a runnable build ({word})"
        if word.isdigit() or word in known or re.fullmatch(r"v?\d+", word):
            continue
        if (
            _OS_RE.fullmatch(word)
            or _ARCH_RE.fullmatch(word)
            or _LIBC_RE.fullmatch(word)
            or word in ("x86", "64", "bit", "gnu", "musl", "apple", "linux", "darwin")
        ):
            continue
        unknown += 1
    if excluded is None and os_value is not None and os_value not in ("linux", "darwin"):
        excluded = f"other operating system ({os_value})"
    if excluded is None and arch_value == "other":
        excluded = "other architecture"
    if excluded is None and os_value is None and arch_value is None:
        excluded = "no platform in the name"
    return AssetInfo(
        name=name,
        size=size,
        os=os_value,
        os_span=os_span,
        arch=arch_value,
        arch_span=arch_span,
        libc=libc,
        archive_format=archive_format,
        format_score=format_score,
        excluded=excluded,
        unknown_tokens=unknown,
    )


# ---------------------------------------------------------------- scoring


def score(info: AssetInfo, target: Target, *, preferred: Sequence[str] = ()) -> float | None:
    """How well ``info`` serves ``target``; None when it cannot (see the module doc)."""
    if info.excluded is not None:
        return None
    total = info.format_score
    # OS
    if info.os == target.os:
        pass
    elif info.os is None and target.os == "linux":
        total -= 3.0
    else:
        return None
    # Architecture
    if info.arch == target.arch:
        pass
    elif info.arch == "universal" and target.os == "darwin":
        total -= 1.0
    elif info.arch is None and target.os == "darwin":
        total -= 2.0
    elif info.arch is None and target.os == "linux" and target.arch == "amd64":
        total -= 3.0
    else:
        return None
    # libc
    if target.os == "linux":
        libc = info.libc
        if target.libc == "glibc":
            total += {"gnu": 0.0, None: -1.0, "static": -1.0, "musl": -2.0}[libc]
        elif libc == "gnu":
            return None
        else:
            total += {"musl": 0.0, "static": 0.0, None: -1.0}[libc]
    # The tool asked for
    lower = _normalise(info.name)
    if any(lower.startswith(_normalise(p)) for p in preferred if p):
        total += 0.5
    return total


def _rank_key(info: AssetInfo, value: float) -> tuple[float, int, int, str]:
    # max() over this key: best score, fewest unknown tokens, shortest name, then by name.
    return (value, -info.unknown_tokens, -len(info.name), _invert(info.name))


def _invert(text: str) -> str:
    # A key that sorts names in reverse, so max() prefers the alphabetically first name.
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


@dataclass(frozen=True, slots=True)
class Picks:
    """Chosen asset per target; ``missing`` are targets without any candidate."""

    chosen: Mapping[Target, AssetInfo]
    missing: tuple[Target, ...]
    infos: tuple[AssetInfo, ...]
    ignored: tuple[str, ...] = ()  # unsafe names, never used

    def name_for(self, target: Target) -> str | None:
        info = self.chosen.get(target)
        return info.name if info else None


def pick(
    assets: Iterable[tuple[str, int | None]] | Iterable[str],
    *,
    preferred: Sequence[str] = (),
    targets: Sequence[Target] = TARGETS,
) -> Picks:
    """Choose the best asset for every target (pure, order-independent)."""
    infos: dict[str, AssetInfo] = {}
    ignored: set[str] = set()
    for item in assets:
        name, size = (item, None) if isinstance(item, str) else item
        if not is_safe_asset_name(name):
            ignored.add(repr(name)[:80])
            continue
        if name not in infos:
            infos[name] = classify(name, size, prefixes=preferred)
    chosen: dict[Target, AssetInfo] = {}
    for target in targets:
        best: tuple[tuple[float, int, int, str], AssetInfo] | None = None
        for info in infos.values():
            value = score(info, target, preferred=preferred)
            if value is None:
                continue
            key = _rank_key(info, value)
            if best is None or key > best[0]:
                best = (key, info)
        if best is not None:
            chosen[target] = best[1]
    missing = tuple(t for t in targets if t not in chosen)
    ordered = tuple(infos[n] for n in sorted(infos))
    return Picks(chosen, missing, ordered, tuple(sorted(ignored)))


# ---------------------------------------------------------------- versions


_VERSION_START = re.compile(r"\d")


def split_tag(tag: str) -> tuple[str, str]:
    """``v1.2.3`` -> (``v``, ``1.2.3``); ``jq-1.7.1`` -> (``jq-``, ``1.7.1``).

    A tag without a digit is all version, no prefix.

    tsuku's ``[version] tag_prefix`` is the part before the version proper.
    """
    match = _VERSION_START.search(tag)
    if not match:
        return "", tag
    return tag[: match.start()], tag[match.start() :]


def _version_regex(version: str) -> re.Pattern[str] | None:
    if not version or not re.search(r"\d", version):
        return None
    return re.compile(rf"(?<![0-9.]){re.escape(version)}(?![0-9]|\.[0-9])")


# ---------------------------------------------------------------- templates and steps


@dataclass(frozen=True, slots=True)
class Form:
    """A chosen name split into literal text and its OS / architecture tokens."""

    parts: tuple[tuple[str, str], ...]  # (kind, text): kind in "lit", "os", "arch"

    def render(self, *, os_slot: bool, arch_slot: bool) -> str:
        out = []
        for kind, text in self.parts:
            if kind == "os" and os_slot:
                out.append("{os}")
            elif kind == "arch" and arch_slot:
                out.append("{arch}")
            else:
                out.append(text)
        return "".join(out)

    def token(self, kind: str) -> str | None:
        for k, text in self.parts:
            if k == kind:
                return text
        return None


def form_of(info: AssetInfo, version: str) -> Form:
    """Split the chosen name; literal parts get ``{version}`` where the release version appears."""
    spans: list[tuple[int, int, str]] = []
    if info.os_span is not None:
        spans.append((info.os_span.start, info.os_span.end, "os"))
    if info.arch_span is not None and info.arch != "universal":
        spans.append((info.arch_span.start, info.arch_span.end, "arch"))
    spans.sort()
    pattern = _version_regex(version)
    parts: list[tuple[str, str]] = []
    cursor = 0

    def literal(text: str) -> None:
        if text:
            if pattern is not None:
                text = pattern.sub("{version}", text)
            parts.append(("lit", text))

    for start, end, kind in spans:
        literal(info.name[cursor:start])
        parts.append((kind, info.name[start:end]))
        cursor = end
    literal(info.name[cursor:])
    return Form(tuple(parts))


def expand(pattern: str, target: Target, version: str, mappings: Mapping[str, Any]) -> str:
    """tsuku's placeholder expansion, used to prove every emitted pattern round-trips."""
    os_map: Mapping[str, str] = mappings.get("os_mapping") or {}
    arch_map: Mapping[str, str] = mappings.get("arch_mapping") or {}
    return (
        pattern.replace("{version}", version)
        .replace("{os}", os_map.get(target.os, target.os))
        .replace("{arch}", arch_map.get(target.arch, target.arch))
    )


@dataclass(frozen=True, slots=True)
class PlannedStep:
    targets: tuple[Target, ...]
    when: Mapping[str, Any]  # empty = no clause
    action: str  # github_archive | github_file
    asset_pattern: str
    archive_format: str | None
    os_mapping: Mapping[str, str]
    arch_mapping: Mapping[str, str]
    assets: Mapping[Target, str]  # the concrete names this step selects
    strip_dirs: int | None
    checksum_asset: str | None
    layout_rule: str | None = None  # which rule set strip_dirs (see guess_layout); None: a file


def _group_template(
    group: Sequence[Target], forms: Mapping[Target, Form], infos: Mapping[Target, AssetInfo]
) -> tuple[str, dict[str, str], dict[str, str]] | None:
    oses = {t.os for t in group}
    arches = {t.arch for t in group}
    formats = {infos[t].archive_format for t in group}
    if len(formats) != 1:
        return None
    os_slot, arch_slot = len(oses) > 1, len(arches) > 1
    templates = {forms[t].render(os_slot=os_slot, arch_slot=arch_slot) for t in group}
    if len(templates) != 1:
        return None
    template = templates.pop()
    os_map: dict[str, str] = {}
    arch_map: dict[str, str] = {}
    for t in group:
        if os_slot and "{os}" in template:
            text = forms[t].token("os")
            if text is None or os_map.setdefault(t.os, text) != text:
                return None
        if arch_slot and "{arch}" in template:
            text = forms[t].token("arch")
            if text is None or arch_map.setdefault(t.arch, text) != text:
                return None
    # tsuku substitutes the Go names when a key is absent: keep only real renames.
    os_map = {k: v for k, v in sorted(os_map.items()) if v != k}
    arch_map = {k: v for k, v in sorted(arch_map.items()) if v != k}
    return template, os_map, arch_map


_WHEN_CHOICES: tuple[dict[str, Any], ...] = tuple(
    {k: v for k, v in (("os", os_), ("arch", arch), ("libc", libc)) if v is not None}
    for os_, arch, libc in sorted(
        itertools.product(
            (None, ("linux",), ("darwin",)),
            (None, "amd64", "arm64"),
            (None, ("glibc",), ("musl",)),
        ),
        key=lambda c: (sum(x is not None for x in c), str(c)),
    )
)


def _matches(when: Mapping[str, Any], target: Target) -> bool:
    if "platform" in when and f"{target.os}/{target.arch}" not in when["platform"]:
        return False
    if "os" in when and target.os not in when["os"]:
        return False
    if "arch" in when and target.arch != when["arch"]:
        return False
    return not ("libc" in when and target.os == "linux" and target.libc not in when["libc"])


def _when_for(group: frozenset[Target], covered: frozenset[Target]) -> dict[str, Any] | None:
    """The simplest clause matching all of ``group`` and no other covered target."""
    others = covered - group
    for choice in _WHEN_CHOICES:
        if all(_matches(choice, t) for t in group) and not any(_matches(choice, t) for t in others):
            return {k: (list(v) if isinstance(v, tuple) else v) for k, v in choice.items()}
    pairs = sorted({f"{t.os}/{t.arch}" for t in group})
    libcs = sorted({t.libc for t in group if t.libc})
    for clause in ({"platform": pairs}, {"platform": pairs, "libc": libcs}):
        if all(_matches(clause, t) for t in group) and not any(_matches(clause, t) for t in others):
            return clause
    return None


def _dims(target: Target) -> dict[str, str]:
    return {"os": target.os, "libc": target.libc or "-", "arch": target.arch}


def plan_steps(
    picks: Picks,
    *,
    repo: str,
    version: str,
    executables: Sequence[str],
    all_names: Iterable[str] = (),
    listing: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[dict[str, Any]], tuple[PlannedStep, ...]]:
    """Recipe steps for ``picks`` (fewest steps, deterministic) and the plan behind them.

    ``all_names`` is the release's full asset list (for checksum files); ``listing`` maps a
    chosen archive name to its member paths when the archive was read.
    """
    infos = dict(picks.chosen)
    covered = frozenset(infos)
    if not covered:
        return [], ()
    forms = {t: form_of(infos[t], version) for t in covered}
    order = {t: i for i, t in enumerate(TARGETS)}

    @functools.cache
    def best(group: frozenset[Target]) -> tuple[frozenset[Target], ...] | None:
        members = sorted(group, key=order.__getitem__)
        if (
            _group_template(members, forms, infos) is not None
            and _when_for(group, covered) is not None
        ):
            return (group,)
        if len(group) == 1:
            return None
        result: tuple[frozenset[Target], ...] | None = None
        for dim in ("os", "libc", "arch"):
            classes: dict[str, set[Target]] = {}
            for t in members:
                classes.setdefault(_dims(t)[dim], set()).add(t)
            if len(classes) < 2:
                continue
            parts: list[frozenset[Target]] = []
            for key in sorted(classes):
                sub = best(frozenset(classes[key]))
                if sub is None:
                    break
                parts.extend(sub)
            else:
                if result is None or len(parts) < len(result):
                    result = tuple(parts)
        return result

    groups = best(covered)
    if groups is None:  # every single target always templates; defensive
        groups = tuple(frozenset({t}) for t in covered)
    groups = tuple(sorted(groups, key=lambda g: min(order[t] for t in g)))
    names = sorted(set(all_names) | {i.name for i in infos.values()})
    steps: list[dict[str, Any]] = []
    planned: list[PlannedStep] = []
    for group in groups:
        members = tuple(sorted(group, key=order.__getitem__))
        made = _group_template(members, forms, infos)
        when = _when_for(group, covered)
        assert made is not None and when is not None
        template, os_map, arch_map = made
        mappings = {"os_mapping": os_map, "arch_mapping": arch_map}
        assets = {t: infos[t].name for t in members}
        for t in members:  # the pattern must select exactly the chosen asset
            if expand(template, t, version, mappings) != assets[t]:
                raise AssertionError(f"pattern {template!r} does not reproduce {assets[t]!r}")
        first = infos[members[0]]
        step, rule = _render_step(
            repo=repo,
            when=when,
            template=template,
            info=first,
            os_map=os_map,
            arch_map=arch_map,
            executables=executables,
            version=version,
            names=names,
            assets=assets,
            listing=listing,
        )
        steps.append(step)
        planned.append(
            PlannedStep(
                targets=members,
                when=when,
                action=step["action"],
                asset_pattern=template,
                archive_format=first.archive_format,
                os_mapping=os_map,
                arch_mapping=arch_map,
                assets=assets,
                strip_dirs=step.get("strip_dirs"),
                checksum_asset=step.get("checksum_asset"),
                layout_rule=rule,
            )
        )
    return steps, tuple(planned)


def _render_step(
    *,
    repo: str,
    when: Mapping[str, Any],
    template: str,
    info: AssetInfo,
    os_map: Mapping[str, str],
    arch_map: Mapping[str, str],
    executables: Sequence[str],
    version: str,
    names: Sequence[str],
    assets: Mapping[Target, str],
    listing: Mapping[str, Sequence[str]] | None,
) -> tuple[dict[str, Any], str | None]:
    step: dict[str, Any] = {"action": "github_archive" if info.is_archive else "github_file"}
    rule: str | None = None
    if when:
        step["when"] = dict(when)
    step["repo"] = repo
    step["asset_pattern"] = template
    if info.is_archive:
        step["archive_format"] = info.archive_format
        members = None
        if listing is not None:
            members = next((listing[n] for n in sorted(set(assets.values())) if n in listing), None)
        if members is not None:
            strip, found = layout_from_listing(members, executables)
            binaries, rule = list(found) or list(executables), "listing"
        else:
            guess = guess_layout(info.name, version, names)
            strip, binaries, rule = guess.strip_dirs, list(executables), guess.rule
        step["strip_dirs"] = strip
        step["binaries"] = binaries
    else:
        step["binary"] = executables[0]
    if os_map:
        step["os_mapping"] = dict(os_map)
    if arch_map:
        step["arch_mapping"] = dict(arch_map)
    if info.is_archive:
        checksum = checksum_asset_for(template, set(assets.values()), names, version)
        if checksum:
            step["checksum_asset"] = checksum
    return step, rule


# ---------------------------------------------------------------- layout and checksums


# What cargo-dist uploads next to its archives: its manifest and ``<app>-installer.sh``/``.ps1``.
_CARGO_DIST_MANIFEST = "dist-manifest.json"
_CARGO_DIST_INSTALLER = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)-installer\.(?:sh|ps1)")
# The OS part of a Rust target triple for the platforms served here.
_RUST_TRIPLE = re.compile(r"[-_](?:unknown-linux-(?:gnu|musl)[a-z]*|apple-darwin)(?![a-z0-9])")


@dataclass(frozen=True, slots=True)
class LayoutGuess:
    """``strip_dirs`` for an archive whose member list is unknown, and the rule that set it."""

    strip_dirs: int
    rule: str  # cargo-dist | zip | cargo-dist-format | versioned-name | flat-name


def _is_cargo_dist_release(stem: str, release_names: Iterable[str]) -> bool:
    """The release carries cargo-dist's manifest, or its installer for this archive's app."""
    for other in release_names:
        if other == _CARGO_DIST_MANIFEST:
            return True
        match = _CARGO_DIST_INSTALLER.fullmatch(other)
        if match and stem.startswith(match.group(1).lower() + "-"):
            return True
    return False


def guess_layout(name: str, version: str, release_names: Iterable[str] = ()) -> LayoutGuess:
    """The documented release-tool conventions (module doc, rules 1-4), first match wins.

    ``release_names`` is the release's full asset list; only tool markers are read from it.
    """
    archive_format: str | None = None
    stem = name
    for suffix, fmt, _ in _ARCHIVES:
        if name.lower().endswith(suffix):
            archive_format, stem = fmt, name[: -len(suffix)]
            break
    lower = stem.lower()
    pattern = _version_regex(version)
    has_version = pattern is not None and pattern.search(stem) is not None
    if not has_version and "-" in lower and _is_cargo_dist_release(lower, release_names):
        return LayoutGuess(0 if archive_format == "zip" else 1, "cargo-dist")
    if archive_format == "zip":
        return LayoutGuess(0, "zip")
    if archive_format == "tar.xz" and not has_version and _RUST_TRIPLE.search(lower):
        return LayoutGuess(1, "cargo-dist-format")
    if has_version and "_" not in lower.replace("x86_64", ""):
        return LayoutGuess(1, "versioned-name")
    return LayoutGuess(0, "flat-name")


def strip_dirs_from_name(name: str, version: str, release_names: Iterable[str] = ()) -> int:
    """``strip_dirs`` by :func:`guess_layout` (kept for callers that need only the number)."""
    return guess_layout(name, version, release_names).strip_dirs


def layout_from_listing(
    members: Sequence[str], executables: Sequence[str]
) -> tuple[int, tuple[str, ...]]:
    """``strip_dirs`` and executable paths from an archive's member list.

    One shared top-level directory -> strip it. Executables: members (after stripping) whose file
    name is one of ``executables``, preferring the shallowest path; returned in ``executables``
    order as paths relative to the stripped root (``bin/gh`` stays ``bin/gh``).
    """
    paths = [m.lstrip("./") for m in members if m and not m.startswith("/") and ".." not in m]
    paths = [p for p in paths if p]
    tops = {p.split("/", 1)[0] for p in paths}
    nested = all("/" in p.rstrip("/") or p.endswith("/") for p in paths)
    strip = 1 if len(tops) == 1 and nested and paths else 0
    stripped = sorted(
        {p.split("/", strip)[-1] for p in paths if not p.endswith("/") and p.count("/") >= strip}
    )
    found: list[str] = []
    for exe in executables:
        hits = sorted(
            (p for p in stripped if p.rsplit("/", 1)[-1] == exe), key=lambda p: (p.count("/"), p)
        )
        if hits:
            found.append(hits[0])
    return strip, tuple(found)


def checksum_asset_for(
    template: str, chosen: set[str], names: Sequence[str], version: str
) -> str | None:
    """A per-asset ``<asset>.sha256`` sidecar for every chosen name, else one release-wide sums
    file (``checksums.txt``, ``SHA256SUMS``, ``<name>_<ver>_checksums.txt``...), templated."""
    present = set(names)
    for suffix in _SIDECAR_SUFFIXES:
        if chosen and all(n + suffix in present for n in chosen):
            return template + suffix
    candidates = [
        n
        for n in names
        if _GENERIC_CHECKSUM.fullmatch(n)
        and "sha512" not in n.lower()
        and "sha1" not in n.lower()
        and "md5" not in n.lower()
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda n: ("sha256" not in n.lower(), len(n), n))
    pattern = _version_regex(version)
    return pattern.sub("{version}", best) if pattern is not None else best


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """Picks + steps for reports."""

    picks: Picks
    steps: tuple[PlannedStep, ...] = field(default_factory=tuple)

    @property
    def missing_labels(self) -> tuple[str, ...]:
        return tuple(t.label for t in self.picks.missing)
