"""A fake ``tsuku`` binary for tests: a script that keeps the CLI contract the kit relies on.

The contract is the one ``automation/containers/tsuku.py`` documents (from tsuku's source):
``tsuku --version`` prints ``tsuku version <v>``; ``tsuku install --json --force --recipe FILE``
installs under ``$TSUKU_HOME`` (``tools/<name>-<version>/bin``, links in ``tools/current``,
``state.json`` with ``installed.<name>.active_version``) and exits 0, or prints tsuku's indented
JSON error document on stdout, its errors on stderr, and exits with tsuku's code (2 usage,
5 network, 6 install failed, 8 dependency failed). The fake also refuses to run without the
quiet switches and with the recipe anywhere but ``$TSUKU_HOME/recipes/<name>.toml``, so a test
passing through it shows the kit keeps its side of the contract.

What it does is chosen by the recipe's first step ``package``:

============================ ==================================================================
package                      behaviour
============================ ==================================================================
``fake-dns``                 exit 5, subcategory ``dns_error``
``fake-flaky``               exit 5 (``connection_error``) the first time, then installs
``fake-missing-dep``         exit 8, ``missing_recipes: ["libfoo"]``
``fake-dep-broken``          exit 8, no missing recipes (a dependency failed to build)
``fake-no-such-package``     exit 6 with pip's "No matching distribution found" in the message
``fake-bad-verify``          installs, then exit 6 "installation verification failed: pattern
                             mismatch"
``fake-hang``                sleeps 30 s (for install timeouts)
``fake-silent``              installs executables that print nothing (exit 0)
anything else                installs each declared executable, printing ``<exe> <version>``
============================ ==================================================================

The version installed is the step's ``version``, else ``1.2.3``.

:func:`write_shell_fake_tsuku` writes a smaller one in POSIX ``sh``, for inside the validation
containers (which have no Python of the host): it installs every recipe (executables printing
``<exe> 1.2.3``) except one whose package is ``MISSING`` or starts with
``registry-automation-no-such-package``, which fails as tsuku does when pip finds no package.
"""

from __future__ import annotations

import sys
from pathlib import Path

VERSION = "0.13.0"

_SCRIPT = r"""
import json
import os
import pathlib
import sys
import time
import tomllib

args = sys.argv[1:]
if args == ["--version"]:
    print("tsuku version @VERSION@")
    sys.exit(0)


def usage(message):
    print("Error: " + message, file=sys.stderr)
    sys.exit(2)


if not args or args[0] != "install":
    usage("unknown command %r" % args)
for flag in ("--json", "--force", "--recipe"):
    if flag not in args:
        usage("expected install --json --force --recipe FILE, got %r" % args)
home = os.environ.get("TSUKU_HOME") or usage("TSUKU_HOME is not set")
for key in ("TSUKU_NO_TELEMETRY", "TSUKU_NO_UPDATE_CHECK", "TSUKU_NO_SELF_UPDATE"):
    if os.environ.get(key) != "1":
        usage(key + " is not set")
recipe_path = pathlib.Path(args[args.index("--recipe") + 1])
recipe = tomllib.loads(recipe_path.read_text())
name = recipe["metadata"]["name"]
if recipe_path != pathlib.Path(home) / "recipes" / (name + ".toml"):
    usage("recipe not in $TSUKU_HOME/recipes: %s" % recipe_path)
step = recipe["steps"][0]
package = step.get("package", name)
version = step.get("version", "1.2.3")
print("Installing %s@%s" % (name, version), file=sys.stderr)


def fail(code, message, category="install_failed", subcategory="", missing=()):
    print("Error: " + message, file=sys.stderr)
    document = {
        "status": "error",
        "category": category,
        "message": message,
        "missing_recipes": list(missing),
        "install_exit_code": code,
    }
    if subcategory:
        document["subcategory"] = subcategory
    print(json.dumps(document, indent=2))
    sys.exit(code)


def install(silent=False):
    tree = pathlib.Path(home) / "tools" / ("%s-%s" % (name, version)) / "bin"
    current = pathlib.Path(home) / "tools" / "current"
    tree.mkdir(parents=True)
    current.mkdir(parents=True, exist_ok=True)
    binaries = []
    for exe in step.get("executables") or [name]:
        path = tree / exe
        body = "" if silent else 'echo "%s %s"\n' % (exe, version)
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
        (current / exe).symlink_to(path)
        binaries.append("bin/" + exe)
    state = {
        "installed": {
            name: {
                "active_version": version,
                "versions": {version: {"requested": "", "binaries": binaries}},
                "is_explicit": True,
            }
        }
    }
    (pathlib.Path(home) / "state.json").write_text(json.dumps(state, indent=2))


if package == "fake-dns":
    fail(5, "registry: dial tcp: lookup pypi.org: no such host", "network_error", "dns_error")
if package == "fake-flaky":
    counter = pathlib.Path(__file__).with_name("flaky-attempts")
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    if seen == 0:
        fail(5, "connection reset by peer", "network_error", "connection_error")
if package == "fake-missing-dep":
    fail(
        8,
        "failed to install dependency 'libfoo': recipe libfoo not found in registry",
        "missing_dep",
        missing=["libfoo"],
    )
if package == "fake-dep-broken":
    fail(8, "failed to install dependency 'libbar': build failed", "missing_dep")
if package == "fake-no-such-package":
    fail(
        6,
        "pipx_install failed: exit status 1\nERROR: No matching distribution found for "
        + package,
    )
if package == "fake-hang":
    time.sleep(30)
install(silent=package == "fake-silent")
if package == "fake-bad-verify":
    fail(
        6,
        "installation verification failed: pattern mismatch\n  Missing: 9.9.9\n  Got: %s %s"
        % (name, version),
    )
print("%s@%s installed" % (name, version), file=sys.stderr)
"""


def write_fake_tsuku(folder: Path, *, version: str = VERSION) -> Path:
    """Write the fake into ``folder`` (run by this interpreter) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tsuku"
    path.write_text(f"#!{sys.executable}\n" + _SCRIPT.replace("@VERSION@", version))
    path.chmod(0o755)
    return path


def recipe_text(name: str, package: str, executables: tuple[str, ...] = (), **verify: str) -> str:
    """A pypi-shaped recipe whose ``package`` picks the fake's behaviour."""
    exes = list(executables or (name,))
    lines = [
        "[metadata]",
        f'name = "{name}"',
        "",
        "[[steps]]",
        'action = "pipx_install"',
        f'package = "{package}"',
        f"executables = {exes!r}".replace("'", '"'),
    ]
    if verify:
        lines += ["", "[verify]", *(f'{key} = "{value}"' for key, value in verify.items())]
    return "\n".join(lines) + "\n"


_SHELL_SCRIPT = r"""#!/bin/sh
# A fake tsuku in POSIX sh for the validation containers (see tests/support/fake_tsuku.py).
if [ "$1" = "--version" ]; then echo "tsuku version @VERSION@"; exit 0; fi
[ "$1" = "install" ] || { echo "Error: unknown command $1" >&2; exit 2; }
recipe=""; json=""; force=""
while [ $# -gt 0 ]; do
  case "$1" in --recipe) recipe=$2; shift ;; --json) json=1 ;; --force) force=1 ;; esac
  shift
done
if [ -z "$recipe" ] || [ -z "$json" ] || [ -z "$force" ]; then
  echo "Error: expected install --json --force --recipe FILE" >&2; exit 2
fi
if [ -z "$TSUKU_HOME" ] || [ "$TSUKU_NO_TELEMETRY" != 1 ]; then
  echo "Error: TSUKU_HOME and the quiet switches must be set" >&2; exit 2
fi
name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$recipe" | head -n 1)
package=$(sed -n 's/^package = "\(.*\)"$/\1/p' "$recipe" | head -n 1)
exes=$(sed -n 's/^executables = \[\(.*\)\]$/\1/p' "$recipe" | head -n 1 | tr -d '" ' | tr ',' ' ')
version=1.2.3
echo "Installing $name@$version" >&2
case "$package" in
  MISSING|registry-automation-no-such-package*)
    echo "Error: pipx_install failed: ERROR: No matching distribution found for $package" >&2
    printf '{\n  "status": "error",\n  "category": "install_failed",\n'
    printf '  "message": "pipx_install failed: No matching distribution found for %s",\n' "$package"
    printf '  "missing_recipes": [],\n  "install_exit_code": 6\n}\n'
    exit 6 ;;
esac
tree="$TSUKU_HOME/tools/$name-$version/bin"
mkdir -p "$tree" "$TSUKU_HOME/tools/current"
for exe in ${exes:-$name}; do
  printf '#!/bin/sh\necho "%s %s"\n' "$exe" "$version" > "$tree/$exe"
  chmod 755 "$tree/$exe"
  ln -s "$tree/$exe" "$TSUKU_HOME/tools/current/$exe"
done
state='{"installed": {"%s": {"active_version": "%s"}}}\n'
printf "$state" "$name" "$version" > "$TSUKU_HOME/state.json"
"""


def write_shell_fake_tsuku(folder: Path, *, version: str = VERSION) -> Path:
    """Write the POSIX ``sh`` fake into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tsuku"
    path.write_text(_SHELL_SCRIPT.replace("@VERSION@", version))
    path.chmod(0o755)
    return path
