"""A small container-engine adapter: build, run, exec, copy in, remove — podman or Docker.

Every process goes through one injectable ``Runner`` so unit tests record commands instead of
starting containers. ``container()`` is the only way the kit starts a long-lived container, and it
removes it on every exit path, KeyboardInterrupt included.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from automation.core.errors import AutomationError, ExitCode
from automation.core.process import run_process

DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Mounted beside, not over, the image's own store: the image stays as built and the tools that
# only read their own variable still find the host bundle.
CONTAINER_CA_PATH = "/run/registry-automation/ca-bundle.crt"
CA_ENV_VARS = (
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
CONTAINER_LABEL = "io.registry-automation.validation=1"
# Both engines answer this template; `json` keeps labels with spaces or quotes intact.
INSPECT_FORMAT = "{{.Id}} {{json .Config.Labels}}"


class EngineError(AutomationError):
    """The container engine is missing, not working, or refused an operation."""

    exit_code = ExitCode.STOPPED


@dataclass(frozen=True, slots=True)
class Completed:
    """What one process did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, limit: int = 2000) -> str:
        text = self.stderr.strip() or self.stdout.strip()
        return text[-limit:]


class Runner(Protocol):
    """Runs one command; never raises for a non-zero exit or a timeout."""

    def __call__(self, args: Sequence[str], *, timeout: float | None = None) -> Completed: ...


def subprocess_runner(args: Sequence[str], *, timeout: float | None = None) -> Completed:
    """The real runner: the kit's one process runner, streams apart, timeouts as ``timed_out``."""
    done = run_process(args, None, None, timeout, merge_stderr=False)
    if done.missing:  # the engine itself is not installed: its error text is on "stderr"
        return Completed(done.argv, done.exit_code, "", done.output, done.duration)
    return Completed(
        done.argv, done.exit_code, done.output, done.stderr, done.duration, done.timed_out
    )


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the engine knows about one local image: its ID and its labels."""

    id: str
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


def parse_image_inspect(stdout: str) -> ImageInfo:
    """Parse ``image inspect --format INSPECT_FORMAT`` output (labels may be ``null``)."""
    image_id, _, rest = stdout.strip().partition(" ")
    try:
        raw = json.loads(rest) if rest.strip() else None
    except json.JSONDecodeError:
        raw = None  # unreadable labels count as none: the image gets rebuilt, never trusted
    labels = raw if isinstance(raw, dict) else {}
    return ImageInfo(image_id, tuple(sorted((str(k), str(v)) for k, v in labels.items())))


@dataclass(frozen=True, slots=True)
class Mount:
    source: str
    target: str
    read_only: bool = True

    def flag(self) -> str:
        return f"{self.source}:{self.target}" + (":ro" if self.read_only else "")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Per-container options; none of them changes the image."""

    env: tuple[tuple[str, str], ...] = ()
    mounts: tuple[Mount, ...] = ()
    memory: str | None = "2g"
    cpus: float | None = 1.0
    pids_limit: int | None = 4096
    network: str | None = None  # engine default; "none" cuts the network
    labels: tuple[str, ...] = (CONTAINER_LABEL,)

    def with_mount(self, mount: Mount) -> RunOptions:
        """These options plus one more bind mount (a target mounted twice is refused)."""
        if any(m.target == mount.target for m in self.mounts):
            raise ValueError(f"{mount.target} is mounted already")
        return dataclasses.replace(self, mounts=(*self.mounts, mount))

    def with_ca_bundle(self, bundle: Path = DEFAULT_CA_BUNDLE) -> RunOptions:
        """Bind-mount the host CA bundle read-only and point every TLS client at it."""
        env = dict(self.env)
        env.update({name: CONTAINER_CA_PATH for name in CA_ENV_VARS})
        mounts = (*self.mounts, Mount(str(bundle), CONTAINER_CA_PATH, read_only=True))
        return RunOptions(
            env=tuple(env.items()),
            mounts=mounts,
            memory=self.memory,
            cpus=self.cpus,
            pids_limit=self.pids_limit,
            network=self.network,
            labels=self.labels,
        )


@dataclass
class ContainerRuntime:
    """Base adapter; the subclasses only differ where the two engines' command lines do."""

    runner: Runner = field(default=subprocess_runner)
    executable: str = ""
    default_network: str = ""

    # -- images -------------------------------------------------------------------------------
    def image_exists(self, image: str) -> bool:
        return self.runner([self.executable, "image", "inspect", image], timeout=60).ok

    def inspect_image(self, image: str) -> ImageInfo | None:
        """The image's ID and labels, or None when the engine does not have it."""
        # The image name stays right after `inspect` (flags after it work in both engines).
        done = self.runner(
            [self.executable, "image", "inspect", image, "--format", INSPECT_FORMAT], timeout=60
        )
        return parse_image_inspect(done.stdout) if done.ok else None

    def build_args(
        self,
        tag: str,
        dockerfile: Path,
        context: Path,
        build_args: Mapping[str, str],
        local: bool,
        labels: Mapping[str, str] | None = None,
    ) -> list[str]:
        args = [self.executable, "build", "-t", tag, "-f", str(dockerfile)]
        for key, value in build_args.items():
            args += ["--build-arg", f"{key}={value}"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        return [*args, *self._build_pull_flags(local), str(context)]

    def _build_pull_flags(self, local: bool) -> list[str]:
        return []

    def build(
        self,
        tag: str,
        dockerfile: Path,
        context: Path,
        *,
        build_args: Mapping[str, str] | None = None,
        local: bool = True,
        labels: Mapping[str, str] | None = None,
        timeout: float | None = 3600,
    ) -> Completed:
        """Build ``tag``; with ``local`` the engine must not reach for a registry."""
        return self.runner(
            self.build_args(tag, dockerfile, context, build_args or {}, local, labels),
            timeout=timeout,
        )

    # -- containers ---------------------------------------------------------------------------
    def run_args(
        self,
        image: str,
        command: Sequence[str],
        options: RunOptions,
        *,
        name: str | None = None,
        detach: bool = False,
        remove: bool = True,
    ) -> list[str]:
        args = [self.executable, "run", "--pull=never"]
        if detach:
            args.append("-d")
        if remove and not detach:
            args.append("--rm")
        if name:
            args += ["--name", name]
        for label in options.labels:
            args += ["--label", label]
        if options.network:
            args += ["--network", options.network]
        if options.memory:
            args += ["--memory", options.memory]
        if options.cpus:
            args += ["--cpus", f"{options.cpus:g}"]
        if options.pids_limit:
            args += ["--pids-limit", str(options.pids_limit)]
        for mount in options.mounts:
            args += ["-v", mount.flag()]
        for key, value in options.env:
            args += ["-e", f"{key}={value}"]
        return [*args, image, *command]

    def run(
        self,
        image: str,
        command: Sequence[str],
        options: RunOptions | None = None,
        *,
        name: str | None = None,
        detach: bool = False,
        remove: bool = True,
        timeout: float | None = None,
    ) -> Completed:
        args = self.run_args(
            image, command, options or RunOptions(), name=name, detach=detach, remove=remove
        )
        return self.runner(args, timeout=timeout)

    def exec(
        self,
        container: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        args = [self.executable, "exec"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        if workdir:
            args += ["-w", workdir]
        return self.runner([*args, container, *command], timeout=timeout)

    def copy_in(self, container: str, source: Path, target: str) -> Completed:
        return self.runner(
            [self.executable, "cp", str(source), f"{container}:{target}"], timeout=120
        )

    def remove(self, container: str) -> Completed:
        return self.runner([self.executable, "rm", "-f", container], timeout=120)

    def disconnect_network(self, container: str) -> Completed:
        """Cut a running container off the network (loopback stays)."""
        return self.runner(
            [self.executable, "network", "disconnect", self.default_network, container], timeout=60
        )

    def available(self) -> Completed:
        return self.runner([self.executable, "info"], timeout=60)


@dataclass
class PodmanRuntime(ContainerRuntime):
    executable: str = "podman"
    default_network: str = "podman"

    def _build_pull_flags(self, local: bool) -> list[str]:
        # An unqualified or missing base falls through to docker.io otherwise.
        return ["--pull=never"] if local else []

    def remove(self, container: str) -> Completed:
        # -t 0: the keep-alive process gets SIGKILL at once instead of a 10 s grace period.
        return self.runner([self.executable, "rm", "-f", "-t", "0", container], timeout=120)


@dataclass
class DockerRuntime(ContainerRuntime):
    executable: str = "docker"
    default_network: str = "bridge"


def detect_runtime(
    runner: Runner = subprocess_runner, prefer: str | None = None
) -> ContainerRuntime:
    """The first engine that answers ``info`` (podman first unless ``prefer`` says otherwise)."""
    candidates: list[ContainerRuntime] = [PodmanRuntime(runner), DockerRuntime(runner)]
    if prefer:
        candidates = [c for c in candidates if c.executable == prefer]
        if not candidates:
            raise EngineError(f"unknown container engine {prefer!r} (podman or docker)")
    reasons = []
    for candidate in candidates:
        if runner is subprocess_runner and shutil.which(candidate.executable) is None:
            reasons.append(f"{candidate.executable}: not installed")
            continue
        probe = candidate.available()
        if probe.ok:
            return candidate
        reasons.append(f"{candidate.executable}: {probe.tail(300) or 'info failed'}")
    raise EngineError(
        "no working container engine (" + "; ".join(reasons) + "); run `make setup-containers`"
    )


KEEP_ALIVE = ("tail", "-f", "/dev/null")


def new_container_name(*parts: str) -> str:
    safe = "-".join(p.replace("/", "-").replace("@", "-") for p in parts if p)
    return f"ra-{safe}-{uuid.uuid4().hex[:8]}"[:120]


@contextlib.contextmanager
def container(
    runtime: ContainerRuntime,
    image: str,
    options: RunOptions | None = None,
    *,
    name: str | None = None,
    start_timeout: float = 120,
    clear_before_removal: Sequence[str] = (),
) -> Iterator[str]:
    """Start a detached container that idles, yield its name, and always remove it.

    ``clear_before_removal``: folders (bind mounts) whose contents the container deletes before
    it is removed, for a host user who cannot delete what the container's root wrote there."""
    name = name or new_container_name("c")
    started: Completed | None = None
    try:
        started = runtime.run(
            image, KEEP_ALIVE, options, name=name, detach=True, timeout=start_timeout
        )
        if not started.ok:
            raise EngineError(f"could not start a container from {image}: {started.tail(500)}")
        yield name
    finally:
        if clear_before_removal and started is not None and started.ok:
            command = ["find", *clear_before_removal, "-mindepth", "1", "-delete"]
            with contextlib.suppress(Exception):
                runtime.exec(name, command, timeout=120)
        _remove_always(runtime, name)


def _remove_always(runtime: ContainerRuntime, name: str) -> None:
    # A second Ctrl-C while removing must not leave the container behind: finish, then re-raise.
    try:
        runtime.remove(name)
    except KeyboardInterrupt:
        runtime.remove(name)
        raise
