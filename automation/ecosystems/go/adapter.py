"""Go: resolve the module path on the proxy, find its main packages -> ``go_install``.

The identifier after ``go:`` is a module or package path and is what gets installed, never the
queue entry's display name. Failures decided from the module zip: ``not_main_package`` (the
named package is a library), ``no_package`` (the module has no such directory),
``no_executables`` (a module root with no main package at the root or under ``cmd/``).
The proxy publishes no popularity data, so Go is not seedable.
"""

from __future__ import annotations

from automation.core.http import HttpClient
from automation.ecosystems import EcosystemAdapter, Lookup
from automation.ecosystems.go import client as goproxy
from automation.ecosystems.go.client import GoTool
from automation.ecosystems.toolchain import ToolchainPackage, build_toolchain

ECOSYSTEM = "go"


def package_from(tool: GoTool) -> ToolchainPackage:
    """The builder input for a resolved Go tool (pure)."""
    problem = None
    if tool.problem is not None:
        problem = (tool.problem[0], tool.problem[1])
    return ToolchainPackage(
        ecosystem=ECOSYSTEM,
        identifier=tool.path,
        install_target=tool.install_target,
        version=tool.version,
        description="",
        homepage_candidates=(f"https://pkg.go.dev/{tool.module}",),
        fallback_homepage=f"https://pkg.go.dev/{tool.module}",
        executables=tool.executables,
        primary=goproxy.executable_for(tool.path),
        problem=problem,
    )


def fetch(http: HttpClient, identifier: str) -> ToolchainPackage:
    return package_from(goproxy.fetch_go_tool(http, identifier))


def lookup(http: HttpClient, identifier: str) -> Lookup:
    tool = goproxy.fetch_go_tool(http, identifier)
    return Lookup(identifier, tool.executables if tool.problem is None else (), tool.version)


ADAPTER = EcosystemAdapter(
    ECOSYSTEM,
    fetch,
    build_toolchain,
    "go_install of the module's main package(s), found in the proxy's module zip",
    None,
    lookup,
)
