"""Checksum drift: baselines recorded, drift detected, budget rotation, unreachable ≠ drift."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from automation.core import schemas
from automation.core.config import Config, public_endpoints
from automation.core.errors import ExitCode, UsageError
from automation.core.http import HttpClient
from automation.core.layout import RegistryLayout
from automation.ops.drift import (
    CURSOR_FILE,
    check_drift,
    inventory,
    parse_checksum_file,
    read_baselines,
)
from automation.registry.failures import iter_failures
from tests.support.fake_upstream import FakeUpstream

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def http(upstream: FakeUpstream) -> Iterator[HttpClient]:
    endpoints = dict(public_endpoints(), github=upstream.base, homebrew=upstream.base)
    config = Config(endpoints=MappingProxyType(endpoints), retries=0, connect_timeout=2.0)
    with HttpClient(config, env={}) as client:
        yield client


@pytest.fixture
def layout(tmp_path: Path) -> RegistryLayout:
    (tmp_path / "recipes").mkdir()
    return RegistryLayout.at(tmp_path)


def write_recipe(layout: RegistryLayout, name: str, text: str) -> None:
    path = layout.recipe_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def hashicorp_recipe(name: str, base: str) -> str:
    """The shape of the reference's recipes/b/boundary.toml, served from ``base``."""
    return f"""[metadata]
name = "{name}"
description = "Secure remote access"
homepage = "https://example.org/"
version_format = "semver"
supported_os = ["linux"]
supported_arch = ["amd64"]

[version]
github_repo = "hashicorp/{name}"

[[steps]]
action = "download"
url = "{base}/{name}/{{version}}/{name}_{{version}}_{{os}}_{{arch}}.zip"
checksum_url = "{base}/{name}/{{version}}/{name}_{{version}}_SHA256SUMS"

[[steps]]
action = "extract"
archive = "{name}_{{version}}_{{os}}_{{arch}}.zip"
format = "zip"

[[steps]]
action = "install_binaries"
outputs = ["{name}"]

[verify]
command = "{name} version"
pattern = "{{version}}"
"""


def serve_hashicorp(upstream: FakeUpstream, name: str, version: str, data: bytes) -> None:
    upstream.json(f"/repos/hashicorp/{name}/releases/latest", {"tag_name": f"v{version}"})
    zip_name = f"{name}_{version}_linux_amd64.zip"
    upstream.blob(f"/{name}/{version}/{zip_name}", data)
    sums = f"{sha(data)}  {zip_name}\n{'0' * 64}  {name}_{version}_darwin_arm64.zip\n"
    upstream.blob(f"/{name}/{version}/{name}_{version}_SHA256SUMS", sums.encode())


def run(layout: RegistryLayout, http: HttpClient, budget: int = 10):  # type: ignore[no-untyped-def]
    return check_drift(layout.root, budget=budget, http=http, sleep=lambda _s: None)


def test_new_recipe_records_a_schema_valid_baseline(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    write_recipe(layout, "boundary", hashicorp_recipe("boundary", upstream.base))
    serve_hashicorp(upstream, "boundary", "0.19.1", b"zip bytes v1")

    report = run(layout, http)

    assert report.exit_code == ExitCode.OK
    assert [o.status for o in report.outcomes] == ["recorded"]
    baselines = read_baselines(layout, "boundary")
    url = f"{upstream.base}/boundary/0.19.1/boundary_0.19.1_linux_amd64.zip"
    assert baselines[url].sha256 == sha(b"zip bytes v1")
    assert baselines[url].version == "0.19.1"
    assert baselines[url].published_sha256 == sha(b"zip bytes v1")
    assert baselines[url].platforms == ("linux/amd64/glibc", "linux/amd64/musl")
    for path in layout.checksums_dir.glob("*.json"):
        assert (
            schemas.check(json.loads(path.read_text()), "checksum-baseline", path=str(path)) == []
        )
    assert list(iter_failures(layout)) == []

    # Same bytes again: unchanged, and the baseline file is not rewritten.
    before = (layout.checksums_dir / "boundary.json").read_bytes()
    again = run(layout, http)
    assert [o.status for o in again.outcomes] == ["unchanged"]
    assert (layout.checksums_dir / "boundary.json").read_bytes() == before


def test_changed_artifact_is_drift_with_exit_6_and_a_failure_record(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    write_recipe(layout, "boundary", hashicorp_recipe("boundary", upstream.base))
    serve_hashicorp(upstream, "boundary", "0.19.1", b"original")
    assert run(layout, http).exit_code == ExitCode.OK

    # Upstream swaps the bytes *and* the published checksum: only the baseline can tell.
    serve_hashicorp(upstream, "boundary", "0.19.1", b"tampered")
    report = run(layout, http)

    assert report.exit_code == ExitCode.DRIFT
    (outcome,) = report.outcomes
    assert outcome.status == "drift"
    assert outcome.sha256 == sha(b"tampered") and outcome.expected == sha(b"original")
    (failure,) = list(iter_failures(layout))
    assert failure.package_id == "github:hashicorp/boundary"
    assert (failure.category, failure.subcategory) == ("install_failed", "checksum_drift")
    assert "changed since its baseline" in failure.message
    # The baseline keeps the first bytes seen: drift is reported again until a human acts.
    assert read_baselines(layout, "boundary")[outcome.url or ""].sha256 == sha(b"original")
    assert run(layout, http).exit_code == ExitCode.DRIFT


def test_mismatch_with_the_published_checksum_is_drift_and_records_no_baseline(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    write_recipe(layout, "boundary", hashicorp_recipe("boundary", upstream.base))
    serve_hashicorp(upstream, "boundary", "0.19.1", b"good")
    upstream.blob("/boundary/0.19.1/boundary_0.19.1_linux_amd64.zip", b"corrupt")

    report = run(layout, http)

    assert report.exit_code == ExitCode.DRIFT
    assert "recipe's checksum says" in report.outcomes[0].message
    assert read_baselines(layout, "boundary") == {}


def test_unreachable_host_is_a_network_failure_not_drift(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    write_recipe(layout, "boundary", hashicorp_recipe("boundary", dead))
    upstream.json("/repos/hashicorp/boundary/releases/latest", {"tag_name": "v0.19.1"})

    report = run(layout, http)

    assert report.exit_code == ExitCode.PARTIAL
    assert [o.status for o in report.outcomes] == ["failed"]
    (failure,) = list(iter_failures(layout))
    assert failure.category == "network_error"
    assert failure.subcategory == "network_error"
    assert read_baselines(layout, "boundary") == {}
    assert report.count("drift") == 0


def test_budget_rotates_through_the_registry_across_runs(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    for name in ("alpha", "bravo", "charlie"):
        write_recipe(layout, name, hashicorp_recipe(name, upstream.base))
        serve_hashicorp(upstream, name, "1.0.0", name.encode())

    visited = []
    for _ in range(4):
        report = run(layout, http, budget=1)
        assert len(report.outcomes) == 1
        visited.append(report.outcomes[0].unit.recipe)
    assert visited == ["alpha", "bravo", "charlie", "alpha"]
    cursor = json.loads((layout.checksums_dir / CURSOR_FILE).read_text())
    assert cursor["cursor"] == {"recipe": "alpha", "step": 0, "platform": "linux/amd64/glibc"}
    assert schemas.check(cursor, "checksum-baseline", path=CURSOR_FILE) == []
    assert sorted(p.name for p in layout.checksums_dir.glob("[!_]*.json")) == [
        "alpha.json",
        "bravo.json",
        "charlie.json",
    ]
    # Only one artifact per run was downloaded.
    assert len(upstream.requests_to(r"\.zip$")) == 4


def test_github_asset_with_checksum_asset(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    # The shape of the reference's recipes/v/vale.toml (os/arch mappings applied to the asset).
    write_recipe(
        layout,
        "vale",
        """[metadata]
name = "vale"
description = "Syntax-aware linter for prose"
homepage = "https://vale.sh/"
supported_os = ["linux"]
supported_arch = ["arm64"]
supported_libc = ["glibc"]

[version]
github_repo = "vale-cli/vale"
tag_prefix = "v"

[[steps]]
action = "github_archive"
repo = "vale-cli/vale"
asset_pattern = "vale_{version}_{os}_{arch}.tar.gz"
checksum_asset = "vale_{version}_checksums.txt"
binaries = ["vale"]
os_mapping = { darwin = "macOS", linux = "Linux" }
arch_mapping = { amd64 = "64-bit", arm64 = "arm64" }

[verify]
command = "vale --version"
pattern = "{version}"
""",
    )
    asset, sums = "vale_3.9.0_Linux_arm64.tar.gz", "vale_3.9.0_checksums.txt"
    upstream.json(
        "/repos/vale-cli/vale/releases/latest",
        {
            "tag_name": "v3.9.0",
            "assets": [
                {"name": name, "browser_download_url": f"{upstream.base}/dl/{name}"}
                for name in (asset, sums)
            ],
        },
    )
    upstream.blob(f"/dl/{asset}", b"tarball")
    upstream.blob(f"/dl/{sums}", f"{sha(b'tarball')}  {asset}\n".encode())

    report = run(layout, http)

    assert [o.status for o in report.outcomes] == ["recorded"]
    assert report.outcomes[0].url == f"{upstream.base}/dl/{asset}"
    assert report.outcomes[0].version == "3.9.0"


def test_moving_version_sources_and_unpinned_steps_are_not_downloaded(
    layout: RegistryLayout, http: HttpClient, upstream: FakeUpstream
) -> None:
    write_recipe(
        layout,
        "temurin",
        f"""[metadata]
name = "temurin"
supported_os = ["linux"]
supported_arch = ["amd64"]
supported_libc = ["glibc"]

[version]
source = "http_json"
url = "{upstream.base}/available_releases"
version_path = "most_recent_lts"

[[steps]]
action = "download_archive"
url = "{upstream.base}/binary/latest/{{version}}/ga/linux/{{arch}}/jdk"
arch_mapping = {{ amd64 = "x64", arm64 = "aarch64" }}

[verify]
command = "java --version"
""",
    )
    report = run(layout, http)
    assert [o.status for o in report.outcomes] == ["skipped"]
    assert "http_json" in report.outcomes[0].message
    assert report.exit_code == ExitCode.OK
    assert upstream.log == []


def test_inventory_of_the_reference_registry(reference_dir: Path) -> None:
    """Real recipes: many more pinned artifacts than the reference's 19 embedded recipes."""
    found = inventory(RegistryLayout.at(reference_dir))
    recipes = {u.recipe for u in found.units}
    assert {"terraform", "boundary", "vale", "codex", "maven", "ncurses"} <= recipes
    by_key = {(u.recipe, u.platform): u for u in found.units}
    # Mappings are applied (the reference substituted first, making them no-ops).
    vale = by_key[("vale", "darwin/arm64")]
    assert vale.template == "vale_{version}_macOS_arm64.tar.gz"
    # One platform-independent tarball is one unit shared by every platform.
    (maven,) = [u for u in found.units if u.recipe == "maven"]
    assert len(maven.platforms) == 6
    keys = [u.key for u in found.units]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_parse_checksum_file_shapes() -> None:
    digest = "a" * 64
    assert parse_checksum_file(f"{digest}  tool_1.0_linux_amd64.zip\n", "tool_1.0_linux_amd64.zip")
    assert parse_checksum_file(f"{digest} *./dist/x.tgz\n", "x.tgz") == digest
    assert parse_checksum_file(digest.upper() + "\n", "anything") == digest
    assert parse_checksum_file(f"{digest}  other.zip\n", "x.zip") is None


def test_budget_must_be_positive(layout: RegistryLayout) -> None:
    with pytest.raises(UsageError):
        check_drift(layout.root, budget=0)


def test_invoke_drift_front_door_exits_6_on_drift(tmp_path: Path, upstream: FakeUpstream) -> None:
    layout = RegistryLayout.at(tmp_path)
    (tmp_path / "recipes").mkdir()
    write_recipe(layout, "boundary", hashicorp_recipe("boundary", upstream.base))
    serve_hashicorp(upstream, "boundary", "0.19.1", b"one")
    env = {
        "PATH": str(Path(sys.executable).parent),
        "AUTOMATION_ENDPOINT_GITHUB": upstream.base,
        "HOME": str(tmp_path),
    }
    invoke = [
        sys.executable, "-m", "invoke", "-r", str(REPOSITORY_ROOT), "drift",
        "--root", str(tmp_path), "--budget", "5", "--rate", "100", "--json",
    ]  # fmt: skip
    first = subprocess.run(invoke, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["counts"]["recorded"] == 1
    serve_hashicorp(upstream, "boundary", "0.19.1", b"two")
    second = subprocess.run(invoke, env=env, capture_output=True, text=True, check=False)
    assert second.returncode == ExitCode.DRIFT, second.stderr
    assert json.loads(second.stdout)["counts"]["drift"] == 1
