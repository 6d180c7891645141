"""A hostile upstream on 127.0.0.1: servers that stall, drip, lie about sizes or answer garbage.

Each path is given one behaviour; anything else answers 599 and is recorded in ``unexpected``.
Every behaviour ends by itself (a bounded number of drips, a bounded stall) or when the server
stops, so a test using it finishes even if the client under test does not give up.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[BaseHTTPRequestHandler, threading.Event], None]


def _head(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    # Every answer ends its connection (and says so, so a client never reuses a closed one).
    for key, value in {"Connection": "close", **headers}.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.flush()


def plain(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """An ordinary answer (the control case, and 5xx / 429 / garbage bodies)."""

    def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _head(handler, status, {"Content-Length": str(len(body)), **(headers or {})})
        handler.wfile.write(body)

    return serve


def drip(every: float, *, length: int = 10_000, drops: int = 200) -> Behaviour:
    """Headers at once, then one body byte every ``every`` seconds (each read succeeds)."""

    def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _head(handler, 200, {"Content-Length": str(length), "Content-Type": "application/json"})
        for _ in range(drops):
            if stop.wait(every):
                return
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return serve


def stall(seconds: float, *, after_headers: bool) -> Behaviour:
    """Accept the request and then say nothing (before or after the headers) for ``seconds``."""

    def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        if after_headers:
            _head(handler, 200, {"Content-Length": "100"})
        stop.wait(seconds)

    return serve


def huge_length(declared: int = 10 * 1024**3) -> Behaviour:
    """Declare a body of ``declared`` bytes (10 GB by default), send a little, hang up."""

    def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _head(handler, 200, {"Content-Length": str(declared)})
        handler.wfile.write(b"x" * 1024)

    return serve


def endless(chunk: bytes = b"x" * 65536, *, limit: int = 64 * 1024 * 1024) -> Behaviour:
    """A chunked body that does not end (until ``limit`` bytes or the client hangs up)."""

    def serve(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _head(handler, 200, {"Transfer-Encoding": "chunked"})
        sent = 0
        while sent < limit and not stop.is_set():
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)

    return serve


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients giving up mid-body (deadlines, caps) reset the connection: expected here.
        pass


@dataclass
class HostileUpstream:
    routes: dict[str, Behaviour] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        upstream = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with upstream._lock:
                    upstream.hits[path] = upstream.hits.get(path, 0) + 1
                    behaviour = upstream.routes.get(path)
                    if behaviour is None:
                        upstream.unexpected.append(path)
                if behaviour is None:
                    behaviour = plain(599, b"nobody recorded this")
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, socket.timeout):
                    behaviour(self, upstream._stop)
                self.close_connection = True

        self.server = _QuietServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HostileUpstream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # ends every drip and stall still running
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> HostileUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def elapsed(action: Callable[[], Any]) -> tuple[float, BaseException | None]:
    """Seconds ``action`` took and what it raised (None when it returned)."""
    started = time.monotonic()
    try:
        action()
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None
