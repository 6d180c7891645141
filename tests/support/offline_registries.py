"""Small registries of our own on the fake upstream: a gem source and a CPAN mirror.

Each serves ONE tool that prints ``<name> <version>``, in the layout the real toolchain reads
(``gem install --clear-sources --source``, ``cpanm --mirror --mirror-only``), plus the registry
API documents the kit's adapter reads to generate the recipe (real saved responses as templates).
Artifacts are built at test time: the gem with ``gem build`` and ``gem generate_index`` (so only
when Ruby is installed), the CPAN distribution and its index with tarfile/gzip.

The kit reaches them through ``AUTOMATION_ENDPOINT_*`` (:func:`endpoints`), and so do the
install actions, locally and inside a validation container on the host network.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from automation.ecosystems.cpan.client import release_path, scripts_search_path
from automation.registry.queue import QueueEntry, load_queue, save_queue
from tests.support.fake_upstream import FIXTURES, FakeUpstream, Reply

GEM = "tinyhello"
GEM_VERSION = "0.3.1"
CPAN_DIST = "App-Perlhello"
CPAN_MODULE = "App::Perlhello"
CPAN_SCRIPT = "perlhello"
CPAN_VERSION = "1.04"
CPAN_AUTHOR = "RAUTO"
# The CPAN mirror sits under a path prefix: cpanm must keep it (a trailing slash matters).
CPAN_PREFIX = "/cpan"


@dataclass(frozen=True, slots=True)
class Served:
    """What a registry serves: its tool's recipe-facing facts and the endpoint variables."""

    ecosystem: str
    identifier: str
    executable: str
    version: str
    endpoints: dict[str, str]


def missing_tools(*names: str) -> list[str]:
    """The commands of ``names`` not on this machine's PATH."""
    return [name for name in names if shutil.which(name) is None]


# ------------------------------------------------------------------ RubyGems


GEMSPEC = """Gem::Specification.new do |s|
  s.name = "{name}"
  s.version = "{version}"
  s.summary = "Prints its name and version"
  s.description = "A tiny gem built by the registry-automation tests."
  s.authors = ["registry-automation tests"]
  s.license = "MIT"
  s.homepage = "https://example.org/{name}"
  s.files = ["exe/{name}"]
  s.bindir = "exe"
  s.executables = ["{name}"]
end
"""


def build_gem_source(work: Path, name: str = GEM, version: str = GEM_VERSION) -> Path:
    """A gem source folder (``gems/``, ``specs.4.8.gz``, ``quick/Marshal.4.8/``, ...) holding
    one gem whose executable prints ``<name> <version>``; built by Ruby's own tools."""
    src, repo = work / "gem-src", work / "gem-repo"
    (src / "exe").mkdir(parents=True)
    (repo / "gems").mkdir(parents=True)
    (src / f"{name}.gemspec").write_text(GEMSPEC.format(name=name, version=version))
    exe = src / "exe" / name
    exe.write_text(f'#!/usr/bin/env ruby\nputs "{name} {version}"\n')
    exe.chmod(0o755)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "SOURCE_DATE_EPOCH": "1767225600",
    }
    subprocess.run(
        ["gem", "build", f"{name}.gemspec"], cwd=src, env=env, check=True, capture_output=True
    )
    shutil.copyfile(src / f"{name}-{version}.gem", repo / "gems" / f"{name}-{version}.gem")
    subprocess.run(
        ["gem", "generate_index", "--directory", str(repo)],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return repo


def serve_gem_source(upstream: FakeUpstream, work: Path) -> Served:
    """Serve a gem source and the RubyGems API documents for :data:`GEM` at the root."""
    repo = build_gem_source(work)
    for path in sorted(repo.rglob("*")):
        if path.is_file():
            upstream.blob("/" + path.relative_to(repo).as_posix(), path.read_bytes())
    # gem asks the source root for the compact index first (HEAD /); no answer there makes it
    # read the classic index above, which is what this source serves.
    upstream.sequence("/", [Reply(404, b"", {"Content-Type": "text/plain"})])
    gem = (repo / "gems" / f"{GEM}-{GEM_VERSION}.gem").read_bytes()
    # A real /api/v1/gems/<gem>.json as the template, its values replaced by this gem's.
    document = json.loads((FIXTURES / "rubygems" / "gems-dummy-git-dependency.json").read_text())
    document = copy.deepcopy(document)
    document.update(
        {
            "name": GEM,
            "version": GEM_VERSION,
            "info": "A tiny gem built by the registry-automation tests.",
            "sha": hashlib.sha256(gem).hexdigest(),
            "project_uri": f"https://rubygems.org/gems/{GEM}",
            "gem_uri": f"https://rubygems.org/gems/{GEM}-{GEM_VERSION}.gem",
            "homepage_uri": f"https://example.org/{GEM}",
            "documentation_uri": f"https://www.rubydoc.info/gems/{GEM}/{GEM_VERSION}",
        }
    )
    upstream.json(f"/api/v1/gems/{GEM}.json", document)
    upstream.blob(f"/downloads/{GEM}-{GEM_VERSION}.gem", gem)
    return Served(
        "rubygems", GEM, GEM, GEM_VERSION, {"AUTOMATION_ENDPOINT_RUBYGEMS": upstream.base}
    )


# ------------------------------------------------------------------ CPAN


def _member(archive: tarfile.TarFile, name: str, text: str, mode: int = 0o644) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 1767225600
    archive.addfile(info, io.BytesIO(data))


def cpan_distribution(
    dist: str = CPAN_DIST,
    module: str = CPAN_MODULE,
    script: str = CPAN_SCRIPT,
    version: str = CPAN_VERSION,
) -> bytes:
    """``<dist>-<version>.tar.gz``: a pure-Perl distribution (ExtUtils::MakeMaker, core) whose
    ``script/<script>`` prints ``<script> <version>``."""
    top = f"{dist}-{version}"
    module_file = "lib/" + module.replace("::", "/") + ".pm"
    files = {
        "Makefile.PL": (
            "use strict;\nuse warnings;\nuse ExtUtils::MakeMaker;\n"
            f"WriteMakefile(\n  NAME => '{module}',\n  VERSION_FROM => '{module_file}',\n"
            f"  EXE_FILES => ['script/{script}'],\n  ABSTRACT => 'Prints its name and version',\n"
            "  AUTHOR => 'registry-automation tests',\n  LICENSE => 'perl',\n);\n"
        ),
        module_file: f"package {module};\nuse strict;\nour $VERSION = '{version}';\n1;\n",
        f"script/{script}": (
            f'#!perl\nuse strict;\nuse {module};\nprint "{script} ${module}::VERSION\\n";\n'
        ),
        "MANIFEST": f"MANIFEST\nMakefile.PL\n{module_file}\nscript/{script}\n",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.USTAR_FORMAT) as archive:
        for name, text in files.items():
            _member(archive, f"{top}/{name}", text, 0o755 if name.startswith("script/") else 0o644)
    return buffer.getvalue()


def packages_index(rows: list[tuple[str, str, str]]) -> bytes:
    """``modules/02packages.details.txt.gz`` for (package, version, author path) rows."""
    header = (
        "File:         02packages.details.txt\n"
        "URL:          http://www.perl.com/CPAN/modules/02packages.details.txt\n"
        "Description:  Package names found in directory $CPAN/authors/id/\n"
        "Columns:      package name, version, path\n"
        "Intended-For: Automated fetch routines, namespace documentation.\n"
        "Written-By:   registry-automation tests\n"
        f"Line-Count:   {len(rows)}\n"
        "Last-Updated: Thu, 01 Jan 2026 00:00:00 GMT\n\n"
    )
    body = "".join(f"{package:<34} {version:<6} {path}\n" for package, version, path in rows)
    return gzip.compress((header + body).encode(), mtime=0)


def serve_cpan_mirror(upstream: FakeUpstream) -> Served:
    """Serve a CPAN mirror under :data:`CPAN_PREFIX` and the MetaCPAN documents at the root."""
    tarball = cpan_distribution()
    author = f"{CPAN_AUTHOR[0]}/{CPAN_AUTHOR[:2]}/{CPAN_AUTHOR}"
    author_path = f"{author}/{CPAN_DIST}-{CPAN_VERSION}.tar.gz"
    upstream.blob(f"{CPAN_PREFIX}/authors/id/{author_path}", tarball)
    upstream.blob(
        f"{CPAN_PREFIX}/modules/02packages.details.txt.gz",
        packages_index([(CPAN_MODULE, CPAN_VERSION, author_path)]),
    )
    release_name = f"{CPAN_DIST}-{CPAN_VERSION}"
    # MetaCPAN's release document and file search, in the shape of the saved fixtures.
    release = json.loads((FIXTURES / "metacpan" / "minimal-shape-release-ack.json").read_text())
    release.update(
        {
            "abstract": "Prints its name and version",
            "archive": f"{release_name}.tar.gz",
            "author": CPAN_AUTHOR,
            "checksum_sha256": hashlib.sha256(tarball).hexdigest(),
            "checksum_md5": hashlib.md5(tarball).hexdigest(),
            "distribution": CPAN_DIST,
            "download_url": f"https://cpan.metacpan.org/authors/id/{author_path}",
            "main_module": CPAN_MODULE,
            "name": release_name,
            "provides": [CPAN_MODULE],
            "resources": {"homepage": "https://example.org/perlhello"},
            "version": CPAN_VERSION,
            "version_numified": float(CPAN_VERSION),
        }
    )
    release["metadata"].update({"abstract": release["abstract"], "name": CPAN_DIST})
    release["metadata"]["version"] = CPAN_VERSION
    search = json.loads((FIXTURES / "metacpan" / "minimal-shape-file-search-ack.json").read_text())
    search["hits"]["hits"][0]["fields"] = {"path": f"script/{CPAN_SCRIPT}", "directory": False}
    upstream.json(release_path(CPAN_DIST), release)
    upstream.json(scripts_search_path(release_name, CPAN_AUTHOR), search)
    return Served(
        "cpan",
        CPAN_DIST,
        CPAN_SCRIPT,
        CPAN_VERSION,
        {
            "AUTOMATION_ENDPOINT_METACPAN": upstream.base,
            "AUTOMATION_ENDPOINT_CPAN": upstream.base + CPAN_PREFIX,
        },
    )


# ------------------------------------------------------------------ the pipeline on them

REPOSITORY = Path(__file__).resolve().parents[2]
TOOLCHAINS = {"rubygems": ("ruby", "gem"), "cpan": ("perl", "cpanm", "make")}
# Every other registry the kit knows points nowhere: nothing may leave this machine.
NOWHERE = {
    f"AUTOMATION_ENDPOINT_{name}": "http://127.0.0.1:9"
    for name in ("PYPI", "NPM", "CRATESIO", "GOPROXY", "HOMEBREW", "GITHUB", "GITHUBDOWNLOAD")
}


def serve_for(ecosystem: str, upstream: FakeUpstream, work: Path) -> Served:
    """Serve ``ecosystem``'s registry of our own; skip naming what is missing to build or use it."""
    missing = missing_tools(*TOOLCHAINS[ecosystem])
    if missing:
        pytest.skip(f"{ecosystem} toolchain absent: {', '.join(missing)} not on PATH")
    if ecosystem == "rubygems":
        return serve_gem_source(upstream, work)
    return serve_cpan_mirror(upstream)


def queue_entry(layout: RegistryLayout, served: Served) -> None:
    """Queue the served tool (what ``invoke seed`` would have done)."""
    entry = QueueEntry(
        served.executable,
        f"{served.ecosystem}:{served.identifier}",
        1,
        "pending",
        "curated",
        None,
        0,
        None,
    )
    save_queue(layout.queue, load_queue(layout.queue).with_entries([entry]))


def run_pipeline(
    root: Path, served: Served, *envs: str, extra: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``invoke pipeline --ecosystem E --no-seed [--env ...] --json`` on ``root`` with the
    endpoints pointed at our server (every other one at a closed port); and its seconds."""
    argv = ["pipeline", "--ecosystem", served.ecosystem, "--no-seed", "--limit", "1"]
    for env in envs:
        argv += ["--env", env]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "invoke", *argv, "--root", str(root), "--json"],
        cwd=REPOSITORY,
        env={
            **os.environ,
            **NOWHERE,
            "AUTOMATION_RUNTIMES": "host",
            **served.endpoints,
            **(extra or {}),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done, time.monotonic() - started


def check_merged(
    layout: RegistryLayout, served: Served, done: subprocess.CompletedProcess[str], *envs: str
) -> list[dict[str, object]]:
    """The recipe is in ``recipes/``, its verify matched the version it printed, the queue
    entry is ``success``; returns the result lines of ``envs``."""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads(done.stdout)
    assert report, done.stderr
    recipe = tomllib.loads(layout.recipe_path(served.executable).read_text())
    [step] = recipe["steps"]
    key = "gem" if served.ecosystem == "rubygems" else "distribution"
    assert (step["action"], step[key], step["executables"]) == (
        f"{'gem' if served.ecosystem == 'rubygems' else 'cpan'}_install",
        served.identifier,
        [served.executable],
    )
    assert recipe["verify"] == {"command": f"{served.executable} --version", "pattern": "{version}"}
    [entry] = load_queue(layout.queue).entries
    assert entry.status == "success"
    lines: list[dict[str, object]] = []
    batch = next(layout.results_dir.iterdir()).name
    for env in envs:
        [line] = [json.loads(t) for t in layout.results_file(batch, env).read_text().splitlines()]
        assert (line["status"], line["version"]) == ("pass", served.version), line
        lines.append(line)
    return lines
