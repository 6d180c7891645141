"""A batch's working files: ids, the staging folder, and the generation log (crash-safe, resumable).

``data/staging/<batch_id>/`` holds what generation produced and validation reads:
``recipes/<name>.toml`` for each built recipe and ``generation.jsonl``, one line per queue entry
attempted. A rerun of the same batch skips entries already logged, so an interrupted run converges.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.atomic import append_jsonl, atomic_write_text
from automation.errors import DataError
from automation.layout import RegistryLayout
from automation.names import check_recipe_name


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
    """One queue entry's generation result, as logged in ``generation.jsonl``."""

    name: str
    source: str
    status: str  # "generated" | "failed"
    category: str = ""
    subcategory: str = ""
    message: str = ""
    version: str = ""
    executables: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    seconds: float = 0.0
    first_release: str | None = None  # RFC3339, when the registry says (age gate)
    downloads: int | None = None  # popularity, when known (popularity gate)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["executables"] = list(self.executables)
        out["blocked_by"] = list(self.blocked_by)
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
            downloads=raw.get("downloads"),
        )


class Staging:
    """The staging folder of one batch."""

    def __init__(self, layout: RegistryLayout, batch_id: str):
        self.layout = layout
        self.batch_id = batch_id
        self.dir = staging_dir(layout, batch_id)

    @property
    def log_path(self) -> Path:
        return self.dir / "generation.jsonl"

    def recipe_path(self, name: str) -> Path:
        return self.dir / "recipes" / f"{check_recipe_name(name)}.toml"

    def exists(self) -> bool:
        return self.log_path.exists()

    def outcomes(self) -> list[GenerationOutcome]:
        """Logged outcomes; a later line for the same name supersedes an earlier one."""
        if not self.log_path.exists():
            return []
        latest: dict[str, GenerationOutcome] = {}
        for lineno, line in enumerate(self.log_path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                outcome = GenerationOutcome.from_json(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                # A crash can only truncate the last line (appends are atomic rewrites), but a
                # hand-edited log gets a precise error rather than silent loss.
                raise DataError(
                    f"unreadable generation log line: {exc}",
                    path=str(self.log_path),
                    where=f"line {lineno}",
                ) from exc
            latest[outcome.name] = outcome
        return list(latest.values())

    def record(self, outcome: GenerationOutcome, recipe_text: str | None = None) -> None:
        """Write the recipe first, then the log line: a logged "generated" always has its file."""
        if recipe_text is not None:
            atomic_write_text(self.recipe_path(outcome.name), recipe_text)
        append_jsonl(self.log_path, [outcome.to_json()])

    def generated(self) -> list[GenerationOutcome]:
        return [o for o in self.outcomes() if o.status == "generated"]
