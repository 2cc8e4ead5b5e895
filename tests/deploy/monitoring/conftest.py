"""Helpers for the monitoring tests: the real promtool/amtool/prometheus binaries, free ports, bounded waits."""

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port, wait_for

REPO = Path(__file__).resolve().parents[3]
MONITORING = REPO / "deploy" / "monitoring"


def require_binary(name: str) -> str:
    """Path of a system binary; the test fails (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: run `make system-deps` (Debian packages prometheus, prometheus-alertmanager)"
        )
    return path


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command and return its completed process (stdout and stderr as text)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a process we started (SIGTERM, then SIGKILL after 10 s) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def http_get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    """GET a URL; returns (status, body) for any HTTP status, raises OSError when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})  # local test servers only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Prometheus:
    """A real Prometheus server (Debian's binary) on a free port, with its own config and storage."""

    def __init__(self, workdir: Path, config: str):
        self.binary = require_binary("prometheus")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(config)
        self.log_path = workdir / "prometheus.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(self._ready, timeout=30, message=f"Prometheus on port {self.port} to be ready")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"prometheus exited with {self.proc.returncode}: {self.log_path.read_text()}")
        status, _ = http_get(f"{self.url}/-/ready")
        return status == 200

    def query(self, expr: str) -> dict:
        """Instant query through the HTTP API; returns the decoded JSON answer (success or error)."""
        status, body = http_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
        answer = json.loads(body)
        answer["http_status"] = status
        return answer

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()
