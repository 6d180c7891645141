"""Live: real PyPI and npm recipes validated in debian-12 and ubuntu-24.04 through the pipeline.

generate -> validate (local, then the containers side by side) -> merge, on a scratch registry;
and the same recipe through `local` and debian-12 gives the same answer. Needs the validation
images (`make setup-containers`) and the registries (marked `network`); skips with the reason
otherwise.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from automation.containers.environments import select_environments
from automation.containers.runtime import ContainerRuntime
from automation.containers.validate import (
    DEFAULT_CA_BUNDLE,
    ValidationOptions,
    load_recipe,
    validate_one,
)
from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.results import read_results_file
from automation.registry.staging import Staging
from automation.stages.merge import merge_batch
from automation.stages.pipeline import run_generate, run_validate
from automation.stages.validate_local import LocalValidator, apply_verify, version_pattern

pytestmark = [pytest.mark.containers, pytest.mark.network, pytest.mark.slow]

ENVS = ("debian-12", "ubuntu-24.04")
# Per ecosystem: one tool that works everywhere, and one whose recipe gets a verify step that
# fails on Python >= 3.12, i.e. on ubuntu-24.04 (3.12) but not on debian-12 (3.11).
TOOLS = {"pypi": ("pycodestyle", "pyflakes"), "npm": ("cowsay", "json")}
NEEDS_PY311 = "python3 -c 'import sys; sys.exit(sys.version_info >= (3, 12))'"


@pytest.fixture(scope="module")
def images(runtime: ContainerRuntime) -> ContainerRuntime:
    for env in select_environments(ENVS):
        if not runtime.image_exists(env.image):
            pytest.skip(f"{env.image} is not built (make setup-containers)")
    return runtime


@pytest.mark.parametrize("ecosystem", sorted(TOOLS))
def test_batch_validated_in_two_distributions_then_merged(
    ecosystem: str, images: ContainerRuntime, tmp_path: Path
) -> None:
    layout = RegistryLayout.at(tmp_path)
    good, fragile = TOOLS[ecosystem]
    entries = [
        QueueEntry(name, f"{ecosystem}:{name}", 1, "pending", "curated", None, 0, None)
        for name in (good, fragile)
    ]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries))
    batch = run_generate(layout, ecosystem, batch_size=2).batch_id

    local = run_validate(layout, batch, ["local"])
    assert local.counts["pass"] == 2, local.to_text()
    # The fragile recipe's verify now also needs Python < 3.12 (a real, distro-specific failure).
    staged = Staging(layout, batch).recipe_path(fragile)
    text = staged.read_text()
    verify = tomllib.loads(text)["verify"]
    staged.write_text(
        apply_verify(
            text, f"{verify['command']} && {NEEDS_PY311}", verify["pattern"], path=str(staged)
        )
    )

    report = run_validate(layout, batch, list(ENVS))
    assert report.exit_code != 0  # one failure: partial
    by_key = {(r.environment, r.recipe): r for r in report.containers.results}
    assert {k: r.status for k, r in by_key.items()} == {
        ("debian-12", good): "pass",
        ("ubuntu-24.04", good): "pass",
        ("debian-12", fragile): "pass",
        ("ubuntu-24.04", fragile): "fail",
    }, report.to_text()
    broken = by_key[("ubuntu-24.04", fragile)]
    assert (broken.category, broken.subcategory, broken.attempts) == (
        "verify_failed",
        "exit_code",
        1,
    )
    # Each environment's file holds valid lines with its platform and the version it found.
    for env in select_environments(ENVS):
        scan = read_results_file(layout.results_file(batch, env.id))
        assert scan.problems == [] and len(scan.lines) == 2
        assert {line.platform for line in scan.lines} == {env.platform}
        assert all(line.version for line in scan.lines)

    merged = merge_batch(layout, batch)
    decisions = {d.name: d for d in merged.decisions}
    # Only ubuntu failed the fragile recipe: no constraint can single out one distribution of a
    # platform, so it is held for review (not merged), the reason names ubuntu-24.04 and the
    # failure is recorded.
    assert {n: d.action for n, d in decisions.items()} == {good: "merged", fragile: "held"}
    metadata = tomllib.loads(layout.recipe_path(good).read_text())["metadata"]
    constraints = {
        k: v for k, v in metadata.items() if k.startswith(("supported_", "unsupported_"))
    }
    # Passed everywhere it ran (linux, glibc, amd64); what no environment here tested (musl,
    # arm64, darwin) is left out by the default untested-platforms policy.
    assert constraints == {
        "supported_os": ["linux"],
        "unsupported_platforms": ["linux/arm64", "linux/amd64/musl"],
    }, metadata
    assert not layout.recipe_path(fragile).exists()
    assert all("untested platforms policy" in reason for reason in decisions[good].reasons)
    assert decisions[fragile].reasons[0].startswith("ubuntu-24.04 failed on linux-debian-glibc")
    failures = "".join(p.read_text() for p in layout.failures_dir.glob("*.jsonl"))
    assert fragile in failures and "verify_failed" in failures


def test_local_and_debian_12_agree_on_status_version_and_pattern(
    images: ContainerRuntime, tmp_path: Path
) -> None:
    """The same generated recipe (pattern still empty) through both validators."""
    text = (
        '[metadata]\nname = "pycodestyle"\ndescription = "style checker"\n'
        'homepage = "https://pycodestyle.pycqa.org"\n\n[[steps]]\naction = "pipx_install"\n'
        'package = "pycodestyle"\nexecutables = ["pycodestyle"]\n\n[verify]\n'
        'command = "pycodestyle --version"\npattern = ""\n'
    )
    local = LocalValidator().validate(tomllib.loads(text))
    assert local.status == "pass", local.message
    assert local.verify_pattern and local.verify_command

    path = tmp_path / "pycodestyle.toml"
    path.write_text(apply_verify(text, local.verify_command, local.verify_pattern, path="x"))
    [debian] = select_environments(["debian-12"])
    bundle = DEFAULT_CA_BUNDLE if DEFAULT_CA_BUNDLE.is_file() else None
    container = validate_one(
        load_recipe(path), debian, images, ValidationOptions(batch_id="compare", ca_bundle=bundle)
    )
    assert (container.status, container.category) == ("pass", None), container.message
    assert container.version == local.version
    # The pattern local wrote matched in the container, and the container's own output would
    # have given the same pattern.
    verify_output = container.output.split("\n", 1)[1]  # after the "$ command" echo
    assert version_pattern(verify_output, container.version) == local.verify_pattern
