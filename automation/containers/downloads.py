"""One download cache for local validation and every validation container.

Validating a recipe in ``local``, ``debian-12`` and ``ubuntu-24.04`` used to download the same
package three times (and each container started with an empty cache). The kit now keeps one
host folder, ``$AUTOMATION_DOWNLOAD_CACHE`` (default
``~/.cache/registry-automation/downloads``; ``off`` turns it off), hands it to local validation
as that variable and bind-mounts it read-write into every container at
:data:`CONTAINER_DOWNLOAD_CACHE`. Each ecosystem's install module decides what goes in it
(``installer.download_cache``): only downloads, addressed by URL or digest and written by
rename (pip's HTTP cache, npm's cache, Go's module cache), so concurrent writers are safe and
every environment still resolves, builds and installs the tool itself.

Ownership: what a container's root writes is owned by the user running the engine when the
engine maps root to that user (rootless podman), and by root when the kit runs as root. With a
rootful engine run by another user (Docker), root-owned files in the folder local validation
writes to would make npm fail with EACCES, so the containers then get a subfolder of their own
(:func:`container_cache_dir`): they still share among themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from automation.containers.installer import DOWNLOAD_CACHE_ENV

CONTAINER_DOWNLOAD_CACHE = "/var/cache/registry-automation/downloads"
OFF_VALUES = frozenset({"off", "none", "no", "false", "0"})
# Where the containers write when their root is not the user running the kit.
ROOT_OWNED = "containers-root"

__all__ = [
    "CONTAINER_DOWNLOAD_CACHE",
    "DOWNLOAD_CACHE_ENV",
    "container_cache_dir",
    "download_cache_dir",
    "local_environment",
]


def download_cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The shared download cache folder, created, or None when turned off or unusable.

    ``AUTOMATION_DOWNLOAD_CACHE``: a folder (``~`` expanded), or ``off`` (also ``none``,
    ``no``, ``false``, ``0``); unset: ``$XDG_CACHE_HOME`` or ``~/.cache``, then
    ``registry-automation/downloads``. A folder that cannot be created or written is no cache
    (validation then downloads as before) rather than a failed run.
    """
    source = os.environ if env is None else env
    configured = source.get(DOWNLOAD_CACHE_ENV, "").strip()
    if configured.lower() in OFF_VALUES:
        return None
    if configured:
        folder = Path(configured).expanduser()
    else:
        cache = source.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
        folder = Path(cache) / "registry-automation" / "downloads"
    if not folder.is_absolute():
        folder = folder.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


def container_cache_dir(
    folder: Path | None, engine: str, *, euid: int | None = None
) -> Path | None:
    """The host folder the containers get: ``folder`` itself when a container's root writes
    files the user running the kit owns (podman, rootless or run by root; any engine run by
    root), else a subfolder only the containers use (a rootful engine run by another user)."""
    if folder is None:
        return None
    uid = os.geteuid() if euid is None else euid
    if uid == 0 or os.path.basename(engine) == "podman":
        return folder
    separate = folder / ROOT_OWNED
    try:
        separate.mkdir(exist_ok=True)
    except OSError:
        return None
    return separate


def local_environment(folder: Path | None) -> dict[str, str]:
    """The variable local validation's installer reads (nothing when there is no cache)."""
    return {} if folder is None else {DOWNLOAD_CACHE_ENV: str(folder)}
