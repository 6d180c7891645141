"""The offline pipeline writes the same files and the same ``--json`` documents as before.

``tests/fixtures/golden/offline-pipeline.json`` was written by the kit before its code was
reorganised (one package per concern, merge as plan-then-apply). A refactor must not change what
lands in a registry: every file of the scratch registry after generate -> validate -> merge ->
rollback, and every report document, must equal the recorded ones. Only what differs between any
two runs is masked: timestamps, durations and the temporary folder's path.

Regenerate (only when a change of output is intended, and say why in the commit):
``python -m tests.integration.test_golden_pipeline --write``.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automation.core.layout import RegistryLayout
from automation.registry.queue import QueueEntry, load_queue, save_queue
from automation.registry.staging import Staging
from automation.stages.generate import generate_entries
from automation.stages.merge import merge_batch
from automation.stages.rollback import rollback_batch
from automation.stages.validate import validate_batch_locally
from automation.stages.validate_local import LocalValidator
from tests.support.pipeline_fakes import FakeProcesses, make_fetch

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "offline-pipeline.json"
BATCH = "2026-11-27-120000-pypi"
NOW = datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
UPSTREAM = {
    "goodtool": ("1.0.0", ("goodtool",)),
    "othertool": ("0.4.1", ("othertool", "othertool-admin")),
    "libonly": ("2.0.0", ()),
    "brokentool": ("3.0.0", ("brokentool",)),
}
QUEUED = ("goodtool", "othertool", "libonly", "brokentool", "ghost")

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T-]\d{2}[:-]?\d{2}[:-]?\d{2}(\.\d+)?Z?")
_DURATION = re.compile(r'"([a-z_]*(seconds|_ms|per_second)[a-z_]*)": ?[0-9.e-]+')
# A batch manifest records the digest and size of files that hold durations: masked with them.
_DIGEST = re.compile(r'"(sha256|size)": ("[0-9a-f]{64}"|[0-9]+)')


def _mask(text: str, root: Path) -> str:
    text = text.replace(str(root), "<ROOT>")
    text = text.replace(sys.executable, "<PYTHON>")  # the interpreter running the tests
    text = _DURATION.sub(lambda m: f'"{m.group(1)}": <N>', text)
    text = _DIGEST.sub(lambda m: f'"{m.group(1)}": <DIGEST>', text)
    return _TIMESTAMP.sub("<TIME>", text)


def _files(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or ".cache" in path.parts or path.name == ".automation.lock":
            continue
        data = path.read_bytes()
        try:
            out[str(path.relative_to(root))] = _mask(data.decode("utf-8"), root)
        except UnicodeDecodeError:
            out[str(path.relative_to(root))] = "base64:" + base64.b64encode(data).decode()
    return out


def run_offline_pipeline(root: Path) -> dict[str, Any]:
    """generate -> validate -> merge -> merge again -> rollback; every state and report."""
    layout = RegistryLayout.at(root)
    entries = [QueueEntry(n, f"pypi:{n}", 3, "pending", "auto", None, 0, None) for n in QUEUED]
    save_queue(layout.queue, load_queue(layout.queue).with_entries(entries))
    staging = Staging(layout, BATCH)
    generated = generate_entries(
        staging, load_queue(layout.queue).entries, fetch=make_fetch(UPSTREAM), workers=1
    )
    processes = FakeProcesses(UPSTREAM, good=("goodtool", "othertool"))
    validated = validate_batch_locally(layout, BATCH, validator=LocalValidator(runner=processes))
    merged = merge_batch(layout, BATCH, now=NOW, requeue=False)
    after_merge = _files(root)
    again = merge_batch(layout, BATCH, now=NOW, requeue=False)
    rolled_back = rollback_batch(layout, BATCH)
    return {
        "reports": {
            name: _mask(json.dumps(report.to_json(), indent=1, sort_keys=True), root)
            for name, report in (
                ("generate", generated),
                ("validate", validated),
                ("merge", merged),
                ("merge_again", again),
                ("rollback", rolled_back),
            )
        },
        "after_merge": after_merge,
        "after_rollback": _files(root),
    }


def test_offline_pipeline_output_is_unchanged(tmp_path: Path) -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    actual = run_offline_pipeline(tmp_path / "registry")
    assert actual["reports"] == expected["reports"]
    assert sorted(actual["after_merge"]) == sorted(expected["after_merge"])
    for name, text in expected["after_merge"].items():
        assert actual["after_merge"][name] == text, name
    assert actual["after_rollback"] == expected["after_rollback"]


if __name__ == "__main__":  # python -m tests.integration.test_golden_pipeline --write
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.integration.test_golden_pipeline --write")
    with tempfile.TemporaryDirectory() as scratch:
        doc = run_offline_pipeline(Path(scratch) / "registry")
    GOLDEN.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
