"""The validation environments, declared once in ``data/environments.json``.

Each environment is one Linux distribution image that recipes are installed and run in. Some can
be bootstrapped locally from Debian/Ubuntu mirrors; the others (Fedora, Alpine, Arch, openSUSE)
only run on hosted CI, where their pinned upstream images can be pulled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core.errors import DataError, UsageError
from automation.core.jsondata import read_json
from automation.core.layout import REPOSITORY_ROOT
from automation.core.schemas import check

ENVIRONMENTS_FILE = REPOSITORY_ROOT / "data" / "environments.json"
CONTAINERS_DIR = REPOSITORY_ROOT / "containers"
DEFAULT_LOCAL_ENVIRONMENTS = ("debian-12", "ubuntu-24.04")
IMAGE_PREFIX = "localhost/registry-automation"

# Go architecture names used by recipe constraints and `when` clauses.
GO_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


@dataclass(frozen=True, slots=True)
class LocalBootstrap:
    """How to build the base image from package mirrors with mmdebstrap."""

    variant: str
    suite: str
    mirror: str
    components: tuple[str, ...]
    sources: tuple[str, ...]
    include: tuple[str, ...]
    keyring: str | None
    image: str


@dataclass(frozen=True, slots=True)
class Environment:
    """One validation environment (a distribution release on one architecture)."""

    id: str
    distribution: str
    version: str
    platform: str
    family: str
    libc: str
    arch: str
    package_manager: str
    python: str
    base_image: str
    local_bootstrap: LocalBootstrap | None
    hosted_only: bool
    notes: str = ""

    @property
    def go_arch(self) -> str:
        return GO_ARCH[self.arch]

    @property
    def dockerfile(self) -> Path:
        return CONTAINERS_DIR / self.id / "Dockerfile"

    @property
    def image(self) -> str:
        """Tag of the validation image built from ``containers/<id>/Dockerfile``."""
        return f"{IMAGE_PREFIX}/{self.id}:latest"

    def base_image_for(self, *, local: bool) -> str:
        """The ``BASE_IMAGE`` build argument: the bootstrapped image here, upstream on hosted CI."""
        if local:
            if self.local_bootstrap is None:
                raise UsageError(
                    f"{self.id} has no local bootstrap: it can only be built where "
                    f"{self.base_image} can be pulled (hosted CI)"
                )
            return self.local_bootstrap.image
        return self.base_image


def _environment(raw: dict[str, Any]) -> Environment:
    boot = raw.get("local_bootstrap")
    return Environment(
        id=raw["id"],
        distribution=raw["distribution"],
        version=raw["version"],
        platform=raw["platform"],
        family=raw["family"],
        libc=raw["libc"],
        arch=raw["arch"],
        package_manager=raw["package_manager"],
        python=raw["python"],
        base_image=raw["base_image"],
        local_bootstrap=None
        if boot is None
        else LocalBootstrap(
            variant=boot["variant"],
            suite=boot["suite"],
            mirror=boot["mirror"],
            components=tuple(boot["components"]),
            sources=tuple(boot["sources"]),
            include=tuple(boot["include"]),
            keyring=boot["keyring"],
            image=boot["image"],
        ),
        hosted_only=raw["hosted_only"],
        notes=raw.get("notes", ""),
    )


def parse_environments(
    document: Any, *, path: str = "data/environments.json"
) -> tuple[Environment, ...]:
    """Check ``document`` against the schema and the cross-field rules, then build the values."""
    problems = check(document, "environments", path=path)
    if problems:
        raise DataError("; ".join(f"{p.where}: {p.message}" for p in problems), path=path)
    envs = tuple(_environment(raw) for raw in document["environments"])
    seen: set[str] = set()
    for index, env in enumerate(envs):
        where = f"environments[{index}]"
        if env.id in seen:
            raise DataError(f"duplicate environment id {env.id!r}", path=path, where=where)
        seen.add(env.id)
        expected = f"linux-{env.family}-{env.libc}-{env.arch}"
        if env.platform != expected:
            raise DataError(
                f"platform {env.platform!r} disagrees with family/libc/arch ({expected})",
                path=path,
                where=f"{where}.platform",
            )
        if (env.libc == "musl") != (env.family == "alpine"):
            raise DataError("only the alpine family uses musl", path=path, where=f"{where}.libc")
    return envs


def load_environments(path: Path = ENVIRONMENTS_FILE) -> tuple[Environment, ...]:
    """All environments from ``data/environments.json`` (raises DataError naming the field)."""
    document, problem = read_json(path, str(path))  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(
            f"cannot read environments: {problem.message}", path=str(path), where=problem.where
        )
    return parse_environments(document, path=str(path))


def select_environments(
    ids: Iterable[str], environments: tuple[Environment, ...] | None = None
) -> tuple[Environment, ...]:
    """The environments named by ``ids`` in the order given (UsageError for an unknown id)."""
    envs = environments if environments is not None else load_environments()
    by_id = {env.id: env for env in envs}
    chosen = []
    for env_id in ids:
        if env_id not in by_id:
            raise UsageError(f"unknown environment {env_id!r}; known: {', '.join(by_id)}")
        chosen.append(by_id[env_id])
    return tuple(chosen)
