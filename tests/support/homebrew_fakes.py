"""Homebrew formula documents, bottle tarballs built here, and the GHCR answers serving them."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import random
import tarfile
from pathlib import Path
from typing import Any

from automation.ecosystems.homebrew import client as source
from automation.ecosystems.homebrew import ghcr
from automation.ecosystems.homebrew.builder import (
    RegistryView,
)
from tests.support.fake_upstream import FIXTURES, FakeUpstream, Reply

HOMEBREW = FIXTURES / "homebrew"


GHCR = FIXTURES / "ghcr"


Member = tuple[str, str, str]  # (name, kind: file|exe|dir|sym|hard, link target)


def formula_doc(name: str) -> dict[str, Any]:
    """A saved formula document from the fixtures."""
    result: dict[str, Any] = json.loads((HOMEBREW / f"{name}.json").read_text())
    return result


def bottle(members: list[Member]) -> bytes:
    """A gzipped tarball with the members in the order given."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            data = b""
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, target
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, target
            else:
                data = b"\x7fELF" if kind == "exe" else b"text"
                info.mode = 0o755 if kind == "exe" else 0o644
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


def keg(formula: str, version: str, *paths: str) -> list[Member]:
    """The members of a bottle of ``formula`` holding ``paths`` (``bin/`` ones executable)."""
    base = f"{formula}/{version}"
    members: list[Member] = [(base, "dir", ""), (f"{base}/bin", "dir", "")]
    for path in paths:
        kind = "exe" if path.startswith("bin/") else "file"
        members.append((f"{base}/{path}", kind, ""))
    members.append((f"{base}/INSTALL_RECEIPT.json", "file", ""))
    return members


def registry(*names: str, mapping: dict[str, str] | None = None) -> RegistryView:
    """A registry view holding recipes ``names`` (and a dependency ``mapping``)."""
    return RegistryView.build(((n, (n,)) for n in names), mapping or {})


def serve(
    upstream: FakeUpstream,
    document: dict[str, Any],
    blobs: dict[str, bytes],
    *,
    index_tags: list[str] | None = None,
    served: dict[str, bytes] | None = None,
) -> None:
    """The formula JSON (sha256 per tag = the built tarball's), token, index and blobs.

    ``blobs`` maps bottle tag -> tarball; ``served`` overrides the bytes served for a tag.
    """
    document = copy.deepcopy(document)
    name, version = document["name"], document["versions"]["stable"]
    files = document["bottle"]["stable"]["files"]
    digests = {}
    for tag, data in blobs.items():
        digest = hashlib.sha256(data).hexdigest()
        files.setdefault(tag, {"cellar": ":any", "url": "", "sha256": ""})["sha256"] = digest
        digests[tag] = digest
    upstream.json(f"/api/formula/{name}.json", document)
    image = ghcr.image_name(name)
    token = json.loads((GHCR / "minimal-shape-token.json").read_text())
    upstream.json(f"/token?service=ghcr.io&scope=repository:{image}:pull", token)
    template = json.loads((GHCR / "minimal-shape-index.json").read_text())
    entry = template["manifests"][0]
    manifests = []
    for tag in index_tags if index_tags is not None else list(blobs):
        item = copy.deepcopy(entry)
        item["annotations"][ghcr.REF_NAME] = f"{source.parse_formula(document).pkg_version}.{tag}"
        item["annotations"][ghcr.BOTTLE_DIGEST] = digests[tag]
        manifests.append(item)
    index = {**template, "manifests": manifests}
    rebuild = document["bottle"]["stable"].get("rebuild", 0)
    tag_path = ghcr.manifest_tag(source.parse_formula(document).pkg_version, rebuild)
    body = json.dumps(index).encode()

    def manifest(request: Any) -> Reply:
        # ghcr.io answers 401 without the bearer token and 404 without the index media type.
        if request.headers.get("Authorization") != f"Bearer {token['token']}":
            return Reply(401, b"{}")
        if ghcr.INDEX_MEDIA_TYPE not in (request.headers.get("Accept") or ""):
            return Reply(404, b"{}")
        return Reply(200, body, {"Content-Type": ghcr.INDEX_MEDIA_TYPE})

    upstream.handler(f"/v2/{image}/manifests/{tag_path}", manifest)
    for tag, data in blobs.items():
        sent = (served or {}).get(tag, data)
        upstream.blob(f"/v2/{image}/blobs/sha256:{digests[tag]}", sent)
    del version


def ripgrep_bottles(shuffle: int | None = None) -> dict[str, bytes]:
    """ripgrep bottles by platform tag, members shuffled with seed ``shuffle``."""
    out = {}
    for tag in ("x86_64_linux", "arm64_ventura", "monterey"):
        # Each platform's bottle differs (a bottle shared by several tags is read once).
        members = keg("ripgrep", "13.0.0", "bin/rg", "share/man/man1/rg.1", f"share/{tag}")
        if shuffle is not None:
            random.Random(shuffle).shuffle(members)
        out[tag] = bottle(members)
    return out


def write_recipe(root: Path, name: str, extra: str = "") -> None:
    """Write a homebrew recipe ``name`` under ``root`` (``extra`` metadata lines)."""
    path = root / "recipes" / name[0] / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[metadata]\nname = "{name}"\ndescription = "x"\nhomepage = "https://example.org"\n'
        f"{extra}\n"
        f'[[steps]]\naction = "homebrew"\nformula = "{name}"\n\n'
        f'[verify]\ncommand = "{name} --version"\n'
    )
