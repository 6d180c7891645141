"""PyPI: project JSON + the newest wheel's entry points -> ``pipx_install``.

Everything this kit knows of the ecosystem lives in this package: ``client`` (the registry's
URLs and parsers), ``requires`` (Requires-Python, Requires-Dist), ``extras`` (scripts that need an
optional extra), ``builder`` (the recipe, or ``missing_extra``), ``adapter`` (fetch + build).
"""

from __future__ import annotations

from automation.core.ecosystem_facts import (
    EcosystemFacts,
    Endpoint,
    RecipeAction,
    RuntimePin,
    Setting,
)

FAILURE_CODES = """
recipe_not_found | package_not_found | no | excluded | - | ecosystems/pypi/install.py | -
install_failed | runtime_version | no | failed+backoff | - | ecosystems/pypi/install.py | -
install_failed | build_failed | no | failed+backoff | - | ecosystems/pypi/install.py | -
install_failed | no_wheel | no | failed+backoff | - | ecosystems/pypi/install.py | a dependency
    has no wheel for this platform and Python, only a source distribution: tsuku's pipx_install
    installs wheels only (--only-binary :all:), so it cannot install the tool either (a later
    release may ship wheels)
generation_failed | missing_extra | no | excluded | - | ecosystems/pypi/builder.py | the command
    matching the project runs only with an optional extra installed (httpx[cli]), which tsuku's
    pipx_install cannot install (it takes a bare project name)
"""

FACTS = EcosystemFacts(
    name="pypi",
    aliases=("pip", "python", "pypi.org"),
    endpoints=(
        Endpoint("pypi", "https://pypi.org", 20.0),
        Endpoint("pypifiles", "https://files.pythonhosted.org", 20.0),
        # The Debian archive: the source of the CPython the kit builds for validation (runtime.py).
        Endpoint("debian", "http://deb.debian.org/debian", 5.0),
    ),
    endpoint="pypi",
    install_action="pipx_install",
    id_key="package",
    recipe_actions=(RecipeAction("pipx_install", "package"),),
    language=True,
    failure_codes=FAILURE_CODES,
    runtimes=("python",),
    # tsuku's python recipe pins CPython 3.13 (recipes/p/python.toml, asset "cpython-3.13.*");
    # the kit provides 3.13.5 built from Debian trixie's source package (see pypi/runtime.py).
    runtime=RuntimePin("python3", "3.13.5", "3.13", "tsuku recipes/p/python.toml (cpython-3.13.*)"),
    # The kit installs with uv where it is provisioned: the same wheels-only question pip answers
    # for tsuku, at a fraction of the CPU (numbers and differences in pypi/uv.py).
    installer_tool=RuntimePin(
        "uv", "0.13.9", "0.13", "the kit's choice (automation/ecosystems/pypi/uv.py)", "pip"
    ),
    settings=(
        # ``uv`` (default) or ``pip``: what validation installs PyPI packages with.
        Setting("validate", "pypi_installer", "uv"),
        Setting("pypi", "max_wheel_bytes", 50 * 1024 * 1024),
        Setting(
            "popularity",
            "pypi_top_url",
            "https://hugovk.github.io/top-pypi-packages/top-pypi-packages-30-days.min.json",
        ),
        Setting("popularity", "pypi_top_timeout", 3.0),
        # PyPI serves about 700,000 projects (2025); the top-15,000 list is ranked against it.
        Setting("popularity", "pypi_population", 700_000),
    ),
)
