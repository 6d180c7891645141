"""A batch's working files: ids, the staging folder, and the generation log (crash-safe, resumable).

``data/staging/<batch_id>/`` holds what generation produced and validation reads:
``recipes/<name>.toml`` for each built recipe, ``selection.json`` (the batch's entries, chosen once
so every rerun and every shard works on the same plan) and the generation log, one line per queue
entry attempted: ``generation.jsonl``, or ``generation-s<K>of<N>.jsonl`` for shard K of N, so jobs
of a CI matrix never write the same file and their staging folders combine by copying. A rerun of
the same batch (or shard) skips entries already logged, so an interrupted run converges.

Log lines are appended in place (``append_jsonl``: one ``write`` per line, then fsync); an
unterminated last line (a power loss) is ignored by readers and cut off by the next append.

An entry whose recipe is already in the registry is logged as ``skipped`` with the reason, not
built (``automation.stages.generate``); ``--force NAME`` builds it anyway and logs ``forced``.

``selection.json`` is also the batch's reservation: while the batch is open its entries are not
selected by any other batch (``automation.registry.reservation`` says what "open" means and how a
reservation ends).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.core.atomic import append_jsonl, atomic_write_json, atomic_write_text
from automation.core.errors import DataError, UsageError
from automation.core.jsondata import loads, read_json
from automation.core.layout import RegistryLayout
from automation.core.names import check_recipe_name
from automation.core.timefmt import parse_timestamp

# The metrics schema's batch-id form (``batch-runs-<batch_id>.jsonl`` records must match it, so a
# batch named otherwise could be generated and validated but never merged): a date, then an
# optional lowercase suffix. ``..`` is refused too: the id names folders.
BATCH_ID = re.compile(r"\d{4}-\d{2}-\d{2}(?:-[a-z0-9][a-z0-9._-]*)?")
BATCH_ID_MAX_LENGTH = 128
BATCH_ID_FORM = (
    "YYYY-MM-DD[-suffix], the suffix of a-z 0-9 . _ - (e.g. 2026-11-27-173501-<ecosystem>)"
)


def is_batch_id(text: str) -> bool:
    """Whether ``text`` is a batch id every stage accepts, merge's metrics record included."""
    return (
        len(text) <= BATCH_ID_MAX_LENGTH
        and BATCH_ID.fullmatch(text) is not None
        and ".." not in text
    )


def check_batch_id(batch_id: str) -> str:
    """Return ``batch_id`` if every stage accepts it (``is_batch_id``); UsageError otherwise."""
    if not is_batch_id(batch_id):
        raise UsageError(f"batch id {batch_id!r} does not match the form {BATCH_ID_FORM}")
    return batch_id


def new_batch_id(ecosystem: str, when: datetime, shard: str | None = None) -> str:
    """``2026-11-27-173501-pypi`` (``-s1of4`` for a shard): sortable, path-safe, lowercase, and
    in the reference metrics' ``YYYY-MM-DD-<suffix>`` batch-id form."""
    eco = ecosystem.replace(".", "")
    batch_id = f"{when:%Y-%m-%d-%H%M%S}-{eco}"
    if shard:
        batch_id += f"-s{shard.replace('/', 'of')}"
    return check_recipe_name(batch_id)


def staging_dir(layout: RegistryLayout, batch_id: str) -> Path:
    return layout.root / "data" / "staging" / check_recipe_name(batch_id)


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    """One queue entry's generation result, as logged in ``generation.jsonl``.

    ``skipped``: not built because the registry already has a recipe of that name (``message``
    says which file and how to replace it). ``forced``: generated under ``--force NAME``, the only
    way merge writes a recipe over an existing one (never over a curated one); logged only when
    set, so the lines of a batch without force are as before.
    """

    name: str
    source: str
    status: str  # "generated" | "failed" | "skipped"
    category: str = ""
    subcategory: str = ""
    message: str = ""
    version: str = ""
    executables: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    seconds: float = 0.0
    first_release: str | None = None  # RFC3339, when the registry says (age gate)
    downloads: int | None = None  # popularity, when known (popularity gate)
    forced: bool = False
    # What ``downloads`` counts ("30 days", "month", "all time"); logged only when known, so
    # the lines of a batch without counts are as before.
    downloads_period: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["executables"] = list(self.executables)
        out["blocked_by"] = list(self.blocked_by)
        if not self.forced:
            del out["forced"]
        if self.downloads_period is None:
            del out["downloads_period"]
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GenerationOutcome:
        return cls(
            name=raw["name"],
            source=raw["source"],
            status=raw["status"],
            category=raw.get("category", ""),
            subcategory=raw.get("subcategory", ""),
            message=raw.get("message", ""),
            version=raw.get("version", ""),
            executables=tuple(raw.get("executables", ())),
            blocked_by=tuple(raw.get("blocked_by", ())),
            seconds=float(raw.get("seconds", 0.0)),
            first_release=raw.get("first_release"),
            downloads=_count_or_none(raw.get("downloads")),
            forced=raw.get("forced", False) is True,
            downloads_period=_text_or_none(raw.get("downloads_period")),
        )


def _count_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class SelectionRecord:
    """A batch's ``selection.json``: its entries (in order) and when they were selected."""

    batch_id: str
    ecosystem: str
    selected_at: datetime
    entries: tuple[str, ...]


_LOG_NAME = re.compile(r"^generation(?:-s(\d+)of(\d+))?\.jsonl$")


def shard_label(shard: tuple[int, int] | None) -> str:
    """``(2, 4)`` -> ``"s2of4"``; ``""`` for an unsharded run."""
    return f"s{shard[0]}of{shard[1]}" if shard else ""


class Staging:
    """The staging folder of one batch (``shard`` picks the generation log this run writes)."""

    def __init__(self, layout: RegistryLayout, batch_id: str, shard: tuple[int, int] | None = None):
        self.layout = layout
        self.batch_id = batch_id
        self.shard = shard
        self.dir = staging_dir(layout, batch_id)

    @property
    def log_path(self) -> Path:
        """The log this run appends to."""
        label = shard_label(self.shard)
        return self.dir / (f"generation-{label}.jsonl" if label else "generation.jsonl")

    @property
    def selection_path(self) -> Path:
        return self.dir / "selection.json"

    def log_paths(self) -> list[Path]:
        """Every generation log of the batch (all shards), in name order."""
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if _LOG_NAME.match(p.name))

    def recipe_path(self, name: str) -> Path:
        return self.dir / "recipes" / f"{check_recipe_name(name)}.toml"

    def exists(self) -> bool:
        return bool(self.log_paths())

    def missing_shards(self) -> list[str]:
        """Shards of a sharded batch whose log has not arrived (``["s2of3"]``); raises DataError
        when the logs disagree on N or mix sharded and unsharded runs."""
        counts: set[int] = set()
        present: set[int] = set()
        unsharded = False
        for path in self.log_paths():
            match = _LOG_NAME.match(path.name)
            assert match is not None
            if match.group(1) is None:
                unsharded = True
                continue
            k, n = int(match.group(1)), int(match.group(2))
            counts.add(n)
            present.add(k)
        if not counts:
            return []
        if len(counts) > 1 or unsharded:
            raise DataError(
                "generation logs of different shardings in one batch "
                f"({', '.join(p.name for p in self.log_paths())})",
                path=str(self.dir),
            )
        (n,) = counts
        return [f"s{k}of{n}" for k in range(1, n + 1) if k not in present]

    def _read_log(self, path: Path) -> list[GenerationOutcome]:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"generation log is not UTF-8: {exc}", path=str(path)) from None
        lines = text.split("\n")
        # The last element is "" for a complete file; anything else is an unterminated line a
        # crash cut short: never acknowledged, so it is ignored (the next append removes it).
        complete = lines[:-1]
        out = []
        for lineno, line in enumerate(complete, 1):
            if not line.strip():
                continue
            record, problem = loads(line, str(path), f"line {lineno}")  # bounded (jsondata)
            if problem is not None:
                raise DataError(
                    f"unreadable generation log line: {problem.message}",
                    path=str(path),
                    where=problem.where,
                )
            try:
                out.append(GenerationOutcome.from_json(record))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise DataError(
                    f"unreadable generation log line: {exc}",
                    path=str(path),
                    where=f"line {lineno}",
                ) from None
        return out

    def selection(self) -> list[str] | None:
        """The batch's recorded entry names in order, or None before the first run selected."""
        if not self.selection_path.exists():
            return None
        names = self._read_selection_document().get("entries")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DataError("entries must be a list of names", path=str(self.selection_path))
        return names

    def selection_record(self) -> SelectionRecord | None:
        """The whole recorded selection (names and when it was made), or None before one."""
        names = self.selection()
        if names is None:
            return None
        path = str(self.selection_path)
        raw = self._read_selection_document()
        try:
            selected_at = parse_timestamp(raw["selected_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"selected_at must be an RFC3339 time: {exc}", path=path, where="selected_at"
            ) from exc
        return SelectionRecord(
            batch_id=self.batch_id,
            ecosystem=str(raw.get("ecosystem", "")),
            selected_at=selected_at,
            entries=tuple(names),
        )

    def _read_selection_document(self) -> dict[str, Any]:
        """``selection.json`` as an object, read within the data bounds (DataError otherwise)."""
        path = str(self.selection_path)
        document, problem = read_json(self.selection_path, path)
        if problem is not None:
            raise DataError(
                f"unreadable batch selection: {problem.message}", path=path, where=problem.where
            )
        if not isinstance(document, dict):
            raise DataError("unreadable batch selection: expected a JSON object", path=path)
        return document

    def save_selection(self, ecosystem: str, names: list[str], selected_at: str) -> None:
        atomic_write_json(
            self.selection_path,
            {
                "batch_id": self.batch_id,
                "ecosystem": ecosystem,
                "selected_at": selected_at,
                "entries": names,
            },
        )

    def outcomes(self) -> list[GenerationOutcome]:
        """Logged outcomes of every shard: a later line for the same name supersedes an earlier
        one. Ordered by the recorded selection (then name), not by arrival, so the same outcomes
        give the same merge whichever shard finished first."""
        latest: dict[str, GenerationOutcome] = {}
        for path in self.log_paths():
            for outcome in self._read_log(path):
                latest[outcome.name] = outcome
        order = {name: i for i, name in enumerate(self.selection() or [])}
        return sorted(latest.values(), key=lambda o: (order.get(o.name, len(order)), o.name))

    def own_outcomes(self) -> list[GenerationOutcome]:
        """Outcomes in this run's own log (what a rerun of this shard need not redo)."""
        return self._read_log(self.log_path) if self.log_path.exists() else []

    def touch_log(self) -> None:
        """Create this run's log if absent: a shard that had nothing to do still reports in."""
        if not self.log_path.exists():
            atomic_write_text(self.log_path, "")

    def record(self, outcome: GenerationOutcome, recipe_text: str | None = None) -> None:
        """Write the recipe first, then the log line: a logged "generated" always has its file."""
        if recipe_text is not None:
            atomic_write_text(self.recipe_path(outcome.name), recipe_text)
        append_jsonl(self.log_path, [outcome.to_json()])

    def generated(self) -> list[GenerationOutcome]:
        return [o for o in self.outcomes() if o.status == "generated"]
