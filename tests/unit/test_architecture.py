"""The package's shape: a small ``automation/`` root, no import cycles, tests that mirror the tree.

The import graph is built from the source with ``ast`` (nothing is imported): every ``import``
and ``from ... import`` counts, at module level, inside functions and under ``TYPE_CHECKING``
alike (a cycle hidden behind ``TYPE_CHECKING`` is still two modules that must be understood
together), and importing ``a.b.c`` also imports the packages ``a`` and ``a.b``.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPOSITORY_ROOT / "automation"
TESTS_DIR = REPOSITORY_ROOT / "tests"
MAX_ROOT_MODULES = 12

# Where a test module may live (relative to tests/). unit/<package path>/ is checked separately:
# the folder must mirror one of automation's packages (``unit/ecosystems/pypi/`` only because
# ``automation/ecosystems/pypi/`` is a package).
TEST_HOMES = ("integration", "live", "containers", "support")
# A source module has "logic", and so its own unit test module, above this many lines of code
# (blank lines, comments and docstrings not counted): below it a module is declarations or glue.
MIN_CODE_LINES = 40
# Tests of the whole package rather than of one of its subpackages.
# Tests about the whole package (its layering, what its modules may name) sit at unit/.
WHOLE_PACKAGE_TESTS = frozenset({"unit/test_architecture.py", "unit/test_ecosystem_isolation.py"})

# Unit test modules under unit/<package path>/ named after no module of that package: one test
# runs over several modules at once and would be copied into each if split.
CROSS_MODULE_TESTS: Mapping[str, str] = {
    "unit/registry/test_parsers_properties.py": (
        "one property (never crash, name the field) run over every registry data-file parser"
    ),
}
# Source modules with logic (relative to automation/) that have no unit test module at the
# mirrored path: why, and the test modules (relative to tests/) that exercise them. An entry that
# is no longer needed (the mirror exists, the module shrank or went away), or that names a test
# module that does not exist, fails test_the_mirror_exceptions_are_all_still_needed.
MIRROR_EXCEPTIONS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "core/ecosystem_facts.py": (
        "the facts each ecosystem declares; checked across every package at once",
        ("unit/test_ecosystem_isolation.py",),
    ),
    "core/errors.py": (
        "exception types and exit codes; their mapping to exits is what the front door does",
        ("unit/test_frontdoor.py", "integration/test_front_doors.py"),
    ),
    "core/hostplatform.py": (
        "the platform of the machine running the kit; only meaningful inside a whole validation",
        ("integration/test_pipeline_offline.py", "unit/stages/test_validate_local.py"),
    ),
    "core/report.py": (
        "the report every task prints; asserted through the tasks' rendered reports",
        ("unit/learn/test_gaps.py", "unit/registry/test_parsers_properties.py"),
    ),
    "ecosystems/github/install.py": (
        "an installer action: runs inside the validation container through the installer",
        ("unit/containers/test_installer.py", "containers/test_containers_recipes.py"),
    ),
    "ecosystems/homebrew/ghcr.py": (
        "GHCR tokens and blob URLs: only used while fetching a bottle",
        ("unit/ecosystems/homebrew/test_builder.py", "unit/ecosystems/homebrew/test_client.py"),
    ),
    "ecosystems/homebrew/install.py": (
        "an installer action: runs inside the validation container through the installer",
        ("unit/containers/test_installer.py", "containers/test_containers_recipes.py"),
    ),
    "ecosystems/toolchain.py": (
        "the shared recipe shape of toolchain ecosystems; built through each one's adapter",
        (
            "unit/ecosystems/cpan/test_adapter.py",
            "unit/ecosystems/cratesio/test_adapter.py",
            "unit/ecosystems/go/test_adapter.py",
            "unit/ecosystems/rubygems/test_adapter.py",
        ),
    ),
    "learn/backfill.py": (
        "a read-only report task; only its front door (flags) is exercised",
        ("integration/test_front_doors.py",),
    ),
    "learn/dashboard/svg.py": (
        "the charts of the dashboard page; drawn while rendering it",
        ("unit/learn/dashboard/test_render.py", "integration/test_dashboard_browser.py"),
    ),
    "ops/maintenance.py": (
        "maintenance tasks over a whole registry (stop, exclude-impossible, history)",
        ("integration/test_operations.py",),
    ),
    "registry/staging.py": (
        "a batch's staging folder: written by generate, read by validate and merge",
        ("integration/test_batch_reservation.py", "integration/test_pipeline_offline.py"),
    ),
}

# Machine-specific absolute paths a test must not depend on.
MACHINE_PATH_PREFIXES = ("/work/", "/root/", "/home/", "/tmp/")
# String literals that look like machine paths but are not paths on this machine.
NOT_MACHINE_PATHS: Mapping[str, frozenset[str]] = {
    # The installer's path inside a validation container (the image's own layout).
    "unit/containers/test_validate.py": frozenset(
        {"/tmp/registry-automation/kit/containers/installer.py"}
    ),
    # A hostile absolute member name in a crafted archive: the installer must refuse it.
    "unit/containers/test_installer.py": frozenset({"/tmp/evil-absolute"}),
}


# --- the import graph ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportEdge:
    """``importer`` imports ``imported`` (directly, or as a parent package) at ``line``."""

    importer: str
    imported: str
    line: int


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module under ``package_dir`` by dotted name (a package by its ``__init__.py``)."""
    root = package_dir.parent
    names: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _ancestors_and_self(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def import_edges(package_dir: Path) -> list[ImportEdge]:
    """Edges between modules of the package, one per (importer, imported, line)."""
    modules = module_names(package_dir)
    edges: set[ImportEdge] = set()
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        # A module's own parent packages are loaded before it: not imports it makes.
        own_ancestors = set(_ancestors_and_self(importer))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = (
                    _resolve_relative(importer, is_package, node.level, node.module)
                    if node.level
                    else node.module or ""
                )
                targets = [base]
                # `from a.b import c` imports the submodule a.b.c when there is one.
                targets += [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                for name in _ancestors_and_self(target):
                    if name in modules and name not in own_ancestors:
                        edges.add(ImportEdge(importer, name, node.lineno))
    return sorted(edges, key=lambda e: (e.importer, e.imported, e.line))


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _cycle_in(component: list[str], graph: Mapping[str, set[str]]) -> list[str]:
    """One cycle through the component's first module, as a path that returns to it."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {component}")  # not a cycle component


def import_cycles(package_dir: Path) -> list[str]:
    """Every import cycle, one line each: ``a (line 3) -> b (line 9) -> a``."""
    edges = import_edges(package_dir)
    graph: dict[str, set[str]] = {name: set() for name in module_names(package_dir)}
    lines: dict[tuple[str, str], int] = {}
    for edge in edges:
        graph[edge.importer].add(edge.imported)
        lines.setdefault((edge.importer, edge.imported), edge.line)
    found = []
    for component in strongly_connected(graph):
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        cycle = _cycle_in(component, graph)
        steps = [f"{a} (line {lines[a, b]})" for a, b in itertools.pairwise(cycle)]
        found.append(" -> ".join([*steps, cycle[-1]]))
    return found


# --- the package ----------------------------------------------------------------------------------


def test_the_package_root_holds_at_most_twelve_modules() -> None:
    root_modules = sorted(p.name for p in PACKAGE_DIR.glob("*.py"))
    assert len(root_modules) <= MAX_ROOT_MODULES, root_modules


def test_no_import_cycle_in_the_package() -> None:
    cycles = import_cycles(PACKAGE_DIR)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_breaker_and_control_do_not_import_each_other() -> None:
    """The pair that used to (control imported breaker, breaker imported control under
    TYPE_CHECKING): the breaker is below the control file, selection above both."""
    edges = {(e.importer, e.imported) for e in import_edges(PACKAGE_DIR)}
    assert ("automation.registry.control", "automation.registry.breaker") in edges
    assert ("automation.registry.breaker", "automation.registry.control") not in edges
    assert ("automation.stages.selection", "automation.registry.control") in edges


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_the_checker_finds_a_cycle_hidden_behind_type_checking(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                "    from pkg.high import High\n"
            ),
            "pkg/high.py": "from pkg import low\n",
            "pkg/alone.py": "import json\nfrom pkg.low import *\n",
        },
    )
    assert import_cycles(package) == ["pkg.high (line 1) -> pkg.low (line 4) -> pkg.high"]


def test_the_checker_sees_function_level_relative_and_parent_package_imports(
    tmp_path: Path,
) -> None:
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            # relative, inside a function
            "pkg/a.py": "def f():\n    from . import b\n    return b\n",
            "pkg/b.py": "from .sub.deep import x\n",
            # importing pkg.sub.deep runs pkg/sub/__init__.py, which imports pkg.a
            "pkg/sub/__init__.py": "import pkg.a\n",
            "pkg/sub/deep.py": "x = 1\n",
        },
    )
    cycles = import_cycles(package)
    assert cycles == ["pkg.a (line 2) -> pkg.b (line 1) -> pkg.sub (line 1) -> pkg.a"]


def test_the_checker_accepts_a_package_importing_its_own_submodules(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.part import thing\n",
            "pkg/part.py": "from pkg.other import y\nthing = y\n",
            "pkg/other.py": "y = 2\n",
        },
    )
    assert import_cycles(package) == []
    edges = {(e.importer, e.imported) for e in import_edges(package)}
    assert edges == {("pkg", "pkg.part"), ("pkg.part", "pkg.other")}


# --- the tests ------------------------------------------------------------------------------------


def _test_sources() -> list[Path]:
    return sorted(p for p in TESTS_DIR.rglob("*.py") if "fixtures" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(TESTS_DIR).as_posix()


def _is_sys_path(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def sys_path_edits(source: str) -> list[int]:
    """Lines that change ``sys.path``: calls on it, assignments to it or to an item or slice."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if _is_sys_path(node.func.value):
                found.append(node.lineno)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                inner = target.value if isinstance(target, ast.Subscript) else target
                if _is_sys_path(inner):
                    found.append(node.lineno)
    return sorted(found)


def test_the_sys_path_check_finds_edits() -> None:
    source = (
        "import sys\nsys.path.insert(0, 'x')\nsys.path[:0] = ['y']\nsys.path += ['z']\n"
        "print(sys.path)\ntext = 'sys.path.insert(0, here)'\n"
    )
    assert sys_path_edits(source) == [2, 3, 4]


def test_no_test_edits_sys_path() -> None:
    edits = {f"{_rel(p)}:{line}" for p in _test_sources() for line in sys_path_edits(p.read_text())}
    assert edits == set()


def machine_paths(source: str) -> list[tuple[int, str]]:
    """String literals (f-string parts included) that start with a machine-specific prefix."""
    found = []
    for node in ast.walk(ast.parse(source)):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and node.value.startswith(MACHINE_PATH_PREFIXES):
            found.append((node.lineno, node.value))
    return sorted(found)


def test_no_absolute_machine_paths_in_tests() -> None:
    found = []
    for path in _test_sources():
        if path == Path(__file__).resolve():
            continue  # names the prefixes, and the literals above, on purpose
        allowed = NOT_MACHINE_PATHS.get(_rel(path), frozenset())
        for line, value in machine_paths(path.read_text()):
            if value not in allowed:
                found.append(f"{_rel(path)}:{line}: {value!r}")
    assert found == []


def test_the_machine_path_check_finds_literals() -> None:
    source = 'A = "/work/shared/reference"\nB = f"/home/{user}/x"\nC = "relative/tmp/"\n'
    assert machine_paths(source) == [(1, "/work/shared/reference"), (2, "/home/")]


def misplaced_test_modules(
    rel_paths: list[str], package_paths: set[str], root_modules: frozenset[str] = frozenset()
) -> list[str]:
    """The paths (relative to tests/) outside unit/<package path>/ (unit/test_<module>.py for a
    module at the package root) and the other homes. ``package_paths`` are automation's packages
    relative to it (``core``, ``ecosystems/pypi``, ``learn/dashboard``)."""
    misplaced = []
    for rel in rel_paths:
        parts = Path(rel).parts
        if len(parts) == 1:
            placed = rel in ("conftest.py", "__init__.py")
        elif parts[0] == "unit" and len(parts) == 2:  # the package root: its modules, or the whole
            module = parts[1].removeprefix("test_").removesuffix(".py")
            placed = rel in WHOLE_PACKAGE_TESTS or module in root_modules
        elif parts[0] == "unit":
            placed = "/".join(parts[1:-1]) in package_paths
        else:
            placed = parts[0] in TEST_HOMES
        if not placed:
            misplaced.append(rel)
    return misplaced


def unnamed_test_modules(
    rel_paths: list[str], names_by_package: Mapping[str, set[str]]
) -> list[str]:
    """Unit test modules under unit/<package path>/ named after none of that package's modules:
    ``test_<module>.py``, or ``test_<module>_<aspect>.py`` for a further module of one, is the
    rule (``names_by_package`` maps a package path to its module and subpackage names)."""
    unnamed = []
    for rel in rel_paths:
        parts = Path(rel).parts
        if parts[0] != "unit" or len(parts) < 3 or parts[-1] == "conftest.py":
            continue
        if rel in CROSS_MODULE_TESTS:
            continue
        stem = parts[-1].removeprefix("test_").removesuffix(".py")
        names = names_by_package.get("/".join(parts[1:-1]), set())
        if not any(stem == name or stem.startswith(f"{name}_") for name in names):
            unnamed.append(rel)
    return unnamed


def _root_modules() -> frozenset[str]:
    return frozenset(p.stem for p in PACKAGE_DIR.glob("*.py") if p.name != "__init__.py")


def package_paths(package_dir: Path) -> set[str]:
    """Every package below ``package_dir``, as a path relative to it (``ecosystems/pypi``)."""
    return {
        p.parent.relative_to(package_dir).as_posix()
        for p in package_dir.rglob("__init__.py")
        if p.parent != package_dir
    }


def names_by_package(package_dir: Path) -> dict[str, set[str]]:
    """Each package path's module names (``__init__`` left out) and subpackage names."""
    names: dict[str, set[str]] = {}
    for package in package_paths(package_dir):
        folder = package_dir / package
        names[package] = {p.stem for p in folder.glob("*.py") if p.name != "__init__.py"}
        names[package] |= {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
    return names


def test_every_test_module_lives_where_the_tree_says() -> None:
    rel_paths = [_rel(p) for p in _test_sources()]
    assert "unit/registry/test_breaker.py" in rel_paths
    assert "unit/ecosystems/pypi/test_client.py" in rel_paths
    assert misplaced_test_modules(rel_paths, package_paths(PACKAGE_DIR), _root_modules()) == []


def test_every_unit_test_module_is_named_after_a_module_of_its_package() -> None:
    rel_paths = [_rel(p) for p in _test_sources()]
    assert unnamed_test_modules(rel_paths, names_by_package(PACKAGE_DIR)) == []


def test_the_placement_rule_rejects_strays() -> None:
    strays = ["test_loose.py", "unit/nowhere/test_x.py", "unit/test_y.py", "helpers/test_z.py"]
    kept = ["conftest.py", "unit/core/test_atomic.py", "integration/test_a.py", "support/x.py"]
    kept.append("unit/test_frontdoor.py")  # automation/frontdoor.py sits at the package root
    packages = package_paths(PACKAGE_DIR)
    assert misplaced_test_modules(strays + kept, packages, _root_modules()) == strays


def test_nested_test_folders_are_accepted_only_where_the_source_folder_exists() -> None:
    packages = package_paths(PACKAGE_DIR)
    assert {"ecosystems/pypi", "ecosystems/homebrew", "learn/dashboard"} <= packages
    kept = [
        "unit/ecosystems/pypi/test_client.py",
        "unit/ecosystems/homebrew/conftest.py",
        "unit/learn/dashboard/test_render.py",
    ]
    strays = [
        "unit/ecosystems/nosuch/test_client.py",  # no automation/ecosystems/nosuch/
        "unit/learn/dashboard/deeper/test_x.py",
        "unit/learn/board/test_render.py",
        "unit/pypi/test_client.py",  # pypi is under ecosystems/, not a top-level package
    ]
    assert misplaced_test_modules(kept + strays, packages) == strays


def test_the_naming_rule_rejects_test_modules_named_after_no_module() -> None:
    names = {"core": {"atomic", "http"}, "ecosystems/pypi": {"client"}, "learn": {"dashboard"}}
    named = [
        "unit/core/test_atomic.py",
        "unit/core/test_http_deadlines.py",  # an aspect of http, a file of its own
        "unit/ecosystems/pypi/test_client.py",
        "unit/ecosystems/pypi/conftest.py",
        "unit/learn/test_dashboard.py",  # the dashboard package's own __init__
        "integration/test_anything.py",
    ]
    unnamed = [
        "unit/core/test_data_files.py",
        "unit/core/test_httpx.py",
        "unit/ecosystems/pypi/test_builder.py",
    ]
    assert unnamed_test_modules(named + unnamed, names) == unnamed


# --- tests mirror the source ----------------------------------------------------------------------


def code_lines(source: str) -> int:
    """Lines of code: not blank, not only a comment, not part of a docstring."""
    docstring_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstring_lines.update(range(first.lineno, (first.end_lineno or 0) + 1))
    return sum(
        1
        for number, line in enumerate(source.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#") and number not in docstring_lines
    )


def mirror_of(module: str) -> str:
    """The unit test module (relative to tests/) of a module (relative to the package):
    ``ecosystems/pypi/client.py`` -> ``unit/ecosystems/pypi/test_client.py``."""
    path = Path(module)
    return (Path("unit") / path.parent / f"test_{path.name}").as_posix()


def modules_with_logic(package_dir: Path) -> list[str]:
    """Modules (relative to the package, ``__init__`` left out) above MIN_CODE_LINES."""
    return [
        path.relative_to(package_dir).as_posix()
        for path in sorted(package_dir.rglob("*.py"))
        if path.name != "__init__.py" and code_lines(path.read_text()) > MIN_CODE_LINES
    ]


def missing_mirrors(
    package_dir: Path,
    tests_dir: Path,
    exceptions: Mapping[str, tuple[str, tuple[str, ...]]],
) -> list[str]:
    """``<module>: no <test module>`` for each module with logic, not an exception, whose
    mirrored unit test module does not exist."""
    return [
        f"{module}: no {mirror_of(module)}"
        for module in modules_with_logic(package_dir)
        if module not in exceptions and not (tests_dir / mirror_of(module)).is_file()
    ]


def stale_exceptions(
    package_dir: Path,
    tests_dir: Path,
    exceptions: Mapping[str, tuple[str, tuple[str, ...]]],
) -> list[str]:
    """Exceptions no longer needed, and exceptions naming a covering test that does not exist."""
    with_logic = set(modules_with_logic(package_dir))
    stale = []
    for module, (_reason, covered_by) in sorted(exceptions.items()):
        if module not in with_logic:
            stale.append(f"{module}: missing, or not above {MIN_CODE_LINES} lines of code")
        elif (tests_dir / mirror_of(module)).is_file():
            stale.append(f"{module}: {mirror_of(module)} exists now")
        stale += [
            f"{module}: {t} does not exist" for t in covered_by if not (tests_dir / t).is_file()
        ]
    return stale


def test_every_module_with_logic_has_its_unit_test_module() -> None:
    assert "registry/queue.py" in modules_with_logic(PACKAGE_DIR)
    assert missing_mirrors(PACKAGE_DIR, TESTS_DIR, MIRROR_EXCEPTIONS) == []


def test_the_mirror_exceptions_are_all_still_needed() -> None:
    assert stale_exceptions(PACKAGE_DIR, TESTS_DIR, MIRROR_EXCEPTIONS) == []


def test_code_lines_leave_out_blanks_comments_and_docstrings() -> None:
    source = (
        '"""Module doc.\n\nMore doc."""\n\nimport os  # a comment after code counts\n'
        "# a comment line\n\n"
        'def f() -> None:\n    """Doc."""\n    x = """not a docstring"""\n    return None\n'
    )
    assert code_lines(source) == 4


def test_the_mirror_check_reports_a_missing_mirror_on_a_synthetic_tree(tmp_path: Path) -> None:
    logic = "".join(f"x{i} = {i}\n" for i in range(MIN_CODE_LINES + 1))
    glue = "".join(f"x{i} = {i}\n" for i in range(MIN_CODE_LINES))
    docs_only = '"""' + "doc\n" * 100 + '"""\n' + glue
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": logic,  # a package's __init__ needs no mirror
            "pkg/core/__init__.py": "",
            "pkg/core/tested.py": logic,
            "pkg/core/untested.py": logic,
            "pkg/core/glue.py": glue,  # at the threshold, not above it
            "pkg/core/documented.py": docs_only,  # docstrings are not code
            "pkg/eco/__init__.py": "",
            "pkg/eco/pypi/__init__.py": "",
            "pkg/eco/pypi/client.py": logic,
            "pkg/eco/pypi/builder.py": logic,
            "pkg/eco/pypi/install.py": logic,
            "tests/unit/core/test_tested.py": "",
            "tests/unit/eco/pypi/test_client.py": "",
            "tests/unit/eco/test_builder.py": "",  # not the mirrored path of eco/pypi/builder.py
            "tests/integration/test_install.py": "",
        },
    )
    tests = tmp_path / "tests"
    allowed = {"eco/pypi/install.py": ("installer action", ("integration/test_install.py",))}
    assert missing_mirrors(package, tests, allowed) == [
        "core/untested.py: no unit/core/test_untested.py",
        "eco/pypi/builder.py: no unit/eco/pypi/test_builder.py",
    ]
    assert stale_exceptions(package, tests, allowed) == []
    stale = {
        "core/tested.py": ("has its mirror", ("integration/test_install.py",)),
        "core/glue.py": ("too small", ()),
        "core/gone.py": ("no such module", ()),
        "eco/pypi/install.py": ("names a test that is not there", ("integration/test_gone.py",)),
    }
    assert stale_exceptions(package, tests, stale) == [
        f"core/glue.py: missing, or not above {MIN_CODE_LINES} lines of code",
        f"core/gone.py: missing, or not above {MIN_CODE_LINES} lines of code",
        "core/tested.py: unit/core/test_tested.py exists now",
        "eco/pypi/install.py: integration/test_gone.py does not exist",
    ]
