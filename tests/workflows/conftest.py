"""Workflow fixtures: workflows with members of every role, a local HTTP server, and real Celery workers."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.factories import WorkflowFactory

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


@pytest.fixture
def workflow_with_roles(project_with_roles):
    """A workflow in a project with one member of each role plus an outsider: (workflow, {role: user})."""
    project, users = project_with_roles
    return WorkflowFactory(project=project), users


# -- a local HTTP server that counts hits and can hold a request ------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        server: LocalServer = self.server.owner
        count = server.hit(path)
        if path.startswith("/slow/"):
            time.sleep(server.slow_seconds)
        if (path.startswith("/block/") and count == 1) or path.startswith("/hang/"):
            server.entered.set()
            server.release.wait(timeout=60)
        payload = {"path": path, "count": count}
        if body:
            try:
                payload["received"] = json.loads(body)
            except ValueError:
                payload["received"] = body.decode(errors="replace")
        data = json.dumps(payload).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker that asked was killed: what the crash test does

    do_GET = do_POST = _handle

    def log_message(self, format, *args):
        pass


class LocalServer:
    """127.0.0.1 on a free port. /hit/<x> answers at once, /slow/<x> after `slow_seconds`; the first call to
    /block/<x>, and every call to /hang/<x>, waits for `release`."""

    slow_seconds = 0.25

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def hit(self, path: str) -> int:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            return self.hits[path]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def local_server():
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.httpd.shutdown()
        server.httpd.server_close()
