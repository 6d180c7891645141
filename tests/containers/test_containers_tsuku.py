"""``--installer tsuku`` in the validation containers.

The comparison: the kit's installer and a real tsuku binary (bind-mounted read-only) give every
compared recipe the same verdict (status, and a failure's category). It needs ``TSUKU_BIN``, the
validation images (``make setup-containers``) and the live registries; it skips with the reason
otherwise. REGISTRY_AUTOMATION_TEST_ENVS narrows the environments (default debian-12 and
ubuntu-24.04).

The plumbing: the shell fake of tests/support/fake_tsuku.py, mounted into a real container,
goes through the whole path (mount, tsuku's environment, the recipe file, state.json, the
network cut, the verify run from ``tools/current``) with no binary and no network needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from automation.containers.environments import select_environments
from automation.containers.runtime import ContainerRuntime
from automation.containers.tsuku import KIT_INSTALLER, Installer, resolve_tsuku
from automation.containers.validate import (
    DEFAULT_CA_BUNDLE,
    ValidationOptions,
    load_recipe,
    validate_batch,
)
from automation.core.layout import RegistryLayout
from automation.registry.results import read_results_file
from tests.support.fake_tsuku import write_shell_fake_tsuku
from tests.support.tsuku_comparison import compared_recipes, real_tsuku, verdict

pytestmark = [pytest.mark.containers, pytest.mark.slow]
ENVS = os.environ.get("REGISTRY_AUTOMATION_TEST_ENVS", "debian-12 ubuntu-24.04").split()


@pytest.mark.network
def test_container_validation_verdicts_agree(runtime: ContainerRuntime, tmp_path: Path) -> None:
    binary = real_tsuku()
    envs = select_environments(ENVS)
    for env in envs:
        if not runtime.image_exists(env.image):
            pytest.skip(f"{env.image} is not built (make setup-containers)")
    recipes = [load_recipe(p) for p in compared_recipes(tmp_path / "recipes")]
    bundle = DEFAULT_CA_BUNDLE if DEFAULT_CA_BUNDLE.is_file() else None
    verdicts = {}
    for installer in (KIT_INSTALLER, Installer("tsuku", binary)):
        options = ValidationOptions(batch_id=installer.name, ca_bundle=bundle, installer=installer)
        report = validate_batch(
            recipes,
            envs,
            runtime,
            layout=RegistryLayout.at(tmp_path / installer.name),
            options=options,
        )
        verdicts[installer.name] = {
            (r.recipe, r.environment): (verdict(r.status, r.category), r.message[-400:])
            for r in report.results
        }
    kit, tsuku = verdicts["kit"], verdicts["tsuku"]
    assert set(kit) == set(tsuku) == {(r.name, e.id) for r in recipes for e in envs}
    differences = {key: (kit[key], tsuku[key]) for key in kit if kit[key][0] != tsuku[key][0]}
    assert differences == {}
    # The smoke recipes install everywhere: agreeing on a failure would hide a broken setup.
    assert all(
        kit[(name, e.id)][0] == ("pass", None) for name in ("cowsay", "httpie") for e in envs
    )


def test_the_tsuku_path_runs_in_a_real_container(runtime: ContainerRuntime, tmp_path: Path) -> None:
    [env] = select_environments(ENVS[:1])
    if not runtime.image_exists(env.image):
        pytest.skip(f"{env.image} is not built (make setup-containers)")
    fake = resolve_tsuku(str(write_shell_fake_tsuku(tmp_path / "bin")), environ={})
    paths = compared_recipes(tmp_path / "recipes")
    recipes = [load_recipe(p) for p in paths if p.stem in ("httpie", "missing-pypi")]
    layout = RegistryLayout.at(tmp_path / "registry")
    options = ValidationOptions(batch_id="fake", installer=Installer("tsuku", fake))
    report = validate_batch(recipes, [env], runtime, layout=layout, options=options)

    found = {r.recipe: r for r in report.results}
    httpie, missing = found["httpie"], found["missing-pypi"]
    assert (httpie.status, httpie.version) == ("pass", "1.2.3"), httpie.message
    assert "http 1.2.3" in httpie.message and "verify ran without network" in httpie.message
    assert (missing.status, missing.category, missing.subcategory) == (
        "fail",
        "recipe_not_found",
        "package_not_found",
    ), missing.message
    scan = read_results_file(layout.results_file("fake", env.id))
    assert scan.problems == []
    assert {line.installer for line in scan.lines} == {"tsuku 0.13.0"}
