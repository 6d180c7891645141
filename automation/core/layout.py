"""Where everything lives in a registry checkout (the reference registry's own paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from automation.core.names import check_recipe_name

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = REPOSITORY_ROOT / "schemas"


@dataclass(frozen=True)
class RegistryLayout:
    """Paths of one registry checkout, given by ``--root``."""

    root: Path

    @classmethod
    def at(cls, root: str | Path) -> RegistryLayout:
        return cls(Path(root).resolve())

    # Reference registry paths (read as they are).
    @property
    def queue(self) -> Path:
        return self.root / "data" / "queues" / "priority-queue.json"

    @property
    def legacy_queues(self) -> tuple[Path, ...]:
        """The legacy ``packages[]`` queues the ecosystems declare (read only)."""
        from automation.core.ecosystem_facts import legacy_queue_files

        return tuple(self.root / "data" / "queues" / name for name in legacy_queue_files())

    @property
    def failures_dir(self) -> Path:
        return self.root / "data" / "failures"

    @property
    def metrics_dir(self) -> Path:
        return self.root / "data" / "metrics"

    @property
    def disambiguations_dir(self) -> Path:
        return self.root / "data" / "disambiguations"

    @property
    def control_file(self) -> Path:
        return self.root / "batch-control.json"

    @property
    def recipes_dir(self) -> Path:
        return self.root / "recipes"

    # The kit's own files, beside them.
    @property
    def results_dir(self) -> Path:
        return self.root / "data" / "results"

    @property
    def batches_dir(self) -> Path:
        return self.root / "data" / "batches"

    @property
    def checksums_dir(self) -> Path:
        return self.root / "data" / "checksums"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache" / "automation"

    @property
    def lock_file(self) -> Path:
        return self.root / ".automation.lock"

    def recipe_path(self, name: str) -> Path:
        """``recipes/<first letter>/<name>.toml`` for a checked name; never outside ``recipes/``."""
        name = check_recipe_name(name)
        path = (self.recipes_dir / name[0] / f"{name}.toml").resolve()
        if self.recipes_dir.resolve() not in path.parents:
            raise AssertionError(f"recipe path escaped recipes/: {path}")  # unreachable by check
        return path

    def results_file(self, batch_id: str, environment: str) -> Path:
        return (
            self.results_dir
            / check_recipe_name(batch_id)
            / f"{check_recipe_name(environment)}.jsonl"
        )

    def batch_manifest(self, batch_id: str) -> Path:
        return self.batches_dir / f"{check_recipe_name(batch_id)}.json"

    def recipe_files(self) -> list[Path]:
        """Every ``recipes/<letter>/<name>.toml``, sorted (the discovery tree is not recipes)."""
        if not self.recipes_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.recipes_dir.glob("*/*.toml")
            if len(p.parent.name) == 1 and p.parent.name != "discovery"
        )
