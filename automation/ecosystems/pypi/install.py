"""PyPI's install action for the recipe installer: ``pipx_install`` (one venv per package).

Part of the installer's kit folder (copied into the validation containers with
``automation/containers/installer.py``): standard library only, Python >= 3.9.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.containers import installer as kit
else:  # loaded by the installer core, which registered itself under this name
    kit = sys.modules["registry_automation_installer"]


def project_name(package: str) -> str:
    """The project of a package spec: ``httpx[cli]`` -> ``httpx`` (what importlib.metadata
    knows the installed distribution by)."""
    return package.split("[", 1)[0].strip()


def requirement_spec(package: str, version: str | None) -> str:
    """What pip installs: ``package``, pinned to ``version`` when given. PEP 508 puts the
    version after any extras, ``httpx[cli]==0.28.1``; whitespace inside the brackets goes."""
    name, bracket, extras = package.partition("[")
    spec = name.strip()
    if bracket:
        spec += "[" + ",".join(e.strip() for e in extras.rstrip().rstrip("]").split(",")) + "]"
    return spec + ("==" + version if version else "")


def index_args(ctx: kit.Context) -> list[str]:
    """pip's ``--index-url`` for the kit's PyPI mirror (``AUTOMATION_ENDPOINT_PYPI``), if any.

    The endpoint is the base of PyPI's JSON API (``<base>/pypi/<name>/json``); a PyPI mirror
    (devpi, a proxy, a test server) serves the simple index beside it at ``<base>/simple/``.
    """
    base = kit.configured_endpoint(ctx, "pypi")
    return ["--index-url", base + "/simple/"] if base else []


# pip's HTTP caches (``http-v2`` since pip 23.3, ``http`` before): responses keyed by URL, each
# entry written to a temporary file and renamed into place, so concurrent pips can share them.
SHARED_PIP_FOLDERS = ("http-v2", "http")


def pip_cache_environment(ctx: kit.Context) -> dict[str, str]:
    """``PIP_CACHE_DIR`` for one install: a private cache whose HTTP folders are the shared
    download cache's (``kit.download_cache``), or nothing when there is no shared cache.

    Only downloads are shared: pip's ``wheels`` folder (wheels it built from source
    distributions, for this environment's compiler and libc) stays private to the install, so
    every environment builds what it installs itself.
    """
    shared = kit.download_cache(ctx, "pip")
    if shared is None:
        return {}
    private = os.path.join(ctx.work_dir, "pip-cache")
    try:
        os.makedirs(private, exist_ok=True)
        for folder in SHARED_PIP_FOLDERS:
            target = os.path.join(shared, folder)
            os.makedirs(target, exist_ok=True)
            link = os.path.join(private, folder)
            if not os.path.islink(link):
                os.symlink(target, link)
    except OSError:
        return {}  # the shared cache only saves downloads: without it pip fetches again
    return {"PIP_CACHE_DIR": private}


def uv_environment(ctx: kit.Context) -> dict[str, str]:
    """How uv runs for one install: its cache in the shared download cache (uv keeps downloaded
    wheels there by URL and digest, taking a lock for each entry, so concurrent installs in every
    environment share it) or in the install's own work folder; files copied out of it (the
    cache is on another file system in a container); no configuration files and no Python
    downloads (the kit's mirror and interpreter are passed explicitly), and the index a user
    gave pip (``PIP_INDEX_URL``) when the kit has no PyPI mirror."""
    cache = kit.download_cache(ctx, "uv") or os.path.join(ctx.work_dir, "uv-cache")
    env = {
        "UV_CACHE_DIR": cache,
        "UV_LINK_MODE": "copy",
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    user_index = ctx.environment().get("PIP_INDEX_URL", "").strip()
    if user_index and not index_args(ctx):
        env["UV_DEFAULT_INDEX"] = user_index
    return env


def uv_usable(ctx: kit.Context) -> bool:
    """Whether the provisioned uv runs here (recorded as a runtime of the install): a uv built
    for another machine, as under an emulated architecture, leaves the install to pip."""
    if not ctx.uv or not os.access(ctx.uv, os.X_OK):
        return False
    ctx.note_runtime("uv", ctx.uv)
    return any(r["name"] == "uv" and r["version"] for r in ctx.runtimes)


def install_args(ctx: kit.Context, python: str, spec: str) -> tuple[list[str], dict[str, str]]:
    """The command that installs ``spec`` into the venv of ``python``, and its environment:
    uv when it is provisioned and runs here, else pip (the runtime's, or the venv's own)."""
    # Wheels only, as tsuku installs (its pipx_install locks with `pip download
    # --only-binary :all:` and installs with `pip install --only-binary :all:`,
    # internal/actions/pipx_install.go, pip_exec.go): a package that needs a source build fails
    # here as it fails for a tsuku user, instead of passing after minutes of compiling
    # (databricks-connect built numpy from source for 15 minutes).
    wheels_only = ["--only-binary", ":all:"]
    if uv_usable(ctx):
        assert ctx.uv is not None
        command = [ctx.uv, "pip", "install", "--no-progress", "--python", python]
        return [*command, *wheels_only, *index_args(ctx), spec], uv_environment(ctx)
    if ctx.reuse_host_tools:
        pip = [ctx.python, "-m", "pip", "--python", python]
    else:
        pip = [python, "-m", "pip"]
    command = [
        *pip,
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        # Byte-compiling every installed module is most of a large install's time (httpie:
        # 2.5 of 5.5 s) and decides nothing: pip ignores a module that does not compile, and
        # the interpreter compiles what the tool imports when it runs (uv does not compile).
        "--no-compile",
    ]
    return [*command, *wheels_only, *index_args(ctx), spec], pip_cache_environment(ctx)


def pipx_install(step: dict[str, Any], ctx: kit.Context) -> None:
    """One venv per package (what pipx does), made by the interpreter running the installer."""
    package = kit.step_field(step, "package")
    venv = os.path.join(ctx.tool_dir, "venv")
    python = os.path.join(venv, "bin", "python")
    project = project_name(package)
    spec = requirement_spec(package, ctx.requested_version)
    ctx.note_runtime("python3", ctx.python)
    if ctx.reuse_host_tools or uv_usable(ctx):
        # The installer (uv, or the runtime's own pip) installs into the venv from outside: a
        # venv without a pip of its own is made in a fraction of the time.
        kit.run_command(
            [ctx.python, "-m", "venv", "--without-pip", venv], ctx, what="python3 -m venv"
        )
    else:
        kit.run_command([ctx.python, "-m", "venv", venv], ctx, what="python3 -m venv")
    command, env = install_args(ctx, python, spec)
    installer = "uv pip install " if command[0] == ctx.uv else "pip install "
    kit.run_command(command, ctx, env=env, what=installer + spec)
    probe = "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))"
    with contextlib.suppress(kit.StepFailure):
        ctx.version = kit.run_command([python, "-c", probe, project], ctx).strip() or ctx.version
    kit.link_executables(ctx, os.path.join(venv, "bin"), kit.step_executables(step))


ACTIONS = {"pipx_install": pipx_install}
# Needs only Python on the user's machine and installs into a throwaway venv.
LOCAL_ACTIONS = ("pipx_install",)
# What pip and uv print when the project or its interpreter requirement is wrong
# (installer.classify_output; the first pattern that matches decides).
OUTPUT_CLASSES = (
    # uv: no release satisfies the interpreter (``Because the current Python version (3.13.5)
    # does not satisfy Python>=3.14 and ...``).
    ("install_failed", "runtime_version", r"current Python version \([^)\n]*\) does not satisfy"),
    # uv: the requested release has no wheel at all for this platform and Python (pip says
    # ``No matching distribution`` for it), is not on the index, or the version does not exist.
    (
        "recipe_not_found",
        "package_not_found",
        r"Because (\S+) has no usable wheels and you require \1[\s,.]|"
        r"was not found in the package registry|there is no version of \S+ and you require",
    ),
    # uv: a dependency has no wheel for this platform and Python, only a source distribution.
    (
        "install_failed",
        "no_wheel",
        r"ha(?:s|ve) no usable wheels|ha(?:s|ve) no wheels with a matching",
    ),
    # A dependency pip cannot satisfy with a wheel (``(from <parent>)``, not ``(from versions:``):
    # it exists, but only as a source distribution tsuku does not build (--only-binary :all:).
    (
        "install_failed",
        "no_wheel",
        r"satisfies the requirement [^\n]*?\(from (?!versions:)",
    ),
    ("recipe_not_found", "package_not_found", r"No matching distribution|404 Not Found"),
    ("install_failed", "runtime_version", r"requires a different Python|Requires-Python"),
    ("install_failed", "build_failed", r"error: command '.*' failed|Failed building wheel"),
)
