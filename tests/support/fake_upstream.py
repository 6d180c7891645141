"""A local stand-in for PyPI/npm on 127.0.0.1: saved real responses, Range support, scripts.

Anything not registered answers 599 and is recorded in ``unexpected``, so an unrecorded
request fails loudly (the fixtures assert the list is empty).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[BaseHTTPRequestHandler], Reply]


@dataclass
class Blob:
    data: bytes
    honour_range: bool = True


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that stop reading early (size caps) reset the connection; that is expected.
        pass


class FakeUpstream:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply] | Handler] = {}
        self.blobs: dict[str, Blob] = {}
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, range)
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        upstream = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, *, head: bool) -> None:
                reply = upstream._reply(self)
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(reply.body)

        self.server = _QuietServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ registration

    def json(self, path: str, document: Any, status: int = 200) -> None:
        body = json.dumps(document).encode()
        self.routes[path] = [Reply(status, body, {"Content-Type": "application/json"})]

    def file(self, path: str, source: Path) -> None:
        self.routes[path] = [Reply(200, source.read_bytes(), {"Content-Type": "application/json"})]

    def sequence(self, path: str, replies: list[Reply]) -> None:
        """Replies in order; the last one repeats."""
        self.routes[path] = list(replies)

    def handler(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def blob(self, path: str, data: bytes, *, honour_range: bool = True) -> None:
        self.blobs[path] = Blob(data, honour_range)

    def requests_to(self, pattern: str) -> list[tuple[str, str, str | None]]:
        return [entry for entry in self.log if re.search(pattern, entry[1])]

    # ------------------------------------------------------------ serving

    def _reply(self, request: BaseHTTPRequestHandler) -> Reply:
        path = request.path
        byte_range = request.headers.get("Range")
        with self._lock:
            self.log.append((request.command, path, byte_range))
            route = self.routes.get(path)
            if isinstance(route, list):
                reply = route.pop(0) if len(route) > 1 else route[0]
                return reply
        if route is not None:
            return route(request)
        blob = self.blobs.get(path)
        if blob is not None:
            return _ranged(blob, byte_range)
        with self._lock:
            self.unexpected.append(path)
        return Reply(599, b"unrecorded request", {"Content-Type": "text/plain"})


def _ranged(blob: Blob, header: str | None) -> Reply:
    data = blob.data
    kind = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
    if not header or not blob.honour_range:
        return Reply(200, data, kind)
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header)
    if not match:
        return Reply(416, b"", kind)
    first, last = match.groups()
    if first == "":
        start = max(0, len(data) - int(last))
        end = len(data) - 1
    else:
        start = int(first)
        end = min(int(last), len(data) - 1) if last else len(data) - 1
    if start >= len(data) or start > end:
        return Reply(416, b"", {**kind, "Content-Range": f"bytes */{len(data)}"})
    headers = {**kind, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
    return Reply(206, data[start : end + 1], headers)


def sparse_wheel(filename: str) -> bytes:
    """Rebuild a saved wheel: whole files as saved, or the recorded real byte ranges at their
    real offsets with zeros elsewhere (the reader never touches the zeros)."""
    wheels = FIXTURES / "pypi" / "wheels"
    manifest = json.loads((wheels / "manifest.json").read_text())[filename]
    data = bytearray(manifest["size"])
    for segment in manifest["segments"]:
        chunk = (wheels / segment["file"]).read_bytes()
        data[segment["offset"] : segment["offset"] + len(chunk)] = chunk
    return bytes(data)


def wheel_manifest() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        (FIXTURES / "pypi" / "wheels" / "manifest.json").read_text()
    )
    return result


def iter_fixture_projects() -> Iterator[str]:
    yield from ("httpie", "black", "ruff", "requests")
