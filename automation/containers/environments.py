"""The validation environments, declared once in ``data/environments.json``.

A *container* environment is one Linux distribution image that recipes are installed and run in.
Some can be bootstrapped locally from Debian/Ubuntu mirrors; the others (Fedora, Alpine, Arch,
openSUSE) only run on hosted CI, where their pinned upstream images can be pulled. An arm64
environment (``debian-12-arm64``, platform ``linux-debian-glibc-arm64``) builds its x86_64 twin's
Dockerfile (``dockerfile``) on an arm64 runner: the pinned base is a multi-arch index, so the same
pin resolves to the runner's architecture; its image is tagged with its own id.

A *native* environment (``darwin-arm64`` on macos-14, ``darwin-x86_64`` on macos-13) has no image:
the kit's installer runs on the runner itself, as local validation does, and its result lines carry
the environment's id and platform (:func:`check_native_host`).
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

CONTAINER = "container"
NATIVE = "native"
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
    kind: str = CONTAINER  # container | native (no image: the installer runs on the runner)
    runner: str = ""  # the GitHub Actions runner label of its hosted job
    dockerfile_dir: str = ""  # containers/<dir>/Dockerfile; default: the id

    @property
    def go_arch(self) -> str:
        return GO_ARCH[self.arch]

    @property
    def native(self) -> bool:
        return self.kind == NATIVE

    @property
    def dockerfile(self) -> Path:
        if self.native:
            raise UsageError(f"{self.id} is a native environment: it has no Dockerfile")
        return CONTAINERS_DIR / (self.dockerfile_dir or self.id) / "Dockerfile"

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


def _native(raw: dict[str, Any]) -> Environment:
    return Environment(
        id=raw["id"],
        distribution=raw["distribution"],
        version=raw["version"],
        platform=raw["platform"],
        family="",
        libc="",
        arch=raw["arch"],
        package_manager="",
        python=raw["python"],
        base_image="",
        local_bootstrap=None,
        hosted_only=True,
        notes=raw.get("notes", ""),
        kind=NATIVE,
        runner=raw["runner"],
    )


def _environment(raw: dict[str, Any]) -> Environment:
    if raw.get("kind") == NATIVE:
        return _native(raw)
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
        runner=raw.get("runner", ""),
        dockerfile_dir=raw.get("dockerfile", ""),
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
        expected = (
            f"darwin-{env.arch}" if env.native else f"linux-{env.family}-{env.libc}-{env.arch}"
        )
        if env.platform != expected:
            raise DataError(
                f"platform {env.platform!r} disagrees with family/libc/arch ({expected})",
                path=path,
                where=f"{where}.platform",
            )
        if not env.native and (env.libc == "musl") != (env.family == "alpine"):
            raise DataError("only the alpine family uses musl", path=path, where=f"{where}.libc")
    return envs


def load_environments(
    path: Path = ENVIRONMENTS_FILE, *, native: bool = False
) -> tuple[Environment, ...]:
    """The container environments from ``data/environments.json`` (raises DataError naming the
    field); with ``native``, the native ones (macOS runners) too."""
    document, problem = read_json(path, str(path))  # bounded: nesting and integers (jsondata)
    if problem is not None:
        raise DataError(
            f"cannot read environments: {problem.message}", path=str(path), where=problem.where
        )
    envs = parse_environments(document, path=str(path))
    return envs if native else tuple(env for env in envs if not env.native)


def select_environments(
    ids: Iterable[str], environments: tuple[Environment, ...] | None = None
) -> tuple[Environment, ...]:
    """The environments named by ``ids`` in the order given (UsageError for an unknown id)."""
    envs = environments if environments is not None else load_environments()
    by_id = {env.id: env for env in envs}
    chosen = []
    for env_id in ids:
        if env_id not in by_id:
            if environments is None and native_environment(env_id) is not None:
                raise UsageError(
                    f"{env_id} is a native environment, not a container: validate it alone "
                    f"on its runner (invoke validate --env {env_id} --batch-id ...)"
                )
            raise UsageError(f"unknown environment {env_id!r}; known: {', '.join(by_id)}")
        chosen.append(by_id[env_id])
    return tuple(chosen)


def native_environment(
    env_id: str, environments: tuple[Environment, ...] | None = None
) -> Environment | None:
    """The native environment ``env_id`` names; None for any other id (container, local)."""
    envs = environments if environments is not None else load_environments(native=True)
    return next((env for env in envs if env.id == env_id and env.native), None)


def check_native_host(env: Environment, host: str) -> None:
    """A native environment validates only on a host of its platform (UsageError otherwise):
    a darwin-arm64 verdict recorded on a Linux machine would be a lie."""
    if host != env.platform:
        raise UsageError(
            f"{env.id} is validated natively on a {env.platform} runner ({env.runner}); "
            f"this machine is {host}"
        )
