"""Gem documents and ``.gem`` files (built here in the real format) served by the fake upstream."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from typing import Any

from automation.core.http import HttpClient
from automation.ecosystems import adapter_for
from automation.ecosystems.recipe import BuildFailure, BuiltRecipe
from tests.support.fake_upstream import FIXTURES, FakeUpstream

GEMS = FIXTURES / "rubygems"


ADAPTER = adapter_for("rubygems")


RUBOCOP_SPEC = """--- !ruby/object:Gem::Specification
name: rubocop
version: !ruby/object:Gem::Version
  version: 1.56.0
platform: ruby
authors:
- Bozhidar Batsov
bindir: exe
cert_chain: []
date: 2023-08-09 00:00:00.000000000 Z
dependencies:
- !ruby/object:Gem::Dependency
  name: json
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '2.3'
  type: :runtime
  prerelease: false
description: "    RuboCop is a Ruby code style checking and code formatting tool.\\n"
email: rubocop@googlegroups.com
executables:
- rubocop
files:
- LICENSE.txt
- exe/rubocop
homepage: https://github.com/rubocop/rubocop
licenses:
- MIT
require_paths:
- lib
rubygems_version: 3.4.10
specification_version: 4
summary: Automatic Ruby code style checking tool.
test_files: []
"""


def gemspec(executables_block: str) -> str:
    """The rubocop gemspec with ``executables_block`` in place of its executables."""
    return RUBOCOP_SPEC.replace("executables:\n- rubocop\n", executables_block)


def add_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add a read-only member ``name`` holding ``data`` to ``archive``."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    archive.addfile(info, io.BytesIO(data))


def make_gem(spec_yaml: str, *, extra: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A ``.gem`` as ``gem build`` writes it: plain tar of metadata.gz, data.tar.gz, checksums."""
    metadata = gzip.compress(spec_yaml.encode(), mtime=0)
    data_tar = io.BytesIO()
    with tarfile.open(fileobj=data_tar, mode="w:gz") as inner:
        add_member(inner, "exe/rubocop", b"#!/usr/bin/env ruby\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in extra:
            add_member(archive, name, data)
        add_member(archive, "metadata.gz", metadata)
        add_member(archive, "data.tar.gz", data_tar.getvalue())
        add_member(archive, "checksums.yaml.gz", gzip.compress(b"---\n", mtime=0))
    return buffer.getvalue()


def doc(name: str) -> dict[str, Any]:
    """A saved gem document from the fixtures."""
    result: dict[str, Any] = json.loads((GEMS / f"{name}.json").read_text())
    return result


def serve(
    upstream: FakeUpstream, document: dict[str, Any], gem: bytes, *, fix_sha: bool = True
) -> None:
    """Serve the gem document and its ``.gem`` (the document's sha fixed unless told not)."""
    document = copy.deepcopy(document)
    if fix_sha:
        document["sha"] = hashlib.sha256(gem).hexdigest()
    name, version = document["name"], document["version"]
    upstream.json(f"/api/v1/gems/{name}.json", document)
    upstream.blob(f"/downloads/{name}-{version}.gem", gem)


def build(http: HttpClient, name: str, identifier: str) -> BuiltRecipe | BuildFailure:
    """Fetch ``identifier`` and build recipe ``name`` through the RubyGems adapter."""
    return ADAPTER.build(name, ADAPTER.fetch(http, identifier))
