"""Small registries of our own for the toolchain ecosystems, served by ``FakeUpstream``.

* crates.io: a sparse index (``config.json`` with ``dl``/``api``, the crate's index file at its
  sparse path with the ``.crate``'s sha256 as ``cksum``), the ``.crate`` (a gzip tar
  ``name-version/`` with ``Cargo.toml`` and ``src/main.rs``, no dependencies, a binary printing
  ``name version``) and the crates.io API document the kit's adapter reads
  (``/api/v1/crates/<name>``), written over a saved real one (``tests/fixtures/cratesio``).
* Go: a module proxy tree for one module with a ``main`` package at its root (``@v/list``,
  ``@latest``, ``.info``, ``.mod``, ``.zip`` in the module zip layout); the binary prints
  ``<name> <module version>`` from its build information, so what it prints is what the proxy
  served.

Every artifact is built here, byte for byte reproducibly; nothing binary is committed.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from automation.core.layout import RegistryLayout
from automation.ecosystems.go import client as goproxy
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.results import read_results_file
from tests.support.fake_upstream import FIXTURES, FakeUpstream, Reply

CRATE = "tinyhello"
CRATE_VERSION = "0.4.2"
GO_MODULE = "example.com/hellogo"
GO_VERSION = "v0.2.1"
GO_EXECUTABLE = "hellogo"
# Go's checksum database cannot know a module of ours: it is exempted by name (never GOSUMDB=off).
GO_ENV = {"GONOSUMDB": "example.com"}


# ------------------------------------------------------------------ crates.io


def sparse_path(name: str) -> str:
    """The index file's path for ``name`` (cargo's sparse layout, lowercased)."""
    lower = name.lower()
    if len(lower) <= 2:
        return f"/{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"/3/{lower[0]}/{lower}"
    return f"/{lower[:2]}/{lower[2:4]}/{lower}"


def _tar_gz(files: Mapping[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def crate_archive(name: str, version: str) -> bytes:
    """A ``.crate``: ``name-version/Cargo.toml`` and ``src/main.rs`` printing ``name version``."""
    manifest = (
        f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2018"\n'
        f'description = "A tiny command-line tool for offline tests"\nlicense = "MIT"\n\n'
        f'[[bin]]\nname = "{name}"\npath = "src/main.rs"\n'
    )
    main = (
        "fn main() {\n"
        '    println!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));\n'
        "}\n"
    )
    return _tar_gz(
        {
            f"{name}-{version}/Cargo.toml": manifest.encode(),
            f"{name}-{version}/src/main.rs": main.encode(),
        }
    )


def crate_document(name: str, version: str, checksum: str) -> dict[str, object]:
    """``GET /api/v1/crates/<name>``: the saved real es-entity document, renamed, with one
    version that ships the binary ``name``."""
    saved = json.loads((FIXTURES / "cratesio" / "es-entity.json").read_text())
    document = copy.deepcopy(saved)
    crate = document["crate"]
    crate.update(
        id=name,
        name=name,
        description="A tiny command-line tool for offline tests",
        homepage=None,
        repository=None,
        created_at="2021-03-01T10:00:00.000000Z",
        default_version=version,
        max_version=version,
        newest_version=version,
        max_stable_version=version,
        num_versions=1,
    )
    entry = copy.deepcopy(saved["versions"][0])
    entry.update(
        crate=name,
        num=version,
        dl_path=f"/api/v1/crates/{name}/{version}/download",
        checksum=checksum,
        has_lib=False,
        bin_names=[name],
        yanked=False,
        features={},
    )
    document["versions"] = [entry]
    crate["versions"] = [entry["id"]]
    return document


@dataclass(frozen=True, slots=True)
class ServedCrate:
    name: str
    version: str
    cksum: str


def serve_crate(
    upstream: FakeUpstream, name: str = CRATE, version: str = CRATE_VERSION
) -> ServedCrate:
    """A sparse index with ``name``, its ``.crate`` and its API document on ``upstream``.

    The index sits at the base (what ``sparse+<base>/`` reads); downloads go through the API's
    download path, as crates.io's own ``dl`` did."""
    data = crate_archive(name, version)
    cksum = hashlib.sha256(data).hexdigest()
    upstream.json("/config.json", {"dl": f"{upstream.base}/api/v1/crates", "api": upstream.base})
    line = {
        "name": name,
        "vers": version,
        "deps": [],
        "cksum": cksum,
        "features": {},
        "yanked": False,
        "links": None,
    }
    upstream.sequence(sparse_path(name), [Reply(200, (json.dumps(line) + "\n").encode())])
    upstream.blob(f"/api/v1/crates/{name}/{version}/download", data)
    upstream.json(f"/api/v1/crates/{name}", crate_document(name, version, cksum))
    return ServedCrate(name, version, cksum)


# ------------------------------------------------------------------ Go


def go_module_zip(module: str, version: str, files: Mapping[str, bytes]) -> bytes:
    """A module zip: every file under ``<module>@<version>/`` (the proxy's layout)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(f"{module}@{version}/{path}", date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def go_module_files(module: str) -> dict[str, bytes]:
    """``go.mod`` (go 1.16: any go since builds it) and a main package printing its name and
    the module version from the binary's build information."""
    name = module.rsplit("/", 1)[-1]
    main = (
        "package main\n\n"
        'import (\n\t"fmt"\n\t"runtime/debug"\n)\n\n'
        "func main() {\n"
        '\tversion := "(unknown)"\n'
        "\tif info, ok := debug.ReadBuildInfo(); ok {\n"
        "\t\tversion = info.Main.Version\n"
        "\t}\n"
        f'\tfmt.Println("{name}", version)\n'
        "}\n"
    )
    return {"go.mod": f"module {module}\n\ngo 1.16\n".encode(), "main.go": main.encode()}


def _prefixes(module: str) -> Iterator[str]:
    elements = module.split("/")
    for size in range(1, len(elements)):
        yield "/".join(elements[:size])


def serve_go_module(
    upstream: FakeUpstream, module: str = GO_MODULE, version: str = GO_VERSION
) -> bytes:
    """The proxy tree of ``module`` at ``version`` on ``upstream``; returns the zip served.

    Shorter prefixes of the path answer 404/410 as a real proxy does for paths that are no
    module (the go command asks for them while resolving ``@latest``)."""
    files = go_module_files(module)
    data = go_module_zip(module, version, files)
    info = {"Version": version, "Time": "2024-01-01T00:00:00Z"}
    escaped = goproxy.escape(module)
    upstream.sequence(f"/{escaped}/@v/list", [Reply(200, f"{version}\n".encode())])
    upstream.json(f"/{escaped}/@latest", info)
    upstream.json(f"/{escaped}/@v/{version}.info", info)
    upstream.sequence(f"/{escaped}/@v/{version}.mod", [Reply(200, files["go.mod"])])
    upstream.blob(f"/{escaped}/@v/{version}.zip", data)
    for prefix in _prefixes(module):
        gone = Reply(410, b"not found: no such module\n", {"Content-Type": "text/plain"})
        for suffix in ("/@v/list", "/@latest"):
            upstream.sequence(f"/{goproxy.escape(prefix)}{suffix}", [gone])
    return data


# ------------------------------------------------------------------ the pipeline run


REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Case:
    ecosystem: str
    toolchain: str
    name: str
    source: str
    version: str  # what the tool prints and the result line records
    endpoint: str


CASES = {
    "crates.io": Case(
        "crates.io",
        "cargo",
        CRATE,
        f"crates.io:{CRATE}",
        CRATE_VERSION,
        "AUTOMATION_ENDPOINT_CRATESIO",
    ),
    "go": Case(
        "go",
        "go",
        GO_EXECUTABLE,
        f"go:{GO_MODULE}",
        GO_VERSION,
        "AUTOMATION_ENDPOINT_GOPROXY",
    ),
}
INSTALL_HINT = {
    "cargo": "cargo is not installed (apt-get install cargo, or rustup)",
    "go": "go is not installed (apt-get install golang-go; .ci/run does)",
}


def queue_one(root: Path, case: Case) -> RegistryLayout:
    layout = RegistryLayout.at(root)
    entry = QueueEntry(case.name, case.source, 1, "pending", "curated", None, 0, None)
    save_queue(layout.queue, load_queue(layout.queue).with_entries([entry]))
    return layout


def run_pipeline(
    root: Path, case: Case, upstream: FakeUpstream, *envs: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AUTOMATION_ENDPOINT_CRATESIO": upstream.base,
        "AUTOMATION_ENDPOINT_GOPROXY": upstream.base,
        **GO_ENV,
        **(extra or {}),
    }
    argv = ["pipeline", "--ecosystem", case.ecosystem, "--no-seed", "--limit", "1"]
    for environment in envs:
        argv += ["--env", environment]
    return subprocess.run(
        [sys.executable, "-m", "invoke", *argv, "--root", str(root), "--json"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def assert_merged(layout: RegistryLayout, case: Case, environments: tuple[str, ...]) -> None:
    """The recipe is in the registry with a version-matched verify, every environment's result
    line passed with the version the tool printed and the toolchain that built it, and the
    queue entry is done."""
    recipe = tomllib.loads(layout.recipe_path(case.name).read_text())
    step = recipe["steps"][0]
    assert step["executables"] == [case.name]
    assert recipe["verify"] == {"command": f"{case.name} --version", "pattern": "{version}"}
    (batch,) = [p.name for p in layout.results_dir.iterdir()]
    for environment in environments:
        scan = read_results_file(layout.results_file(batch, environment))
        assert scan.problems == []
        (line,) = scan.lines
        assert (line.status, line.version) == ("pass", case.version), line
        raw = json.loads(layout.results_file(batch, environment).read_text())
        assert f"{case.name} {case.version}" in raw["message"]
        (runtime,) = raw["runtimes"]
        assert runtime["name"] == case.toolchain and runtime["version"], runtime
    (entry,) = load_queue(layout.queue).entries
    assert entry.status == "success"


def serve_all(upstream: FakeUpstream) -> FakeUpstream:
    """Both registries on one server (the crate's paths and the module's never collide)."""
    serve_crate(upstream)
    serve_go_module(upstream)
    return upstream
