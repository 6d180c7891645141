"""Homebrew casks: ``/api/cask/<token>.json`` parsed into what ``app_bundle`` can install.

Two artifact shapes exist. The current API lists one-key objects (``{"app": ["Firefox.app"]}``,
``{"binary": ["{{appdir}}/X.app/Contents/bin/x", {"target": "x"}]}``, ``{"zap": [...]}``).
The old (2019-2020) documents list bare argument arrays with no type key (``["Firefox.app"]``,
``["/Applications/Visual Studio Code.app/Contents/Resources/app/bin/code"]``) next to uninstall
and zap stanza objects (``{"delete": [...], "launchctl": [...], "signal": {}}``); there an
artifact's type is read from its file name (``.app`` -> app, ``.pkg`` -> pkg, other bundle
suffixes -> unsupported, anything else -> binary).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from automation.core.http import BadResponse, HttpClient
from automation.ecosystems.homebrew.client import check_core_name

ANALYTICS_PATH = "/api/analytics/cask-install/30d.json"
NO_CHECK = frozenset({"no_check", ":no_check"})
SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Artifact types app_bundle can install, ones it cannot, and ones that only matter on removal
# or are harmless extras.
SUPPORTED = frozenset({"app", "binary"})
UNSUPPORTED = frozenset(
    {
        "pkg", "installer", "preflight", "postflight", "suite", "artifact", "prefpane",
        "qlplugin", "dictionary", "font", "service", "colorpicker", "input_method",
        "internet_plugin", "audio_unit_plugin", "vst_plugin", "vst3_plugin", "screen_saver",
        "keyboard_layout", "mdimporter",
    }
)  # fmt: skip
IGNORED = frozenset(
    {
        "uninstall", "zap", "uninstall_preflight", "uninstall_postflight", "manpage",
        "bash_completion", "zsh_completion", "fish_completion", "stage_only",
    }
)  # fmt: skip
# Keys of the old schema's uninstall/zap stanza objects.
OLD_STANZA_KEYS = frozenset(
    {
        "delete", "trash", "rmdir", "launchctl", "quit", "signal", "pkgutil", "kext",
        "login_item", "script", "early_script",
    }
)  # fmt: skip
# Old-schema file suffixes -> artifact type that app_bundle cannot install.
UNSUPPORTED_SUFFIXES = {
    ".pkg": "pkg",
    ".mpkg": "pkg",
    ".prefpane": "prefpane",
    ".qlgenerator": "qlplugin",
    ".saver": "screen_saver",
    ".kext": "kext",
    ".component": "audio_unit_plugin",
    ".vst": "vst_plugin",
    ".vst3": "vst3_plugin",
    ".plugin": "internet_plugin",
    ".colorpicker": "colorpicker",
    ".dictionary": "dictionary",
    ".mdimporter": "mdimporter",
    ".keylayout": "keyboard_layout",
    ".workflow": "service",
    ".ttf": "font",
    ".otf": "font",
    ".ttc": "font",
}


def check_cask_token(token: str) -> str:
    """``token`` if it is a plain cask token; TapNameError for ``user/tap/x``."""
    return check_core_name(
        token,
        what="cask token",
        tap="cask; only homebrew/cask is supported",
        invalid="cask token",
    )


def cask_path(token: str) -> str:
    return f"/api/cask/{quote(check_cask_token(token), safe='@+')}.json"


@dataclass(frozen=True, slots=True)
class CaskArtifacts:
    apps: tuple[str, ...]  # .app bundle names, in document order
    binaries: tuple[str, ...]  # paths as given (``{{appdir}}/...``, ``/Applications/...``)
    unsupported: tuple[str, ...]  # artifact types app_bundle cannot install
    ignored: tuple[str, ...]  # uninstall/zap stanzas and extras


@dataclass(frozen=True, slots=True)
class Cask:
    token: str
    names: tuple[str, ...]
    description: str
    homepage: str
    version: str
    sha256: str  # as given ("no_check" included)
    url: str
    artifacts: CaskArtifacts

    @property
    def has_checksum(self) -> bool:
        return self.sha256 not in NO_CHECK and bool(SHA256.fullmatch(self.sha256))


def _first_string(args: object) -> str | None:
    if isinstance(args, list):
        for value in args:
            if isinstance(value, str) and value:
                return value
    if isinstance(args, str) and args:
        return args
    return None


def _old_list_type(source: str) -> str:
    lower = source.lower().rstrip("/")
    if lower.endswith(".app"):
        return "app"
    for suffix, kind in UNSUPPORTED_SUFFIXES.items():
        if lower.endswith(suffix):
            return kind
    return "binary"


def parse_artifacts(artifacts: object) -> CaskArtifacts:
    """Classify the ``artifacts`` array of either schema (see the module doc)."""
    apps: list[str] = []
    binaries: list[str] = []
    unsupported: set[str] = set()
    ignored: list[str] = []
    if not isinstance(artifacts, list):
        return CaskArtifacts((), (), (), ())

    def add(kind: str, args: object) -> None:
        source = _first_string(args)
        if kind == "app" and source:
            apps.append(source)
        elif kind == "binary" and source:
            binaries.append(source)
        elif kind in SUPPORTED:
            ignored.append(f"{kind} without a path")
        elif kind in IGNORED:
            ignored.append(kind)
        else:
            unsupported.add(kind)

    for item in artifacts:
        if isinstance(item, list):
            source = _first_string(item)
            if source is None:
                ignored.append("empty artifact")
                continue
            add(_old_list_type(source), item)
        elif isinstance(item, dict):
            keys = {str(k) for k in item}
            if len(keys) == 1 and keys <= SUPPORTED | UNSUPPORTED | IGNORED:
                (kind,) = keys
                add(kind, item[kind])
            elif "manual" in keys:
                unsupported.add("installer")
            elif keys <= OLD_STANZA_KEYS:
                ignored.append("uninstall/zap")
            else:
                unsupported.add("unknown artifact " + ",".join(sorted(keys))[:80])
        else:
            ignored.append(f"unreadable artifact {type(item).__name__}")
    return CaskArtifacts(tuple(apps), tuple(binaries), tuple(sorted(unsupported)), tuple(ignored))


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_cask(document: Any, *, url: str = "") -> Cask:
    """Parse ``/api/cask/<token>.json`` (old or current schema)."""
    if not isinstance(document, dict):
        raise BadResponse("cask document is not an object", url=url)
    token = _text(document.get("token"))
    version = _text(document.get("version"))
    if not token or not version:
        raise BadResponse("cask document has no token or version", url=url)
    check_cask_token(token)
    names = document.get("name")
    return Cask(
        token=token,
        names=tuple(n for n in names if isinstance(n, str)) if isinstance(names, list) else (),
        description=_text(document.get("desc")),
        homepage=_text(document.get("homepage")),
        version=version,
        sha256=_text(document.get("sha256")).lower(),
        url=_text(document.get("url")),
        artifacts=parse_artifacts(document.get("artifacts")),
    )


def fetch_cask(http: HttpClient, token: str) -> Cask:
    path = cask_path(token)
    return parse_cask(http.get_json("homebrew", path), url=http.url("homebrew", path))


# ---------------------------------------------------------------- paths inside the bundle

_SAFE_PART = re.compile(r"^[^\x00-\x1f\x7f/\\]+$")


def app_bundle_name(app: str) -> str | None:
    """The bundle's own name (``Foo Folder/Foo.app`` -> ``Foo.app``), or None when unsafe."""
    name = posixpath.basename(app.rstrip("/"))
    if not name.endswith(".app") or name in (".app",) or not _SAFE_PART.fullmatch(name):
        return None
    return name


def binary_in_app(path: str, app_name: str) -> str | None:
    """A binary's path relative to the ``.app`` bundle, or None when it lies elsewhere."""
    marker = app_name + "/"
    if marker not in path:
        return None
    rel = path.split(marker, 1)[1]
    parts = rel.split("/")
    if not rel or any(p in ("", ".", "..") or not _SAFE_PART.fullmatch(p) for p in parts):
        return None
    return rel


def relative_binaries(binaries: Sequence[str], app_name: str) -> tuple[list[str], list[str]]:
    """(binaries inside the bundle, sorted; the others, which app_bundle cannot link)."""
    inside: set[str] = set()
    outside: list[str] = []
    for path in binaries:
        rel = binary_in_app(path, app_name)
        if rel is None:
            outside.append(path)
        else:
            inside.add(rel)
    return sorted(inside), outside
