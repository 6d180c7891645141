"""Batch manifests (``data/batches/<batch_id>.json``): what a batch changed, for exact rollback.

Before a batch writes, creates or deletes a file it calls ``record_file_before`` (the first call for
a path wins, so the manifest keeps the state from before the batch); after writing it calls
``record_file_after``. Queue entries are recorded before/after as full 8-key objects. Rolling back
means writing every ``FileChange.before_bytes()`` back (or deleting files that were absent).

Typical use::

    m = new_manifest("2026-06-26-001", ["pypi"])
    m = record_file_before(m, layout, "recipes/b/black.toml")
    ... write the recipe ...
    m = record_file_after(m, layout, "recipes/b/black.toml")
    save_manifest(layout, m)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from automation.core import schemas
from automation.core.atomic import atomic_write_bytes, atomic_write_json
from automation.core.errors import DataError, UnsafeNameError
from automation.core.jsondata import loads, read_text
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name
from automation.core.report import Problem
from automation.core.timefmt import format_timestamp, now, parse_timestamp
from automation.registry.queue import QueueEntry

ManifestStatus = Literal["in_progress", "merged", "rolled_back"]
FileKind = Literal[
    "recipe",
    "queue",
    "failures",
    "results",
    "metrics",
    "control",
    "disambiguation",
    "batch_summary",
    "other",
]
Action = Literal["pending", "created", "modified", "deleted", "unchanged"]
STATUSES: tuple[ManifestStatus, ...] = ("in_progress", "merged", "rolled_back")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class FileState:
    """A file's state at one moment: absent, or present with its digest (and maybe its bytes).

    ``content`` is kept for "before" states (to restore them) and omitted for "after" states.
    """

    exists: bool
    sha256: str | None = None
    size: int | None = None
    encoding: Literal["text", "base64"] | None = None
    content: str | None = None

    @classmethod
    def absent(cls) -> FileState:
        return cls(exists=False)

    @classmethod
    def of_bytes(cls, data: bytes, *, keep_content: bool) -> FileState:
        """Snapshot ``data``: UTF-8 text stays readable in the manifest, other bytes are base64."""
        if not keep_content:
            return cls(True, _sha256(data), len(data))
        try:
            return cls(True, _sha256(data), len(data), "text", data.decode("utf-8"))
        except UnicodeDecodeError:
            encoded = base64.b64encode(data).decode("ascii")
            return cls(True, _sha256(data), len(data), "base64", encoded)

    def data(self) -> bytes | None:
        """The recorded bytes (None when absent); raises DataError if they do not match sha256."""
        if not self.exists:
            return None
        if self.content is None or self.encoding is None:
            raise DataError("this file state records a digest only, not the content")
        if self.encoding == "text":
            raw = self.content.encode("utf-8")
        else:
            try:
                raw = base64.b64decode(self.content, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise DataError(f"recorded content is not valid base64: {exc}") from None
        if _sha256(raw) != self.sha256 or len(raw) != self.size:
            raise DataError("recorded content does not match its sha256/size")
        return raw

    def to_json(self) -> dict[str, Any]:
        if not self.exists:
            return {"state": "absent"}
        out: dict[str, Any] = {"state": "present"}
        if self.encoding is not None:
            out["encoding"] = self.encoding
            out["content"] = self.content
        out["sha256"] = self.sha256
        out["size"] = self.size
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FileState:
        if doc["state"] == "absent":
            return cls.absent()
        return cls(True, doc["sha256"], doc["size"], doc.get("encoding"), doc.get("content"))


def kind_of(rel_path: str) -> FileKind:
    """What a registry path is, from its place (the categories rollback and reports use)."""
    parts = PurePosixPath(rel_path).parts
    if parts and parts[0] == "recipes":
        return "recipe"
    if parts == ("batch-control.json",):
        return "control"
    if len(parts) >= 2 and parts[0] == "data":
        if parts[1] == "queues":
            return "batch_summary" if parts[-1] == "batch-results.json" else "queue"
        mapping: dict[str, FileKind] = {
            "failures": "failures",
            "results": "results",
            "metrics": "metrics",
            "disambiguations": "disambiguation",
        }
        return mapping.get(parts[1], "other")
    return "other"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file a batch touched: its full previous state and (once recorded) its new digest."""

    path: str  # root-relative POSIX path
    kind: FileKind
    before: FileState
    after: FileState | None = None  # None until record_file_after

    @property
    def action(self) -> Action:
        if self.after is None:
            return "pending"
        if not self.before.exists:
            return "created" if self.after.exists else "unchanged"
        if not self.after.exists:
            return "deleted"
        return "unchanged" if self.after.sha256 == self.before.sha256 else "modified"

    def before_bytes(self) -> bytes | None:
        """The bytes to restore on rollback; None means "delete the file"."""
        try:
            return self.before.data()
        except DataError as exc:
            raise DataError(exc.detail, path=self.path, where="before") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "action": self.action,
            "before": self.before.to_json(),
            "after": None if self.after is None else self.after.to_json(),
        }


@dataclass(frozen=True, slots=True)
class QueueChange:
    """One queue entry before and after the batch (None: not in the queue at that moment)."""

    name: str
    before: QueueEntry | None
    after: QueueEntry | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "before": None if self.before is None else self.before.to_json(),
            "after": None if self.after is None else self.after.to_json(),
        }


@dataclass(frozen=True, slots=True)
class BatchManifest:
    """Everything one batch changed. Immutable: the ``record_*`` functions return new values."""

    batch_id: str
    created_at: str
    updated_at: str
    status: ManifestStatus
    ecosystems: tuple[str, ...]
    files: tuple[FileChange, ...] = ()
    queue_changes: tuple[QueueChange, ...] = ()

    def file(self, rel_path: str) -> FileChange | None:
        for change in self.files:
            if change.path == rel_path:
                return change
        return None

    def paths_of_kind(self, kind: FileKind) -> list[str]:
        return [c.path for c in self.files if c.kind == kind]

    @property
    def results_files(self) -> list[str]:
        return self.paths_of_kind("results")

    @property
    def failure_files(self) -> list[str]:
        return self.paths_of_kind("failures")

    @property
    def metrics_files(self) -> list[str]:
        return self.paths_of_kind("metrics")

    def with_status(self, status: ManifestStatus) -> BatchManifest:
        if status not in STATUSES:
            raise DataError(f"unknown manifest status {status!r}")
        return replace(self, status=status)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "batch_id": self.batch_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            "ecosystems": list(self.ecosystems),
            "files": [c.to_json() for c in self.files],
            "queue_changes": [q.to_json() for q in self.queue_changes],
            "results_files": self.results_files,
            "failure_files": self.failure_files,
            "metrics_files": self.metrics_files,
        }


def new_manifest(batch_id: str, ecosystems: list[str] | tuple[str, ...] = ()) -> BatchManifest:
    """An empty ``in_progress`` manifest (the batch id must be a safe name)."""
    stamp = format_timestamp(now())
    return BatchManifest(
        batch_id=check_recipe_name(batch_id),
        created_at=stamp,
        updated_at=stamp,
        status="in_progress",
        ecosystems=tuple(dict.fromkeys(ecosystems)),
    )


def safe_rel_path(layout: RegistryLayout, rel_path: str) -> tuple[str, Path]:
    """Check a root-relative path and return ``(posix form, absolute path)``.

    Raises UnsafeNameError for absolute paths, backslashes, ``.``/``..`` parts or a path that
    resolves (through symlinks) outside the registry root.
    """
    if not isinstance(rel_path, str) or not rel_path or "\\" in rel_path or "\x00" in rel_path:
        raise UnsafeNameError(f"unsafe registry path {rel_path!r}")
    pure = PurePosixPath(rel_path)
    if pure.is_absolute() or any(part in (".", "..") for part in rel_path.split("/")):
        raise UnsafeNameError(f"unsafe registry path {rel_path!r}: must be relative, without '..'")
    root = layout.root.resolve()
    absolute = root.joinpath(*pure.parts)
    resolved = absolute.resolve()
    if resolved != root and root not in resolved.parents:
        raise UnsafeNameError(f"registry path {rel_path!r} resolves outside the registry")
    return pure.as_posix(), absolute


def _snapshot(path: Path, *, keep_content: bool) -> FileState:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return FileState.absent()
    except IsADirectoryError:
        raise DataError("is a directory, not a file", path=str(path)) from None
    return FileState.of_bytes(data, keep_content=keep_content)


def record_file_before(
    manifest: BatchManifest, layout: RegistryLayout, rel_path: str, *, kind: FileKind | None = None
) -> BatchManifest:
    """Snapshot a file before the batch touches it (idempotent: the first snapshot is kept)."""
    rel, absolute = safe_rel_path(layout, rel_path)
    if manifest.file(rel) is not None:
        return manifest
    change = FileChange(rel, kind or kind_of(rel), _snapshot(absolute, keep_content=True))
    return replace(manifest, files=(*manifest.files, change))


def record_file_after(
    manifest: BatchManifest, layout: RegistryLayout, rel_path: str
) -> BatchManifest:
    """Record the digest of a file after the batch wrote or deleted it.

    Raises DataError if its previous state was never recorded (rollback could not restore it).
    """
    rel, absolute = safe_rel_path(layout, rel_path)
    change = manifest.file(rel)
    if change is None:
        raise DataError("record_file_before was not called for this file", path=rel)
    updated = replace(change, after=_snapshot(absolute, keep_content=False))
    return replace(manifest, files=tuple(updated if c.path == rel else c for c in manifest.files))


def record_queue_change(
    manifest: BatchManifest, before: QueueEntry | None, after: QueueEntry | None
) -> BatchManifest:
    """Record a queue entry's transition; repeated calls keep the first ``before``."""
    entry = before or after
    if entry is None:
        raise DataError("a queue change needs a before or an after entry")
    key = entry.name.lower()
    changes = list(manifest.queue_changes)
    for index, existing in enumerate(changes):
        if existing.name.lower() == key:
            changes[index] = replace(existing, after=after)
            return replace(manifest, queue_changes=tuple(changes))
    changes.append(QueueChange(entry.name, before, after))
    return replace(manifest, queue_changes=tuple(changes))


# --- reading and writing --------------------------------------------------------------------


def _entry(doc: dict[str, Any] | None) -> QueueEntry | None:
    if doc is None:
        return None
    return QueueEntry(
        name=doc["name"],
        source=doc["source"],
        priority=doc["priority"],
        status=doc["status"],
        confidence=doc["confidence"],
        disambiguated_at=doc["disambiguated_at"],
        failure_count=doc["failure_count"],
        next_retry_at=doc["next_retry_at"],
    )


def _from_json(doc: dict[str, Any]) -> BatchManifest:
    return BatchManifest(
        batch_id=doc["batch_id"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        status=doc["status"],
        ecosystems=tuple(doc["ecosystems"]),
        files=tuple(
            FileChange(
                path=f["path"],
                kind=f["kind"],
                before=FileState.from_json(f["before"]),
                after=None if f["after"] is None else FileState.from_json(f["after"]),
            )
            for f in doc["files"]
        ),
        queue_changes=tuple(
            QueueChange(q["name"], _entry(q["before"]), _entry(q["after"]))
            for q in doc["queue_changes"]
        ),
    )


@dataclass
class ManifestScan:
    manifest: BatchManifest | None = None
    problems: list[Problem] = field(default_factory=list)


def _semantic_problems(doc: dict[str, Any], manifest: BatchManifest, rel: str) -> list[Problem]:
    problems: list[Problem] = []
    for name in ("created_at", "updated_at"):
        try:
            parse_timestamp(doc[name])
        except ValueError as exc:
            problems.append(Problem(rel, name, str(exc)))
    seen: set[str] = set()
    for index, change in enumerate(manifest.files):
        where = f"files[{index}]"
        if change.path in seen:
            problems.append(Problem(rel, f"{where}.path", f"{change.path!r} is recorded twice"))
        seen.add(change.path)
        try:
            change.before_bytes()
        except DataError as exc:
            problems.append(Problem(rel, f"{where}.before", exc.detail))
        if doc["files"][index]["action"] != change.action:
            problems.append(
                Problem(
                    rel,
                    f"{where}.action",
                    f"says {doc['files'][index]['action']!r}, before/after say {change.action!r}",
                )
            )
    for key in ("results_files", "failure_files", "metrics_files"):
        derived = getattr(manifest, key)
        if doc[key] != derived:
            problems.append(
                Problem(
                    rel,
                    key,
                    f"does not match the {key.split('_')[0]} entries of files[]",
                    "warning",
                )
            )
    names: set[str] = set()
    for index, queued in enumerate(manifest.queue_changes):
        key = queued.name.lower()
        if key in names:
            problems.append(Problem(rel, f"queue_changes[{index}].name", f"{queued.name!r} twice"))
        names.add(key)
        for side in (queued.before, queued.after):
            if side is not None and side.name.lower() != key:
                problems.append(
                    Problem(
                        rel, f"queue_changes[{index}]", f"entry {side.name!r} under {queued.name!r}"
                    )
                )
    return problems


def parse_manifest(document: Any, rel: str, *, batch_id: str | None = None) -> ManifestScan:
    """Validate a decoded manifest: schema, content digests, derived fields, file name."""
    problems = schemas.check(document, "batch-manifest", path=rel)
    if problems:
        return ManifestScan(problems=problems)
    manifest = _from_json(document)
    scan = ManifestScan(manifest, _semantic_problems(document, manifest, rel))
    if batch_id is not None and manifest.batch_id != batch_id:
        scan.problems.append(
            Problem(rel, "batch_id", f"{manifest.batch_id!r} in the manifest file of {batch_id!r}")
        )
    return scan


def read_manifest_file(path: Path, *, rel: str | None = None) -> ManifestScan:
    """Read one ``data/batches/<batch_id>.json``; every problem names its field."""
    rel = rel or str(path)
    text, problem = read_text(path, rel)
    if text is None:
        return ManifestScan(problems=[problem] if problem else [])
    document, problem = loads(text, rel)
    if problem is not None:
        return ManifestScan(problems=[problem])
    return parse_manifest(document, rel, batch_id=path.name.removesuffix(".json"))


def manifest_files(layout: RegistryLayout) -> list[Path]:
    return sorted(layout.batches_dir.glob("*.json")) if layout.batches_dir.is_dir() else []


def load_manifest(layout: RegistryLayout, batch_id: str) -> BatchManifest:
    """Read a batch's manifest for a task that acts on it: any error raises DataError."""
    path = layout.batch_manifest(batch_id)
    rel = str(path.relative_to(layout.root))
    if not path.exists():
        raise DataError(f"no manifest for batch {batch_id!r}", path=rel)
    scan = read_manifest_file(path, rel=rel)
    errors = [p for p in scan.problems if p.severity == "error"]
    if errors or scan.manifest is None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DataError(f"{first.message}{more}", path=rel, where=first.where)
    return scan.manifest


def save_manifest(layout: RegistryLayout, manifest: BatchManifest) -> BatchManifest:
    """Write the manifest atomically (schema-checked), stamping ``updated_at``; returns it."""
    stamped = replace(manifest, updated_at=format_timestamp(now()))
    path = layout.batch_manifest(stamped.batch_id)
    rel = str(path.relative_to(layout.root))
    document = stamped.to_json()
    problems = schemas.check(document, "batch-manifest", path=rel)
    if problems:
        raise DataError(f"refusing to write an invalid manifest: {problems[0]}", path=rel)
    atomic_write_json(path, document)
    return stamped


def check_manifest(layout: RegistryLayout, manifest: BatchManifest) -> None:
    """Raise DataError if ``manifest`` would not pass its schema (what ``save_manifest`` writes)."""
    path = layout.batch_manifest(manifest.batch_id)
    rel = str(path.relative_to(layout.root))
    problems = schemas.check(manifest.to_json(), "batch-manifest", path=rel)
    if problems:
        raise DataError(f"refusing to write an invalid manifest: {problems[0]}", path=rel)


# --- putting files back ---------------------------------------------------------------------

RestoreAction = Literal["restore", "remove", "conflict"]


@dataclass(frozen=True, slots=True)
class RestoreStep:
    """What undoing a batch does to one file it recorded."""

    path: str
    action: RestoreAction
    why: str

    def to_text(self) -> str:
        verb = {"restore": "restore", "remove": "remove ", "conflict": "LEAVE  "}[self.action]
        return f"  {verb} {self.path} ({self.why})"


@dataclass(frozen=True)
class RestorePlan:
    """Every file a batch's undo touches (files already as they were before are not listed)."""

    batch_id: str
    steps: tuple[RestoreStep, ...]

    def paths(self, action: RestoreAction) -> list[str]:
        return [s.path for s in self.steps if s.action == action]

    def to_text(self) -> str:
        if not self.steps:
            return f"batch {self.batch_id}: every recorded file is already as it was before"
        lines = [f"batch {self.batch_id}: putting back what it wrote"]
        return "\n".join(lines + [s.to_text() for s in self.steps])


def _current_digest(absolute: Path) -> tuple[bool, str | None]:
    try:
        return True, _sha256(absolute.read_bytes())
    except FileNotFoundError:
        return False, None


def _same_state(state: FileState | None, exists: bool, digest: str | None) -> bool:
    if state is None:
        return False
    return state.exists == exists and (not exists or state.sha256 == digest)


def _restore_step(layout: RegistryLayout, change: FileChange, force: bool) -> RestoreStep | None:
    """Decide one file: None when it already holds its before-image.

    A file is put back only when it holds exactly what the batch wrote (its recorded "after"):
    anything else was changed by someone else since (an operator who repaired it, a later batch),
    and writing the before-image over it would bring back stale bytes. ``force`` puts it back
    anyway.
    """
    _, absolute = safe_rel_path(layout, change.path)
    exists, digest = _current_digest(absolute)
    if _same_state(change.before, exists, digest):
        return None
    action: RestoreAction = "restore" if change.before.exists else "remove"
    if _same_state(change.after, exists, digest):
        return RestoreStep(change.path, action, "as the batch wrote it")
    if force:
        return RestoreStep(change.path, action, "changed since the batch; forced")
    why = (
        "changed since the batch; left as it is"
        if change.after is not None
        else "changed, and the manifest does not record what the batch wrote; left as it is"
    )
    return RestoreStep(change.path, "conflict", why)


def plan_restore(
    layout: RegistryLayout, manifest: BatchManifest, *, force: bool = False
) -> RestorePlan:
    """Decide, without writing, how to put back every file ``manifest`` recorded."""
    steps = (_restore_step(layout, change, force) for change in manifest.files)
    return RestorePlan(manifest.batch_id, tuple(s for s in steps if s is not None))


def apply_restore(layout: RegistryLayout, manifest: BatchManifest, plan: RestorePlan) -> None:
    """Write the before-images (or delete files the batch created) that ``plan`` decided."""
    for step in plan.steps:
        change = manifest.file(step.path)
        if change is None or step.action == "conflict":
            continue
        _, absolute = safe_rel_path(layout, step.path)
        data = change.before_bytes()
        if data is None:
            absolute.unlink(missing_ok=True)
        else:
            atomic_write_bytes(absolute, data)


def planned_change(
    layout: RegistryLayout, rel_path: str, before: bytes | None, after: bytes | None
) -> FileChange:
    """A file a batch is about to write: its full before-image and the digest it will have.

    ``None`` means absent. Recording the "after" before writing lets an undo tell the bytes this
    batch wrote from a change somebody made since.
    """
    rel, _ = safe_rel_path(layout, rel_path)
    return FileChange(
        rel,
        kind_of(rel),
        FileState.absent() if before is None else FileState.of_bytes(before, keep_content=True),
        FileState.absent() if after is None else FileState.of_bytes(after, keep_content=False),
    )
