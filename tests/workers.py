"""Real Celery worker processes for the tests (`start_worker`), in their own process groups."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.support import database_url

ROOT = Path(__file__).resolve().parents[1]
CELERY = str(Path(sys.executable).with_name("celery"))


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
