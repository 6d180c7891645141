"""Runtime selection, PATHs and the build each result line names."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.containers import runtimes
from automation.core.errors import UsageError

NODE = runtimes.ProvisionedRuntime(
    "node", "26.12.1", "official build", Path("/cache/node/26.12.1"), "/opt/rt/node"
)
PYTHON = runtimes.ProvisionedRuntime(
    "python3",
    "3.13.5",
    "built from source",
    Path("/cache/python3/3.13.5"),
    "/opt/tsuku-python/3.13",
    interpreter="bin/python3.13",
)


def test_mode_defaults_to_provision_and_rejects_unknown_words() -> None:
    assert runtimes.runtimes_mode({}) == "provision"
    assert runtimes.runtimes_mode({"AUTOMATION_RUNTIMES": "HOST"}) == "host"
    with pytest.raises(UsageError, match="AUTOMATION_RUNTIMES"):
        runtimes.runtimes_mode({"AUTOMATION_RUNTIMES": "distro"})


def test_host_mode_provisions_nothing() -> None:
    assert runtimes.runtimes_for(["npm", "pypi"], env={"AUTOMATION_RUNTIMES": "host"}) == ()


def test_cache_folder_is_configurable() -> None:
    assert runtimes.runtimes_dir({"AUTOMATION_RUNTIMES_DIR": "/x/rt"}) == Path("/x/rt")
    assert runtimes.runtimes_dir({"XDG_CACHE_HOME": "/c"}) == Path(
        "/c/registry-automation/runtimes"
    )


def test_paths_put_the_runtimes_first() -> None:
    assert runtimes.container_path([NODE, PYTHON], "/usr/bin:/bin") == (
        "/opt/rt/node/bin:/opt/tsuku-python/3.13/bin:/usr/bin:/bin"
    )
    assert runtimes.host_path([NODE], "/usr/bin").startswith("/cache/node/26.12.1/bin")
    assert runtimes.interpreter([NODE, PYTHON], container=True) == (
        "/opt/tsuku-python/3.13/bin/python3.13"
    )
    assert runtimes.interpreter([NODE], container=False) is None


def test_ecosystems_come_from_the_install_actions() -> None:
    recipes = [
        {"steps": [{"action": "npm_install", "package": "x"}]},
        {"steps": [{"action": "pipx_install", "package": "y"}, "not a step"]},
        {"steps": [{"action": "download"}]},
    ]
    assert runtimes.ecosystems_in(recipes) == {"npm", "pypi"}


def test_annotate_names_the_build_only_for_what_the_kit_provided() -> None:
    recorded = [
        {"name": "node", "version": "26.12.1", "path": "/opt/rt/node/bin/node"},
        {"name": "npm", "version": "12.2.3", "path": "/opt/rt/node/bin/npm"},
        {"name": "python3", "version": "3.11.2", "path": "/usr/bin/python3"},
        {"version": "nameless"},
    ]
    assert runtimes.annotate(recorded, [NODE, PYTHON]) == [
        {"name": "node", "version": "26.12.1", "build": "official build"},
        {
            "name": "npm",
            "version": "12.2.3",
            "build": "not provided by the kit: /opt/rt/node/bin/npm",
        },
        {
            "name": "python3",
            "version": "3.11.2",
            "build": "not provided by the kit: /usr/bin/python3",
        },
    ]
