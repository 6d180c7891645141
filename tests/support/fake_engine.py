"""A fake container engine that keeps images, labels and builds in memory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from automation.containers.runtime import (
    INSPECT_FORMAT,
    Completed,
)


class FakeEngine:
    """An engine's image store behind the ``Runner`` protocol (inspect and build only)."""

    def __init__(self, *, fail_build: bool = False):
        self.images: dict[str, tuple[str, dict[str, str]]] = {}
        self.calls: list[list[str]] = []
        self.fail_build = fail_build
        self.stored = 0
        self.put_same_id = False

    def put(self, tag: str, labels: dict[str, str] | None = None) -> str:
        """Store (or replace) ``tag`` as a new image: every put gets a new ID (unless told)."""
        if self.put_same_id and tag in self.images:
            self.images[tag] = (self.images[tag][0], dict(labels or {}))
            return self.images[tag][0]
        self.stored += 1
        image_id = "sha256:" + hashlib.sha256(f"{tag} {self.stored}".encode()).hexdigest()
        self.images[tag] = (image_id, dict(labels or {}))
        return image_id

    def builds(self) -> list[list[str]]:
        return [c for c in self.calls if c[1] == "build"]

    def __call__(self, args: Sequence[str], *, timeout: float | None = None) -> Completed:
        argv = list(args)
        self.calls.append(argv)
        if argv[1:3] == ["image", "inspect"]:
            found = self.images.get(argv[3])
            if found is None:
                return Completed(tuple(argv), 125, "", f"Error: {argv[3]}: image not known")
            assert argv[4:] == ["--format", INSPECT_FORMAT]
            image_id, labels = found
            return Completed(tuple(argv), 0, f"{image_id} {json.dumps(labels or None)}\n")
        if argv[1] == "build":
            if self.fail_build:
                return Completed(tuple(argv), 1, "", "STEP 2/3: RUN apt-get: exit status 100")
            tag = argv[argv.index("-t") + 1]
            labels = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--label")
            self.put(tag, labels)
            return Completed(tuple(argv), 0, "", "", 42.0)
        return Completed(tuple(argv), 0)
