"""Console scripts that need an optional extra: saved real wheels, and the patterns one by one."""

from __future__ import annotations

import textwrap
import zipfile
from collections.abc import Mapping

import pytest

from automation.ecosystems.pypi.client import console_entry_points
from automation.ecosystems.pypi.extras import (
    EntryPoint,
    ExtraNeed,
    parse_entry_point,
    scan_module,
    script_needs,
    source_members,
)
from automation.ecosystems.pypi.requires import (
    PythonTarget,
    Requirements,
    parse_metadata_requirements,
    parse_requirements,
)
from tests.support.fake_upstream import FIXTURES

PY313 = PythonTarget("3.13", "3.13.5")
WHEELS = FIXTURES / "pypi" / "wheels"


def wheel_needs(filename: str, project: str) -> tuple[dict[str, ExtraNeed], list[str]]:
    """script_needs on a saved wheel, and the members it read."""
    read: list[str] = []
    with zipfile.ZipFile(WHEELS / filename) as archive:
        names = archive.namelist()
        dist_info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        dist_info = dist_info.split("/")[0]
        entry_points = console_entry_points(archive.read(f"{dist_info}/entry_points.txt").decode())
        requirements = parse_metadata_requirements(
            archive.read(f"{dist_info}/METADATA").decode(), PY313
        )

        def reader(name: str) -> bytes:
            read.append(name)
            return archive.read(name)

        return script_needs(entry_points, names, reader, requirements, project), read


# ---------------------------------------------------------------- real wheels


def test_httpx_needs_cli_through_the_stub_main() -> None:
    """httpx/__init__.py: ``try: from ._main import main / except ImportError: def main():
    ... sys.exit(1)``; httpx/_main.py imports click, pygments, rich (extra ``cli``)."""
    needs, read = wheel_needs("httpx-0.29.0-py3-none-any.whl", "httpx")
    assert set(needs) == {"httpx"}
    assert needs["httpx"].extras == ("cli",)
    assert needs["httpx"].reason == (
        "httpx/_main.py imports click, pygments, rich, which only the extra installs"
    )
    assert "httpx/_main.py" in read


def test_python_dotenv_needs_cli_through_an_exiting_handler() -> None:
    """dotenv/__main__.py imports .cli; dotenv/cli.py: ``try: import click / except
    ImportError: ...; sys.exit(1)``."""
    needs, _ = wheel_needs("python_dotenv-1.2.4-py3-none-any.whl", "python-dotenv")
    assert {s: n.extras for s, n in needs.items()} == {"dotenv": ("cli",)}
    assert needs["dotenv"].reason.startswith("dotenv/cli.py imports click")


def test_fastapi_needs_standard_through_a_name_its_main_tests() -> None:
    """fastapi/cli.py: ``cli_main = None`` on ImportError, and ``main`` raises when
    ``not cli_main``. fastapi-cli is in three extras; the module's own hint picks standard."""
    needs, _ = wheel_needs("fastapi-0.165.0-py3-none-any.whl", "fastapi")
    assert {s: n.extras for s, n in needs.items()} == {"fastapi": ("standard",)}
    assert "fastapi/cli.py imports fastapi_cli" in needs["fastapi"].reason


def test_black_needs_nothing_but_blackd_needs_d() -> None:
    """``blackd = blackd:patched_main [d]`` declares it; blackd/__init__.py also raises when
    aiohttp is missing. black's own imports of extras (colorama, uvloop) are graceful."""
    needs, _ = wheel_needs("black-26.10.1-py3-none-any.whl", "black")
    assert {s: n.extras for s, n in needs.items()} == {"blackd": ("d",)}


def test_httpie_has_no_such_script() -> None:
    """httpie's extras (dev, test) install pytest and the like, which no module its scripts
    load imports under a fatal guard."""
    needs, read = wheel_needs("httpie-3.2.4-py3-none-any.whl", "httpie")
    assert needs == {} and "httpie/__main__.py" in read


# ---------------------------------------------------------------- the patterns, one by one


def requirements(base: list[str], extras: Mapping[str, list[str]]) -> Requirements:
    lines = [*base] + [f'{p}; extra == "{e}"' for e, ps in extras.items() for p in ps]
    return parse_requirements(lines, list(extras), PY313)


def needs_of(
    files: Mapping[str, str],
    scripts: Mapping[str, str],
    reqs: Requirements,
    project: str = "tool",
) -> dict[str, tuple[str, ...]]:
    sources = {k: textwrap.dedent(v).encode() for k, v in files.items()}
    found = script_needs(scripts, list(sources), sources.get, reqs, project)
    return {script: need.extras for script, need in found.items()}


CLI = requirements(["requests"], {"cli": ["click", "rich"], "yaml": ["pyyaml"]})


def test_an_unguarded_import_is_not_evidence() -> None:
    """mlflow imports click unguarded while only an extra names it (its base installs click
    through another dependency): the package expects it present."""
    files = {"tool/__init__.py": "", "tool/cli.py": "import click\nimport requests\n"}
    assert needs_of(files, {"tool": "tool.cli:main"}, CLI) == {}


def test_a_graceful_guard_is_not_evidence() -> None:
    """pgcli: ``try: import sshtunnel / except ImportError: SSH_TUNNEL_SUPPORT = False``, and
    a hint to install ``pgcli[sshtunnel]`` used only when the user asks for a tunnel."""
    files = {
        "tool/main.py": """
            try:
                import click
                HAVE = True
            except ImportError:
                HAVE = False

            def main(tunnel=False):
                if tunnel and not HAVE:
                    print("pip install tool[cli]")
                    raise SystemExit(1)
        """
    }
    assert needs_of(files, {"tool": "tool.main:main"}, CLI) == {}


@pytest.mark.parametrize(
    "handler",
    [
        "raise ImportError('pip install tool[cli]')",
        "sys.exit('needs click')",
        "exit(1)",
        "os._exit(2)",
        "raise SystemExit(1) from None",
    ],
)
def test_a_handler_that_ends_the_program_is_evidence(handler: str) -> None:
    source = f"import os, sys\ntry:\n    import click\nexcept ImportError:\n    {handler}\n"
    files = {"tool/cli.py": source}
    assert needs_of(files, {"tool": "tool.cli:main"}, CLI) == {"tool": ("cli",)}


def test_a_stub_replacing_the_script_function_is_evidence_in_its_module_only() -> None:
    stub = "try:\n    from rich import print\nexcept ImportError:\n    def main():\n        pass\n"
    assert needs_of({"tool/cli.py": stub}, {"tool": "tool.cli:main"}, CLI) == {"tool": ("cli",)}
    other = {"tool/cli.py": "from tool import util\n", "tool/util.py": stub}
    assert needs_of(other, {"tool": "tool.cli:main"}, CLI) == {}


def test_a_name_the_script_function_tests_alone_before_failing_is_evidence() -> None:
    files = {
        "tool/cli.py": """
            try:
                from click import command as real
            except ImportError:
                real = None

            def main():
                if real is None:
                    raise RuntimeError("install tool[cli]")
                real()
        """
    }
    assert needs_of(files, {"tool": "tool.cli:main"}, CLI) == {"tool": ("cli",)}


def test_unguarded_imports_of_a_module_reached_through_a_fatal_guard_count() -> None:
    files = {
        "tool/__init__.py": (
            "try:\n    from ._cli import main\nexcept ImportError:\n    raise SystemExit(1)\n"
        ),
        "tool/_cli.py": "from . import _render\n",
        "tool/_render.py": "import rich.console\nimport requests\n",
    }
    found = script_needs(
        {"tool": "tool:main"},
        list(files),
        lambda name: files[name].encode(),
        CLI,
        "tool",
    )
    assert found["tool"] == ExtraNeed(
        ("cli",), "tool/_render.py imports rich, which only the extra installs"
    )


def test_imports_that_do_not_run_at_start_are_not_evidence() -> None:
    files = {
        "tool/cli.py": """
            import sys
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                import click
            if sys.version_info < (3, 11):
                import rich
            try:
                import tomllib
            except ImportError:
                import rich as tomllib
                raise
            def main():
                import click
            class Command:
                import click
        """
    }
    assert needs_of(files, {"tool": "tool.cli:main"}, CLI) == {}


def test_parent_packages_run_first() -> None:
    files = {
        "tool/__init__.py": "try:\n    import click\nexcept ImportError:\n    raise\n",
        "tool/sub/__init__.py": "",
        "tool/sub/cli.py": "",
    }
    assert needs_of(files, {"tool": "tool.sub.cli:main"}, CLI) == {"tool": ("cli",)}


def test_declared_extras_and_unknown_ones() -> None:
    files = {"tool/__init__.py": "", "tool/web.py": ""}
    reqs = requirements([], {"web": ["aiohttp"], "winonly": []})
    scripts = {"tool": "tool:main", "tool-web": "tool.web:main [web]", "x": "tool:x [nope]"}
    found = script_needs(scripts, list(files), lambda n: files[n].encode(), reqs, "tool")
    assert found["tool-web"] == ExtraNeed(("web",), "its entry point declares [web]")
    assert found["x"].extras == () and "[nope]" in found["x"].reason
    assert "tool" not in found
    # An extra that installs nothing on Linux CPython 3.13 is not needed.
    assert script_needs({"t": "tool:main [winonly]"}, list(files), lambda n: b"", reqs, "t") == {}


def test_the_smallest_extra_is_chosen_without_a_hint_the_hinted_one_with_it() -> None:
    reqs = requirements([], {"all": ["click", "rich", "pyyaml"], "cli": ["click", "rich"]})
    guarded = "try:\n    import click\nexcept ImportError:\n    raise\n"
    assert needs_of({"tool/c.py": guarded}, {"t": "tool.c:main"}, reqs) == {"t": ("cli",)}
    hinted = guarded + "HINT = 'pip install \"Tool[ALL]\"'\n"
    assert needs_of({"tool/c.py": hinted}, {"t": "tool.c:main"}, reqs) == {"t": ("all",)}


def test_a_project_found_by_its_normalised_import_name() -> None:
    reqs = requirements(["fastapi"], {"standard": ["fastapi-cli"]})
    guarded = "try:\n    from fastapi_cli.cli import main\nexcept ImportError:\n    raise\n"
    assert needs_of({"tool/c.py": guarded}, {"t": "tool.c:main"}, reqs) == {"t": ("standard",)}


def test_unreadable_modules_are_no_evidence() -> None:
    guarded = "try:\n    import click\nexcept ImportError:\n    raise\n"
    files = {"tool/cli.py": guarded + "type Alias = int\nmatch x:\n  case 1: pass\n" + "def (:\n"}
    assert needs_of(files, {"tool": "tool.cli:main"}, CLI) == {}
    found = script_needs({"tool": "tool.cli:main"}, ["tool/cli.py"], lambda n: None, CLI, "tool")
    assert found == {}


def test_no_source_is_read_when_no_extra_adds_a_project() -> None:
    reqs = requirements(["click"], {"dev": []})

    def refuse(name: str) -> bytes:
        raise AssertionError(f"read {name}")

    assert script_needs({"t": "tool:main"}, ["tool/__init__.py"], refuse, reqs, "t") == {}


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pkg.mod:main", EntryPoint("pkg.mod", "main", ())),
        ("pkg:Cls.run", EntryPoint("pkg", "Cls.run", ())),
        ("pkg", EntryPoint("pkg", "", ())),
        ("blackd:patched_main [d]", EntryPoint("blackd", "patched_main", ("d",))),
        ("a . b : c [X_Y, z]", EntryPoint("a.b", "c", ("x-y", "z"))),
        ("1pkg:main", None),
        ("pkg:main [", None),
        ("os.system('x')", None),
    ],
)
def test_parse_entry_point(value: str, expected: EntryPoint | None) -> None:
    assert parse_entry_point(value) == expected


def test_relative_imports_resolve_against_the_package() -> None:
    source = "from . import a\nfrom .. import b\nfrom .c import d\nfrom ...x import y\n"
    scan = scan_module(source, "pkg.sub.mod", is_package=False)
    assert scan is not None
    assert [(i.module, i.names) for i in scan.imports] == [
        ("pkg.sub", ("a",)),
        ("pkg", ("b",)),
        ("pkg.sub.c", ("d",)),
    ]
    in_package = scan_module("from . import a\n", "pkg.sub", is_package=True)
    assert in_package is not None and in_package.imports[0].module == "pkg.sub"


def test_source_members_are_the_scripts_packages() -> None:
    members = ["tool/a.py", "tool/b/c.py", "single.py", "other/x.py", "tool-1.dist-info/RECORD"]
    scripts = {"t": "tool.a:main", "s": "single:main"}
    assert source_members(scripts, members) == ["tool/a.py", "tool/b/c.py", "single.py"]
    every = [*members, "tool-1.data/purelib/x.py", "tool-1.dist-info/x.py"]
    assert source_members({}, every) == ["tool/a.py", "tool/b/c.py", "single.py", "other/x.py"]


class _SwitchesThreads:
    """A cyclic object whose finaliser runs Python code, so a garbage collection inside
    ``ast.parse`` can hand the interpreter to another thread mid-conversion."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        sum(range(50))


def test_modules_scan_side_by_side_in_threads() -> None:
    """Generation runs builders in threads; each one scans wheel modules. Before the parse
    lock, CPython 3.11 failed such scans with ``SystemError: AST constructor recursion depth
    mismatch`` (black in the live pipeline test)."""
    import gc
    import threading

    source = "def f():\n    return g([(1, {2: [3]}), h(i(j(k)))])\n" * 150
    errors: list[BaseException] = []
    scans: list[object] = []

    def scan_many() -> None:
        for _ in range(15):
            garbage = [_SwitchesThreads() for _ in range(100)]
            del garbage
            try:
                scans.append(scan_module(source, "pkg.mod", is_package=False))
            except BaseException as error:  # the test reports any failure
                errors.append(error)

    threshold = gc.get_threshold()
    gc.set_threshold(50)
    try:
        threads = [threading.Thread(target=scan_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*threshold)
        gc.collect()  # no finaliser of this test's garbage runs in a later test
    assert errors == []
    assert len(scans) == 60 and all(scan is not None for scan in scans)
