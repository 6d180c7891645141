"""Which console scripts of a wheel run only when an optional extra is installed.

``pip install httpx`` installs the ``httpx`` command, but running it fails until ``httpx[cli]``
is installed: ``httpx/__init__.py`` imports ``._main`` inside ``try``/``except ImportError`` and
replaces ``main`` by a stub that exits, and ``httpx/_main.py`` imports ``click``, ``pygments``
and ``rich``, which only the ``cli`` extra requires. The evidence read here is the wheel's own:

* **declared**: the entry point names its extras (``blackd = blackd:patched_main [d]``);
* **guarded**: a module the script's module loads (itself, its parent packages, and modules of
  the wheel they import at module level, transitively) imports a project that only an extra
  installs under an ``except ImportError`` that makes the script fail: the handler raises or
  exits (``dotenv/cli.py``), or, in the script's own module, it replaces the script's function
  by a stub (``httpx``) or sets a name the script's function tests alone before raising or
  exiting (``fastapi/cli.py``: ``cli_main = None`` ... ``if not cli_main: raise``). Imports
  made unguarded by a module reached through such a guard count too (``httpx/_main.py``).

Unguarded imports reached without such a guard are not evidence: the package expects them to be
present, and they usually are (``mlflow`` imports ``click``, which its base installs through
``mlflow-skinny`` while only the ``mcp`` extra names it). Install hints in strings
(``pip install "fastapi[standard]"``) only choose among the extras installing a project.
Imports inside functions, under ``if`` (``TYPE_CHECKING``, version or platform tests) and in
``except`` fallbacks are not counted: they do not run when the script starts, or do not fail it.
Import names are matched to projects by PEP 503 normalisation (``fastapi_cli`` is
``fastapi-cli``); a project whose import name differs (``pyyaml``/``yaml``) is not matched, so
evidence through it is missed rather than invented. Modules this interpreter cannot parse count
as unread.
"""

from __future__ import annotations

import ast
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from automation.ecosystems.pypi.requires import Requirements

# ``module[:attr] [extra, ...]``, the entry-point object reference.
ENTRY_POINT = re.compile(
    r"^\s*(?P<module>[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*"
    r"(?::\s*(?P<attr>[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*)?"
    r"(?:\[\s*(?P<extras>[^\]]*)\])?\s*$"
)
# ``name[extra, ...]`` inside a string literal (an install hint).
HINT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\[\s*([A-Za-z0-9][A-Za-z0-9._,\s-]*)\]")
IMPORT_ERRORS = frozenset(("ImportError", "ModuleNotFoundError", "Exception", "BaseException"))
EXIT_CALLS = frozenset(("exit", "quit", "_exit", "SystemExit"))
# How many of the wheel's modules one script's analysis parses at most.
MAX_MODULES = 400

# ``ast.parse`` is not thread-safe on CPython before 3.13: the conversion of the parse tree to
# Python objects keeps its recursion depth in interpreter-wide state, so two threads parsing at
# once (a garbage collection running a finaliser switches threads mid-conversion) fail with
# ``SystemError: AST constructor recursion depth mismatch``. Generation runs builders side by
# side, so every parse here takes this lock.
_PARSE_LOCK = threading.Lock()

# Import kinds: unguarded; under a guard that makes the script fail; not run at start or not fatal.
REQUIRED, FATAL, OPTIONAL = "required", "fatal", "optional"


@dataclass(frozen=True, slots=True)
class EntryPoint:
    module: str
    attr: str  # "" when the reference names a module only
    extras: tuple[str, ...]  # declared in brackets, canonical


def parse_entry_point(value: str) -> EntryPoint | None:
    """``pkg.mod:func [x, y]`` -> EntryPoint; None for a reference that is not one."""
    match = ENTRY_POINT.fullmatch(value)
    if match is None:
        return None
    extras = tuple(
        canonicalize_name(e.strip()) for e in (match["extras"] or "").split(",") if e.strip()
    )
    return EntryPoint(
        module=re.sub(r"\s+", "", match["module"]),
        attr=re.sub(r"\s+", "", match["attr"] or ""),
        extras=extras,
    )


@dataclass(frozen=True, slots=True)
class ExtraNeed:
    """A script needs optional extras: ``extras`` (canonical, sorted), or () when the evidence
    is clear but does not say which; ``reason`` is one line of evidence for a failure message."""

    extras: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class _Import:
    module: str  # absolute dotted name
    names: tuple[str, ...]  # ``from module import a, b``: a, b (maybe submodules)
    kind: str  # REQUIRED | FATAL | OPTIONAL
    line: int


@dataclass(frozen=True, slots=True)
class _Scan:
    imports: tuple[_Import, ...]
    hints: frozenset[tuple[str, str]]  # (canonical project, canonical extra) named in strings


# ---------------------------------------------------------------- one module


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    def caught(node: ast.expr | None) -> bool:
        if node is None:
            return True
        if isinstance(node, ast.Name):
            return node.id in IMPORT_ERRORS
        if isinstance(node, ast.Attribute):
            return node.attr in IMPORT_ERRORS
        if isinstance(node, ast.Tuple):
            return any(caught(e) for e in node.elts)
        return False

    return caught(handler.type)


def _walk_here(statements: Sequence[ast.stmt]) -> Iterable[ast.AST]:
    """Nodes of ``statements``, not descending into function, class or lambda bodies."""
    stack: list[ast.AST] = list(statements)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ):
                stack.append(child)


def _ends_program(statements: Sequence[ast.stmt]) -> bool:
    """The handler raises or exits (``sys.exit``, ``exit``, ``os._exit``, ``SystemExit``)."""
    for node in _walk_here(statements):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in EXIT_CALLS:
                return True
    return False


def _replaces(statements: Sequence[ast.stmt], names: frozenset[str]) -> bool:
    """The handler defines or assigns one of ``names`` (the script's function, as a stub)."""
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            return True
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id in names for t in targets):
            return True
    return False


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    if not node.level:
        return node.module
    parts = _package_of(module, is_package).split(".") if module else []
    if node.level - 1 >= len(parts):
        return None  # beyond the top-level package: an ImportError at run time
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])]) or None


def _tested_then_fatal(tree: ast.Module, function: str) -> frozenset[str]:
    """Names that module-level function ``function`` tests alone (``if not cli_main:``) in an
    ``if`` whose body raises or exits."""
    names: set[str] = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name != function:
            continue
        for part in _walk_here(node.body):
            if isinstance(part, ast.If) and _ends_program(part.body):
                tested = {n.id for n in ast.walk(part.test) if isinstance(n, ast.Name)}
                if len(tested) == 1:
                    names.update(tested)
    return frozenset(names)


def scan_module(source: str, module: str, is_package: bool, entry_attr: str = "") -> _Scan | None:
    """Module-level imports of ``source`` and the install hints in its strings; None when this
    interpreter cannot parse it. ``entry_attr``: the script's function, when this is the
    script's own module (a handler replacing it, or setting a name it tests before failing,
    makes the guard fatal)."""
    try:
        with _PARSE_LOCK:
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    stubs = (
        frozenset([entry_attr]) | _tested_then_fatal(tree, entry_attr)
        if entry_attr
        else (frozenset())
    )
    imports: list[_Import] = []

    def visit(statements: Sequence[ast.stmt], kind: str) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    imports.append(_Import(alias.name, (), kind, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(node, module, is_package)
                if target is not None:
                    names = tuple(a.name for a in node.names if a.name != "*")
                    imports.append(_Import(target, names, kind, node.lineno))
            elif isinstance(node, ast.Try | ast.TryStar):
                guarded = [h for h in node.handlers if _catches_import_error(h)]
                fatal = any(_ends_program(h.body) or _replaces(h.body, stubs) for h in guarded)
                inner = kind
                if guarded:
                    inner = FATAL if fatal and kind != OPTIONAL else OPTIONAL
                visit(node.body, inner)
                for handler in node.handlers:
                    visit(handler.body, OPTIONAL)  # fallbacks (``import tomli as tomllib``)
                visit(node.orelse, kind)
                visit(node.finalbody, kind)
            elif isinstance(node, ast.If):
                visit(node.body, OPTIONAL)
                visit(node.orelse, OPTIONAL)
            elif isinstance(node, ast.With | ast.AsyncWith):
                visit(node.body, kind)

    visit(tree.body, REQUIRED)
    hints: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "[" in node.value:
            for project, extras in HINT.findall(node.value):
                for extra in extras.split(","):
                    if extra.strip():
                        hints.add((canonicalize_name(project), canonicalize_name(extra.strip())))
    return _Scan(tuple(imports), frozenset(hints))


# ---------------------------------------------------------------- the wheel's modules


class WheelModules:
    """The importable modules of a wheel, from its member names; sources read on demand.

    ``read(member)`` returns a member's bytes, or None when it cannot be read (too large,
    over the read budget).
    """

    def __init__(self, members: Iterable[str], read: Callable[[str], bytes | None]) -> None:
        self._read = read
        self._files: set[str] = set()
        self._packages: set[str] = set()  # dotted names of directories holding modules
        for name in members:
            top = name.split("/", 1)[0]
            if not name.endswith(".py") or top.endswith((".dist-info", ".data")):
                continue
            self._files.add(name)
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                self._packages.add(".".join(parts[:depth]))
        self.top_level = frozenset(
            name.split("/", 1)[0].removesuffix(".py") for name in self._files
        ) | frozenset(p.split(".", 1)[0] for p in self._packages)
        self._cache: dict[tuple[str, str], _Scan | None] = {}

    def path_of(self, module: str) -> tuple[str, bool] | None:
        """(member, is_package) holding ``module``'s code, or None (not a module of the wheel;
        a namespace package has no code)."""
        base = module.replace(".", "/")
        if f"{base}/__init__.py" in self._files:
            return f"{base}/__init__.py", True
        if f"{base}.py" in self._files:
            return f"{base}.py", False
        return None

    def exists(self, module: str) -> bool:
        return self.path_of(module) is not None or module in self._packages

    def scan(self, module: str, entry_attr: str = "") -> _Scan | None:
        key = (module, entry_attr)
        if key not in self._cache:
            found = self.path_of(module)
            data = self._read(found[0]) if found else None
            self._cache[key] = (
                None
                if found is None or data is None
                else scan_module(data.decode("utf-8", "replace"), module, found[1], entry_attr)
            )
        return self._cache[key]


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _import_key(project: str) -> str:
    """The import name a canonical project name gives (``fastapi-cli`` -> ``fastapi_cli``)."""
    return project.replace("-", "_")


def _choose(candidates: Sequence[str], hinted: frozenset[str], requirements: Requirements) -> str:
    """One extra among those installing a project: a hinted one, else the smallest."""
    preferred = sorted(set(candidates) & hinted)
    if preferred:
        return preferred[0]
    return min(candidates, key=lambda e: (len(requirements.extras[e]), e))


def script_need(
    entry: EntryPoint, modules: WheelModules, requirements: Requirements, project: str
) -> ExtraNeed | None:
    """The extras the script ``entry`` needs, or None when the wheel shows no such need."""
    own = canonicalize_name(project)
    declared = [e for e in entry.extras if e in requirements.extras]
    unknown = [e for e in entry.extras if e not in requirements.declared]
    if unknown:
        return ExtraNeed(
            (),
            f"its entry point declares [{', '.join(unknown)}], which the metadata does not provide",
        )
    by_import = {_import_key(p): p for p in (*requirements.base, *_extra_projects(requirements))}
    attr = entry.attr.split(".", 1)[0]
    entry_scan = modules.scan(entry.module, attr)
    hinted = frozenset(
        extra
        for name, extra in (entry_scan.hints if entry_scan else ())
        if name == own and extra in requirements.declared
    )
    # project -> (module file, import name) of the first guarded import of a project only an
    # extra installs
    needed: dict[str, tuple[str, str]] = {}
    # (module, reached through a fatal guard)
    queue: deque[tuple[str, bool]] = deque((m, False) for m in _parents(entry.module))
    seen: set[tuple[str, bool]] = set(queue)
    while queue and len(seen) <= MAX_MODULES:
        module, guarded = queue.popleft()
        scan = modules.scan(module, attr if module == entry.module else "")
        if scan is None:
            continue
        where = (modules.path_of(module) or (module, False))[0]
        for item in scan.imports:
            if item.kind == OPTIONAL:
                continue
            through = guarded or item.kind == FATAL
            top = item.module.split(".", 1)[0]
            if top in modules.top_level:
                targets = _parents(item.module) + [f"{item.module}.{n}" for n in item.names]
                for target in targets:
                    key = (target, through)
                    if modules.exists(target) and key not in seen:
                        seen.add(key)
                        queue.append(key)
                continue
            dist = by_import.get(top.lower())
            if not through or dist is None or dist == own or dist in requirements.base:
                continue
            needed.setdefault(dist, (where, top))
    chosen = set(declared)
    for dist in sorted(needed):
        candidates = requirements.extras_providing(dist)
        if candidates and not chosen & set(candidates):
            chosen.add(_choose(candidates, hinted, requirements))
    if not chosen:
        return None
    if declared and not needed:
        reason = f"its entry point declares [{', '.join(declared)}]"
    else:
        by_module: dict[str, list[str]] = {}
        for where, name in sorted(set(needed.values())):
            by_module.setdefault(where, []).append(name)
        reason = "; ".join(f"{where} imports {', '.join(n)}" for where, n in by_module.items())
        reason += (
            ", which only the extra installs"
            if len(chosen) == 1
            else ", which only those extras install"
        )
    return ExtraNeed(tuple(sorted(chosen)), reason)


def _extra_projects(requirements: Requirements) -> list[str]:
    return sorted({p for names in requirements.extras.values() for p in names})


def script_needs(
    entry_points: Mapping[str, str],
    members: Iterable[str],
    read: Callable[[str], bytes | None],
    requirements: Requirements,
    project: str,
) -> dict[str, ExtraNeed]:
    """Script -> ExtraNeed for each console script that needs an extra (others left out)."""
    if not requirements.has_extra_only and not any(
        (parse_entry_point(v) or EntryPoint("", "", ())).extras for v in entry_points.values()
    ):
        return {}
    modules = WheelModules(members, read)
    out: dict[str, ExtraNeed] = {}
    for script, value in sorted(entry_points.items()):
        entry = parse_entry_point(value)
        if entry is None:
            continue
        need = script_need(entry, modules, requirements, project)
        if need is not None:
            out[script] = need
    return out


def source_members(entry_points: Mapping[str, str], members: Iterable[str]) -> list[str]:
    """The wheel's ``.py`` modules (what ``script_needs`` may read: worth fetching in one
    range); with ``entry_points``, only those under the top-level names of the scripts'
    modules."""
    tops = {
        entry.module.split(".", 1)[0]
        for entry in (parse_entry_point(v) for v in entry_points.values())
        if entry is not None
    }
    return [
        m
        for m in members
        if m.endswith(".py")
        and not m.split("/", 1)[0].endswith((".dist-info", ".data"))
        and (not entry_points or m.split("/", 1)[0] in tops or m.removesuffix(".py") in tops)
    ]
