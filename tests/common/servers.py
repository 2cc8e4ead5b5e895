"""Real servers for the tests: gunicorn (free port, production settings, always stopped), an SMTP server, and
moto's S3 stand-in as a process of its own."""

import contextlib
import email
import email.policy
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

from tests.support import database_url, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
METRICS_TOKEN = "metrics-token-for-tests-0123456789"


def production_env(**overrides) -> dict:
    """Environment for config.settings.production on this machine (secrets are test values)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "OTEL_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="gunicorn-test-secret-key-0123456789abcdef0123456789",
        JWT_SIGNING_KEY="gunicorn-test-jwt-key-0123456789abcdef0123456789",
        AUDIT_HMAC_KEY="gunicorn-test-audit-key-0123456789abcdef0123456789",
        SECRETS_ENCRYPTION_KEY="Z3VuaWNvcm4tdGVzdC1zZWNyZXRzLWtleS0wMTIzNDU=",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.CACHES["default"]["LOCATION"],
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        METRICS_TOKEN=METRICS_TOKEN,
        THROTTLE_AUTH="100000/minute",
        THROTTLE_ANON="100000/minute",
        THROTTLE_USER="100000/minute",
        THROTTLE_OAUTH_TOKEN="100000/minute",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Gunicorn:
    """`gunicorn -c config/gunicorn.conf.py config.wsgi` on a free port; stdout captured to a file."""

    def __init__(self, *, workers: int = 1, multiproc_dir: str | None = None, port: int | None = None, **env_overrides):
        self.port = port or free_port()  # a port of its own, or the one of a master it replaces
        self.workers = workers
        self.multiproc_dir = multiproc_dir
        self.env = production_env(**env_overrides)
        if multiproc_dir:
            self.env["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
        self.env.update(GUNICORN_BIND=f"127.0.0.1:{self.port}", GUNICORN_WORKERS=str(workers))
        self._log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [GUNICORN, "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError):
                # Probe /metrics, so that tests count their own /health/ and API requests exactly.
                if self.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})[0] == 200:
                    self._wait_workers(deadline)
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{self.output()}")

    def _wait_workers(self, deadline: float) -> None:
        """All workers booted (each writes 'Booting worker'), so that requests spread over them."""
        while time.monotonic() < deadline and self.output().count("Booting worker") < self.workers:
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def output(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def request(self, method: str, path: str, *, body=None, headers=None) -> tuple[int, dict, bytes]:
        """One request on a new connection (so that the master hands it to any worker)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = json.dumps(body) if body is not None else None
            all_headers = {"Host": "127.0.0.1", **(headers or {})}
            if payload is not None:
                all_headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=all_headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def scrape(self) -> str:
        status, _, body = self.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert status == 200, body
        return body.decode()


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts, for the mail tests.

    `port` is chosen at construction, so a test can configure processes with it before the server listens."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list = []
        self._controller = None

    @property
    def url(self) -> str:
        """The EMAIL_URL of this server (django-environ's form)."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # aiosmtpd's hook name
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                server.messages.append({"to": list(envelope.rcpt_tos), "message": parsed})
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list:
        """The messages received for `address`, oldest first (each an email.message.EmailMessage)."""
        return [m["message"] for m in self.messages if address in m["to"]]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class MotoS3Server:
    """moto's standalone server (`moto_server`) as a process of its own on a free port: an S3 stand-in whose state
    dies with it. Two of them stand in for two regions (ThreadedMotoServer in one process shares one state).

    Like ThreadedMotoServer it does not reproduce S3's durability, KMS or replication."""

    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  # the server writes to it until __exit__ closes it

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoS3Server":
        moto = str(Path(sys.executable).with_name("moto_server"))
        self.proc = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(self.port)], stdout=self._log, stderr=subprocess.STDOUT
        )

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                self._log.seek(0)
                raise AssertionError(f"moto_server exited: {self._log.read()[-2000:]!r}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/moto-api/")
                return conn.getresponse().status < 500
            finally:
                conn.close()

        wait_for(up, timeout=30, message=f"moto_server on port {self.port}")
        return self

    def stop(self) -> None:
        """Stop the server (the region goes away, and its objects with it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self._log.close()
