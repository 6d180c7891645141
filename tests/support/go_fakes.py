"""Go module zips built here and the proxy answers the fake upstream serves for them."""

from __future__ import annotations

import json

from automation.ecosystems import adapter_for
from automation.ecosystems.go import client as goproxy
from tests.support.fake_upstream import FIXTURES, FakeUpstream

GOPROXY = FIXTURES / "goproxy"


SAVED = GOPROXY / "proxy.golang.org"


ADAPTER = adapter_for("go")


TASK = "github.com/go-task/task/v3"


TOOLS = "golang.org/x/tools"


MAIN = b"// Copyright 2024 The Authors.\n\n/* block */\npackage main\n\nfunc main() {}\n"


IGNORED_MAIN = b"//go:build ignore\n\npackage main\n\nfunc main() {}\n"


def serve_module(
    upstream: FakeUpstream,
    module: str,
    latest: dict[str, object],
    zip_bytes: bytes,
    *,
    honour_range: bool = True,
) -> None:
    """Serve ``module``'s @latest answer and its zip."""
    upstream.json(goproxy.latest_path(module), latest)
    upstream.blob(
        goproxy.zip_path(module, str(latest["Version"])), zip_bytes, honour_range=honour_range
    )


def latest(name: str) -> dict[str, object]:
    """A saved @latest answer from the fixtures."""
    result: dict[str, object] = json.loads((GOPROXY / f"{name}.json").read_text())
    return result
