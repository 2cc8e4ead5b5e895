"""Workflow fixtures: workflows with members of every role, a local HTTP server, and real Celery workers."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from tests.factories import WorkflowFactory
from tests.support import database_url

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
        if path.startswith("/block/") and count == 1:
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
    """127.0.0.1 on a free port. /hit/<x> answers at once; the first call to /block/<x> waits for `release`."""

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


# -- real Celery worker processes ----------------------------------------------------------------------------


class Worker:
    """A `celery -A config worker` process (its own process group, so that a kill takes its pool too)."""

    def __init__(self, env: dict, queue: str, log_path: Path):
        self.queue = queue
        self.log_path = log_path
        self.name = f"{queue}-{uuid.uuid4().hex[:6]}@%h"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        args = [CELERY, "-A", "config", "worker", "--pool=prefork", "-c", "2", "-Q", queue, "-n", self.name]
        args += ["--without-gossip", "--without-mingle", "--loglevel=INFO"]
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        start = len(self.log())
        while time.monotonic() < deadline:
            if " ready." in self.log()[start:]:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the worker exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"the worker was not ready within {timeout}s:\n{self.log()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: main process and pool children die at once, nothing is acked."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def start_worker(transactional_db, settings, tmp_path):
    """start_worker(**env) starts a real worker on a queue unique to this test; all are stopped at teardown.

    The test process publishes to the same queue (settings.WORKFLOW_EXECUTION_QUEUE), so parallel test runs
    sharing the Redis broker never take each other's tasks.
    """
    queue = f"wf-test-{uuid.uuid4().hex[:12]}"
    settings.WORKFLOW_EXECUTION_QUEUE = queue
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "WORKFLOW_EXECUTION_QUEUE": queue,
        "WORKFLOW_HTTP_ALLOWED_HOSTS": "127.0.0.1",
        # Fast liveness for the tests: a dead runner's lease goes stale in 3 s, Redis gives an unacknowledged
        # message back after 4 s and looks for such messages every second.
        "WORKFLOW_HEARTBEAT_INTERVAL": "0.5",
        "WORKFLOW_HEARTBEAT_STALE_AFTER": "3",
        "CELERY_BROKER_VISIBILITY_TIMEOUT": "4",
        "CELERY_BROKER_RESTORE_INTERVAL": "1",
        "CELERY_BROKER_RESTORE_THROTTLE": "1",
        "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT": "2",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    workers: list[Worker] = []

    def start(**extra_env) -> Worker:
        worker = Worker({**base_env, **extra_env}, queue, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        worker.wait_ready()
        return worker

    start.queue = queue
    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        client.delete(queue)
        client.close()
