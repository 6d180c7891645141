"""HTTPS through the client's preloaded CA context: verified as before, the bundle parsed once.

A local HTTPS server with a throw-away certificate for ``localhost`` (made with the openssl
command line; the tests skip without it).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3.connection

from automation.core import http as http_module
from automation.core.config import Config
from automation.core.http import HttpClient, NetworkError

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are what some tests provoke


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def server(certificate: Path) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")  # every request opens a new connection
            self.end_headers()
            self.wfile.write(body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    httpd = _Quiet(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def client(monkeypatch: pytest.MonkeyPatch, bundle: str) -> HttpClient:
    # requests reads REQUESTS_CA_BUNDLE from the process environment on every request.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return HttpClient(Config(retries=0), env=os.environ)


def test_trusted_certificate_uses_one_preloaded_context(
    server: int, certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    original = http_module.create_urllib3_context

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(object())
        return original(*args, **kwargs)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("urllib3 built (and loaded) a context of its own")

    monkeypatch.setattr(http_module, "create_urllib3_context", counting)
    monkeypatch.setattr(urllib3.connection, "create_urllib3_context", forbidden)
    with client(monkeypatch, str(certificate / "cert.pem")) as http:
        for _ in range(4):  # four connections: the server closes each one
            assert http.get_json(None, f"https://localhost:{server}/x") == {"ok": True}
        keys = list(http.session.get_adapter("https://").poolmanager.pools.keys())
    assert len(made) == 1  # the bundle was parsed once
    assert keys and all(k.key_ssl_context is not None and k.key_ca_certs is None for k in keys)


def test_hostname_is_still_checked(
    server: int, certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        client(monkeypatch, str(certificate / "cert.pem")) as http,
        pytest.raises(NetworkError, match=r"(?i)hostname|IP address mismatch"),
    ):
        http.get_json(None, f"https://127.0.0.1:{server}/x", retry=False)


def test_untrusted_certificate_is_refused(server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path(SYSTEM_BUNDLE).is_file():
        pytest.skip("no system CA bundle")
    with (
        client(monkeypatch, SYSTEM_BUNDLE) as http,
        pytest.raises(NetworkError, match=r"(?i)certificate"),
    ):
        http.get_json(None, f"https://localhost:{server}/x", retry=False)


def test_another_bundle_than_the_clients_keeps_requests_behaviour(
    server: int, certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process environment names a bundle the client was not built with: requests' own
    per-connection loading applies, and that bundle is the one trusted."""
    with HttpClient(Config(retries=0), env={"REQUESTS_CA_BUNDLE": SYSTEM_BUNDLE}) as http:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate / "cert.pem"))
        assert http.get_json(None, f"https://localhost:{server}/x") == {"ok": True}
        keys = list(http.session.get_adapter("https://").poolmanager.pools.keys())
    assert [k.key_ca_certs for k in keys] == [str(certificate / "cert.pem")]


def test_missing_bundle_still_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        client(monkeypatch, "/nonexistent/ca.pem") as http,
        pytest.raises(OSError, match="CA certificate bundle"),
    ):
        http.get_json(None, "https://localhost:9/x", retry=False)
