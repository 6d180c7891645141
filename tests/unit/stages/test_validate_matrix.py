"""Local and container validation side by side: what an interrupt does to the containers."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import automation.containers.validate as container_validate
import automation.stages.validate_matrix as validate_matrix
from automation.core.layout import RegistryLayout
from automation.stages.validate import ValidateReport


def test_an_interrupt_while_the_containers_finish_tells_them_to_take_no_more_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local is done; Ctrl-C (or SIGTERM, which the front door makes one) arrives while the
    containers work through the batch: they are told to stop (finish what runs, start nothing
    new) instead of going on to the end of the batch."""
    told_to_stop = threading.Event()

    def local(layout: RegistryLayout, batch_id: str, **_: Any) -> ValidateReport:
        return ValidateReport(batch_id, "local", "linux-debian-glibc-x86_64")

    def containers(
        layout: RegistryLayout, batch_id: str, ids: Any, *, wait_for: Any, stop: Any, **_: Any
    ) -> Any:
        wait_for.wait("anything")  # returns when local has finished
        signal.raise_signal(signal.SIGINT)  # Ctrl-C: the main thread waits for this worker
        if stop.wait(10):
            told_to_stop.set()
        return None

    monkeypatch.setattr(validate_matrix, "validate_batch_locally", local)
    monkeypatch.setattr(container_validate, "validate_batch_in_environments", containers)
    with pytest.raises(KeyboardInterrupt):
        validate_matrix.validate_matrix(
            RegistryLayout.at(tmp_path), "b1", ["local", "debian-12"], installs=2
        )
    assert told_to_stop.is_set()
