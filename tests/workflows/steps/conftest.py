"""Real local HTTP servers (127.0.0.1, random port, one thread per request) and a spy on outgoing connections."""

import contextlib
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    """What a route answers: status, headers, body (bytes, or a JSON value), optional delay before answering."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    json: object = None
    delay: float = 0.0
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
        self.server.received.append(received)
        route = self.server.routes.get(self.path.split("?", 1)[0])
        reply = route(received) if callable(route) else route
        if reply is None:
            reply = Reply(status=404, body=b"no such route")
        if reply.delay:
            time.sleep(reply.delay)
        body = reply.body
        headers = dict(reply.headers)
        if body is None and reply.json is not None:
            body = json.dumps(reply.json).encode()
            headers.setdefault("Content-Type", "application/json")
        body = body or b""
        self.send_response(reply.status)
        for name, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                self.send_header(name, item)
        if reply.content_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            # The client may give up (size cap, timeout): that is what some tests check.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format, *args):  # keep test output quiet
        pass


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1 with per-test routes; ``received`` lists the requests it got."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.httpd.received = []
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def received(self) -> list[Received]:
        return self.httpd.received

    def route(self, path: str, reply) -> None:
        """Answer ``path`` with a Reply, or with a function of the Received request that returns one."""
        self.httpd.routes[path] = reply

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture
def allow_local(settings):
    """Exempt the local test servers from the SSRF guard, as an operator would with WORKFLOW_HTTP_ALLOWED_HOSTS."""
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    return settings


@pytest.fixture
def connections(monkeypatch):
    """Records every outgoing TCP connection attempt (address, port); connections still really happen."""
    attempts: list[tuple[str, int]] = []
    real = socket.create_connection

    def spy(address, *args, **kwargs):
        attempts.append((address[0], address[1]))
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spy)
    return attempts


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for "localhost"; records the SNI names it saw."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    local = LocalServer()
    local.server_names = []
    context.sni_callback = lambda _socket, name, _context: local.server_names.append(name)
    local.httpd.socket = context.wrap_socket(local.httpd.socket, server_side=True)
    yield local
    local.close()
