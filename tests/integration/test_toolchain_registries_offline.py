"""RubyGems and CPAN end to end, offline: ``invoke pipeline --no-seed`` generates, installs, runs
and merges a recipe from small registries of our own (a gem source, a CPAN mirror and their API
documents on the fake upstream), in ``local``.

The kit reads the API documents through ``AUTOMATION_ENDPOINT_RUBYGEMS``/``_METACPAN``; the install
actions point ``gem`` and ``cpanm`` at the same server (``--clear-sources --source``,
``--mirror --mirror-only``). Needs the toolchains (Debian: ``ruby``, ``cpanminus``); skips naming
the missing one otherwise. The container half is in tests/containers/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry, load_queue, save_queue
from tests.support.fake_upstream import FakeUpstream
from tests.support.offline_registries import (
    Served,
    missing_tools,
    serve_cpan_mirror,
    serve_gem_source,
)

REPOSITORY = Path(__file__).resolve().parents[2]
TOOLCHAINS = {"rubygems": ("ruby", "gem"), "cpan": ("perl", "cpanm", "make")}
# Every other registry the kit knows points nowhere: nothing may leave this machine.
NOWHERE = {
    f"AUTOMATION_ENDPOINT_{name}": "http://127.0.0.1:9"
    for name in ("PYPI", "NPM", "CRATESIO", "GOPROXY", "HOMEBREW", "GITHUB", "GITHUBDOWNLOAD")
}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    try:
        yield server
    finally:
        server.stop()
    assert server.unexpected == []


def serve(ecosystem: str, upstream: FakeUpstream, work: Path) -> Served:
    missing = missing_tools(*TOOLCHAINS[ecosystem])
    if missing:
        pytest.skip(f"{ecosystem} toolchain absent: {', '.join(missing)} not on PATH")
    if ecosystem == "rubygems":
        return serve_gem_source(upstream, work)
    return serve_cpan_mirror(upstream)


def queue_entry(layout: RegistryLayout, served: Served) -> None:
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


@pytest.mark.slow
@pytest.mark.parametrize("ecosystem", ["rubygems", "cpan"])
def test_pipeline_merges_a_recipe_from_our_own_registry_in_local(
    ecosystem: str, upstream: FakeUpstream, tmp_path: Path
) -> None:
    served = serve(ecosystem, upstream, tmp_path / "work")
    layout = RegistryLayout.at(tmp_path / "registry")
    queue_entry(layout, served)

    done, seconds = run_pipeline(layout.root, served)

    [line] = check_merged(layout, served, done, "local")
    runtime = "ruby" if ecosystem == "rubygems" else "perl"
    assert [r["name"] for r in line["runtimes"]] == [runtime]  # type: ignore[union-attr]
    # The toolchain read our server: the index, then the artifact (never a public registry).
    artifact = "/gems/tinyhello-" if ecosystem == "rubygems" else "/cpan/authors/id/"
    assert upstream.requests_to("^" + artifact), upstream.log
    print(f"\n{ecosystem} local pipeline: {seconds:.1f}s")
