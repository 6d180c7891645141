"""When a validation image must be (re)built: content fingerprints stored as an image label.

An image is up to date when its ``org.registry-automation.fingerprint`` label equals the
fingerprint computed now. The fingerprint is a sha256 over:

- the Dockerfile's bytes;
- the base image reference and, for a base bootstrapped into the local engine, its image ID
  (re-bootstrapping the base changes the ID). An upstream base (hosted CI) counts by reference
  only: it is pinned in the Dockerfile, and whether the engine has pulled it yet must not change
  the answer;
- the build arguments other than ``BASE_IMAGE`` (the base is counted above, so passing the
  Dockerfile's default explicitly or not gives the same fingerprint);
- every file a ``COPY``/``ADD`` brings in from the build context: its path in the context, its
  bytes and its executable bit (a directory counts with every file under it; ``.dockerignore`` is
  not applied, which can only cause a spare rebuild, never a missed one).

Everything that ensures an image uses this module: ``build_images`` in validate.py, and
``containers/setup.sh`` / ``make build-images`` through ``python3 -m automation.containers.images``.
It imports only the standard library and the runtime adapter, so the system python3 runs it
(setup.sh runs before the kit's virtualenv exists).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from automation.containers.runtime import (
    Completed,
    ContainerRuntime,
    DockerRuntime,
    EngineError,
    PodmanRuntime,
    detect_runtime,
)
from automation.core.errors import AutomationError, DataError, ExitCode, UsageError

FINGERPRINT_LABEL = "org.registry-automation.fingerprint"
# Part of every fingerprint: changing what is hashed (or how) must bump it, so old labels stop
# matching instead of silently meaning something else.
SCHEME = "registry-automation/image-fingerprint/1"
BASE_ARG = "BASE_IMAGE"

Log = Callable[[str], None]
Status = Literal["current", "missing", "unlabelled", "changed"]


def log_stderr(message: str) -> None:
    """The default log: one line on stderr (stdout stays for reports and the ``check`` answer)."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One image to ensure: where it comes from and the arguments it is built with."""

    name: str  # for messages: the environment id
    tag: str
    dockerfile: Path
    context: Path
    base_image: str
    local: bool  # the base was bootstrapped into this engine (never pulled)
    build_args: tuple[tuple[str, str], ...] = ()


# --- what the build copies in -----------------------------------------------------------------

_COPY = re.compile(r"^(COPY|ADD)\s+(.*)$", re.IGNORECASE | re.DOTALL)
_REMOTE = ("http://", "https://", "git@", "git://")
_GLOB = re.compile(r"[*?\[]")


def _instructions(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, instruction) with continuation lines joined and comments dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by the engines
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        yield start, " ".join(pending)
        pending = []
    if pending:
        yield start, " ".join(pending)


def copy_sources(dockerfile_text: str, *, path: str = "Dockerfile") -> tuple[tuple[int, str], ...]:
    """(line, source) for every context path a ``COPY``/``ADD`` reads (not ``--from`` stages)."""
    found: list[tuple[int, str]] = []
    for line, instruction in _instructions(dockerfile_text):
        match = _COPY.match(instruction)
        if not match:
            continue
        rest = match.group(2).strip()
        if rest.startswith("["):
            try:
                tokens = json.loads(rest)
            except json.JSONDecodeError:
                raise DataError(
                    f"{match.group(1)} has an unreadable JSON form", path=path, where=f"line {line}"
                ) from None
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise DataError(
                    f"{match.group(1)} JSON form must be a list of strings",
                    path=path,
                    where=f"line {line}",
                )
        else:
            tokens = rest.split()
        flags = [t for t in tokens if t.startswith("--")]
        operands = [t for t in tokens if not t.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue  # copies from another stage or image, not from the context
        if any(t.startswith("<<") for t in operands):
            continue  # heredoc: the content is part of the Dockerfile's bytes
        if len(operands) < 2:
            raise DataError(
                f"{match.group(1)} needs a source and a destination",
                path=path,
                where=f"line {line}",
            )
        found.extend((line, source) for source in operands[:-1])
    return tuple(found)


def _context_files(context: Path, source: str, *, path: str, line: int) -> list[tuple[str, Path]]:
    """The files ``source`` names in ``context``, as (path in the context, file)."""
    root = context.resolve()
    relative = source.lstrip("/") or "."  # the engines read "/x" from the context root too
    if _GLOB.search(relative):
        matches = sorted(root.glob(relative))
    else:
        matches = [root / relative] if (root / relative).exists() else []
    if not matches:
        raise DataError(
            f"COPY/ADD source {source!r} is not in the build context {context}",
            path=path,
            where=f"line {line}",
        )
    files: list[tuple[str, Path]] = []
    for match in matches:
        resolved = match.resolve()
        if not resolved.is_relative_to(root):
            raise DataError(
                f"COPY/ADD source {source!r} leaves the build context {context}",
                path=path,
                where=f"line {line}",
            )
        if resolved.is_dir():
            below = sorted(p for p in resolved.rglob("*") if p.is_file())
            files.extend((p.relative_to(root).as_posix(), p) for p in below)
        else:
            files.append((resolved.relative_to(root).as_posix(), resolved))
    return files


# --- the fingerprint --------------------------------------------------------------------------


def compute_fingerprint(
    *,
    dockerfile: bytes,
    base_image: str,
    base_id: str,
    build_args: Iterable[tuple[str, str]],
    files: Iterable[tuple[str, bytes, bool]],
    remote_sources: Iterable[str] = (),
) -> str:
    """``sha256:<hex>`` over every input, each framed by name and length (pure)."""
    digest = hashlib.sha256()

    def part(name: str, value: bytes) -> None:
        digest.update(f"{name}\0{len(value)}\0".encode())
        digest.update(value)

    part("scheme", SCHEME.encode())
    part("dockerfile", dockerfile)
    part("base", base_image.encode())
    part("base-id", base_id.encode())
    for key, value in sorted(a for a in build_args if a[0] != BASE_ARG):
        part(f"arg:{key}", value.encode())
    for name, content, executable in sorted(files):
        part(f"file:{name}:{'x' if executable else '-'}", content)
    for url in sorted(set(remote_sources)):
        part("remote", url.encode())  # not fetched: only a changed URL is noticed
    return "sha256:" + digest.hexdigest()


def fingerprint(spec: ImageSpec, base_id: str = "") -> str:
    """The fingerprint of ``spec`` as its files are now (reads the Dockerfile and the context)."""
    where = str(spec.dockerfile)
    try:
        text = spec.dockerfile.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the Dockerfile: {exc.strerror}", path=where) from None
    files: dict[str, tuple[bytes, bool]] = {}
    remote: list[str] = []
    for line, source in copy_sources(text.decode("utf-8", errors="replace"), path=where):
        if source.startswith(_REMOTE):
            remote.append(source)
            continue
        for name, file in _context_files(spec.context, source, path=where, line=line):
            if name in files:
                continue
            try:
                files[name] = (file.read_bytes(), bool(file.stat().st_mode & stat.S_IXUSR))
            except OSError as exc:
                raise DataError(
                    f"cannot read {name}: {exc.strerror}", path=where, where=f"line {line}"
                ) from None
    return compute_fingerprint(
        dockerfile=text,
        base_image=spec.base_image,
        base_id=base_id if spec.local else "",
        build_args=spec.build_args,
        files=((name, content, x) for name, (content, x) in files.items()),
        remote_sources=remote,
    )


# --- checking and ensuring --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """An image's state against the fingerprint computed now."""

    spec: ImageSpec
    fingerprint: str
    exists: bool
    found: str | None  # the image's label; None when the image or the label is absent
    image_id: str = ""  # the image the tag names now ("" when missing)

    @property
    def status(self) -> Status:
        if not self.exists:
            return "missing"
        if not self.found:
            return "unlabelled"
        return "current" if self.found == self.fingerprint else "changed"

    @property
    def up_to_date(self) -> bool:
        return self.status == "current"

    @property
    def reason(self) -> str:
        """Why the image needs a build (or that it does not), for people."""
        status = self.status
        if status == "missing":
            return "image missing"
        if status == "unlabelled":
            return f"image has no {FINGERPRINT_LABEL} label (built by an older kit)"
        if status == "changed":
            return f"fingerprint changed ({_short(self.found)} -> {_short(self.fingerprint)})"
        return f"up to date ({_short(self.fingerprint)})"


def _short(value: str | None) -> str:
    return (value or "")[:19]  # "sha256:" + 12 hex digits, like an image ID


def check_image(
    runtime: ContainerRuntime, spec: ImageSpec, *, base_id: str | None = None
) -> ImageCheck:
    """Compare ``spec.tag``'s fingerprint label with the fingerprint computed now.

    For a local base, ``base_id`` saves the inspect when the caller already has the ID.
    """
    if spec.local and base_id is None:
        base = runtime.inspect_image(spec.base_image)
        if base is None:
            raise EngineError(
                f"{spec.name}: base image {spec.base_image} is not in {runtime.executable} "
                "(run `make setup-containers`)"
            )
        base_id = base.id
    expected = fingerprint(spec, base_id or "")
    image = runtime.inspect_image(spec.tag)
    found = image.label(FINGERPRINT_LABEL) if image is not None else None
    return ImageCheck(spec, expected, image is not None, found, image.id if image else "")


@dataclass(frozen=True, slots=True)
class Ensured:
    """What :func:`ensure_image` did: nothing (``built`` False) or one build."""

    check: ImageCheck
    built: bool
    reason: str
    completed: Completed | None = None

    @property
    def ok(self) -> bool:
        return self.completed is None or self.completed.ok


def ensure_image(
    runtime: ContainerRuntime,
    spec: ImageSpec,
    *,
    rebuild: bool = False,
    base_id: str | None = None,
    log: Log = log_stderr,
) -> Ensured:
    """Build ``spec.tag`` unless its fingerprint label is current; say why on ``log``."""
    check = check_image(runtime, spec, base_id=base_id)
    if check.up_to_date and not rebuild:
        return Ensured(check, False, check.reason)
    reason = "rebuild requested" if check.up_to_date else check.reason
    log(f"{spec.name}: building {spec.tag}: {reason}")
    done = runtime.build(
        spec.tag,
        spec.dockerfile,
        spec.context,
        build_args=dict(spec.build_args),
        local=spec.local,
        labels={FINGERPRINT_LABEL: check.fingerprint},
    )
    if done.ok:
        log(f"{spec.name}: built {spec.tag} in {done.duration:.1f} s")
        _remove_replaced(runtime, spec.tag, check.image_id)
    else:
        log(f"{spec.name}: build of {spec.tag} FAILED: {done.tail(800)}")
    return Ensured(check, True, reason, done)


def _remove_replaced(runtime: ContainerRuntime, tag: str, old_id: str) -> None:
    """Remove the image ``tag`` named before the build (hundreds of MB) once nothing names it.

    A build that changed nothing keeps the ID (layer cache): that image is the new one. A
    container or another tag still using the old image makes the engine refuse, which is fine.
    """
    if not old_id:
        return
    now = runtime.inspect_image(tag)
    if now is not None and now.id != old_id:
        runtime.runner([runtime.executable, "image", "rm", old_id], timeout=120)


# --- command line (containers/setup.sh, make build-images) ------------------------------------


def runtime_for(engine: str | None) -> ContainerRuntime:
    """The adapter for ``engine`` (podman, docker or a path to either); detected when None."""
    if not engine:
        return detect_runtime()
    if "podman" in os.path.basename(engine):
        return PodmanRuntime(executable=engine)
    return DockerRuntime(executable=engine)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m automation.containers.images",
        description="Ensure a validation image is built from what its fingerprint covers.",
    )
    parser.add_argument(
        "command",
        choices=("check", "ensure"),
        help="check: print the label to build with when a build is needed (nothing when up to "
        "date); ensure: build when needed",
    )
    parser.add_argument("--tag", required=True)
    parser.add_argument("--dockerfile", "-f", required=True, type=Path)
    parser.add_argument("--context", required=True, type=Path)
    parser.add_argument("--base", required=True, help="the BASE_IMAGE reference")
    parser.add_argument(
        "--local", action="store_true", help="the base was bootstrapped into this engine"
    )
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--engine", default=None, help="podman or docker (default: detected)")
    parser.add_argument("--name", default=None, help="name used in messages (environment id)")
    parser.add_argument("--rebuild", action="store_true", help="build even when up to date")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the image is (or, for ``check``, can be made) current; messages on stderr."""
    args = _parser().parse_args(argv)
    try:
        pairs = [tuple(a.split("=", 1)) for a in args.build_arg]
        if any(len(p) != 2 for p in pairs):
            raise UsageError("--build-arg takes KEY=VALUE")
        spec = ImageSpec(
            name=args.name or args.tag,
            tag=args.tag,
            dockerfile=args.dockerfile,
            context=args.context,
            base_image=args.base,
            local=args.local,
            build_args=((BASE_ARG, args.base), *((k, v) for k, v in pairs if k != BASE_ARG)),
        )
        runtime = runtime_for(args.engine)
        if args.command == "check":
            check = check_image(runtime, spec)
            if check.up_to_date and not args.rebuild:
                log_stderr(f"{spec.name}: {spec.tag} {check.reason}")
            else:
                reason = "rebuild requested" if check.up_to_date else check.reason
                log_stderr(f"{spec.name}: {spec.tag} needs a build: {reason}")
                print(f"{FINGERPRINT_LABEL}={check.fingerprint}")
            return int(ExitCode.OK)
        ensured = ensure_image(runtime, spec, rebuild=args.rebuild)
        if not ensured.built:
            log_stderr(f"{spec.name}: {spec.tag} {ensured.reason}")
        return int(ExitCode.OK if ensured.ok else ExitCode.STOPPED)
    except AutomationError as exc:
        log_stderr(f"error: {exc}")
        return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
