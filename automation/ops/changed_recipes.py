"""The recipes a branch changed, for ``nox -s validate -- ENV`` with no recipe named.

A contributor backfilling a platform edits a recipe on a branch and validates it in one
environment (``docs/BACKFILL.md``). With no ``--recipe``, the recipes validated are those the
branch changed against the main branch: ``git diff --name-only <merge-base>...HEAD --
recipes/`` plus what is not committed yet (staged, unstaged and untracked files under
``recipes/``), deleted files left out. The base is ``--base REF`` when given, else ``main``, else
``origin/main``. When nothing changed (or the checkout is no git repository) the message says so
and the two built-in smoke recipes are validated, as before: the command still proves the
environment works.

``python -m automation.ops.changed_recipes ENV [PATH.toml ...] [--base REF] [options]`` resolves
the recipes, prints which and why on stderr, and hands every other option to
``python -m automation.containers.validate``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from automation.core.errors import UsageError
from automation.core.process import Completed, Runner, run_process

BASE_REFS = ("main", "origin/main")
RECIPES_DIR = "recipes"


@dataclass(frozen=True, slots=True)
class ChangedRecipes:
    """The recipe files to validate and the one line that says where they came from."""

    paths: tuple[Path, ...]
    base: str | None  # the ref compared against (None: none found)
    message: str


def _git(run: Runner, root: Path, *args: str) -> Completed:
    return run(("git", "-C", str(root), *args), None, None, 60.0)


def _lines(done: Completed) -> list[str]:
    return [line.strip() for line in done.output.splitlines() if line.strip()]


def changed_recipes(
    root: str | Path, *, base: str | None = None, run: Runner = run_process
) -> ChangedRecipes:
    """The recipe files under ``<root>/recipes/`` changed on this branch (see the module doc)."""
    root = Path(root).resolve()
    top = _git(run, root, "rev-parse", "--show-toplevel")
    if not top.ok:
        return ChangedRecipes((), None, f"{root} is not a git checkout: no changed recipes")
    toplevel = Path(_lines(top)[0]) if _lines(top) else root
    candidates = (base,) if base else BASE_REFS
    chosen: str | None = None
    merge_base = ""
    for ref in candidates:
        found = _git(run, root, "merge-base", ref, "HEAD")
        if found.ok and _lines(found):
            chosen, merge_base = ref, _lines(found)[0]
            break
    if base and chosen is None:
        raise UsageError(f"--base {base}: no common ancestor with HEAD (is the ref fetched?)")
    names: set[str] = set()
    # Paths print relative to the top level; the pathspec is relative to the root.
    if chosen is not None:
        committed = _git(
            run, root, "diff", "--name-only", f"{merge_base}...HEAD", "--", RECIPES_DIR
        )
        names.update(_lines(committed))
    uncommitted = _git(run, root, "diff", "--name-only", "HEAD", "--", RECIPES_DIR)
    untracked = _git(run, root, "ls-files", "--others", "--exclude-standard", "--", RECIPES_DIR)
    names.update(_lines(uncommitted))
    # ls-files prints paths relative to the working directory (the root), diff to the top.
    relative = [str((root / n).resolve().relative_to(toplevel)) for n in _lines(untracked)]
    names.update(relative)
    paths = tuple(
        sorted(
            path
            for path in (toplevel / name for name in names)
            if path.suffix == ".toml" and path.is_file()  # deleted recipes are not validated
        )
    )
    against = f"{chosen} (merge-base {merge_base[:12]})" if chosen else "no main branch found"
    if paths:
        shown = ", ".join(str(p.relative_to(toplevel)) for p in paths)
        message = f"validating {len(paths)} recipe(s) changed against {against}: {shown}"
    else:
        message = f"no recipe under {RECIPES_DIR}/ changed against {against}, nor uncommitted"
    return ChangedRecipes(paths, chosen, message)


SMOKE_NOTE = "validating the built-in smoke recipes instead; name recipes with --recipe PATH"


def resolve_argv(argv: Sequence[str], run: Runner = run_process) -> tuple[list[str], str | None]:
    """``argv`` for ``automation.containers.validate``: positional ``*.toml`` become
    ``--recipe``; with no recipe named, the changed ones are added. Also the message to show
    (None when recipes were named)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--base", default=None)
    parser.add_argument("--root", default=".")
    known, rest = parser.parse_known_args(list(argv))
    out: list[str] = []
    named = False
    for index, arg in enumerate(rest):
        follows_recipe = index > 0 and rest[index - 1] == "--recipe"
        if arg.endswith(".toml") and not arg.startswith("-") and not follows_recipe:
            out += ["--recipe", arg]
            named = True
        else:
            named = named or arg == "--recipe" or arg.startswith("--recipe=")
            out.append(arg)
    out += ["--root", known.root]
    if named:
        return out, None
    changed = changed_recipes(known.root, base=known.base, run=run)
    if not changed.paths:
        return out, f"{changed.message}: {SMOKE_NOTE}"
    for path in changed.paths:
        out += ["--recipe", str(path)]
    return out, changed.message


def main(argv: Sequence[str] | None = None) -> int:
    """``nox -s validate -- ENV [PATH.toml ...] [--base REF] [validate options]``."""
    from automation.containers import validate

    try:
        forwarded, message = resolve_argv(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    if message:
        print(message, file=sys.stderr)
    return validate.main(forwarded)


if __name__ == "__main__":
    sys.exit(main())
