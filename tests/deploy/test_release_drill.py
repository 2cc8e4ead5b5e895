"""The release drill, on real processes: under a steady API load with executions running, (a) HUP gunicorn (every
worker replaced), (b) a second gunicorn instance takes the traffic while the first master is fully restarted, (c)
the Celery worker is restarted twice (SIGTERM: soft shutdown). Result: 0 failed requests, every execution
completed, each step run once.

The load balancer is a client-side stand-in (`Balancer`), doing what a real one does and no more: it probes each
instance's /health/ready/ every PROBE_INTERVAL and sends only to the ready ones, round robin; it retries on another
instance only when the TCP connect itself was refused (nothing was sent: what nginx's `proxy_next_upstream error`
and Envoy's connect-failure retry do, for any method). A request that was sent and then failed (reset, timeout, a
5xx) counts as failed, never retried.
"""

import http.client
import itertools
import json
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from projects.models import Role
from tests.common.servers import Gunicorn
from tests.factories import MembershipFactory, WorkflowFactory
from tests.support import wait_for
from tests.workflows.conftest import LocalServer
from workflows.models import Execution, ExecutionStatus, StepRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROBE_INTERVAL = 0.2
# As a Kubernetes readiness probe's failureThreshold: an instance leaves after this many failed probes in a row (a
# 503 or no answer), so that one probe starved of CPU on a loaded machine does not empty the pool.
FAILURE_THRESHOLD = 2
DRAIN_SECONDS = 2  # > PROBE_INTERVAL: an instance serves until the balancer has seen it go unready
CLIENTS = 3
STEADY = 3.0  # seconds of plain load between the release steps
TERMINAL = ("completed", "failed", "cancelled")
WEB_WORKERS = 2


class NoReadyBackend(Exception):
    """Every instance was unready or refused the connection."""


@dataclass
class Backend:
    """One gunicorn instance as the balancer sees it."""

    port: int
    ready: bool = False
    failed_probes: int = 0

    def probed(self, ok: bool) -> None:
        self.failed_probes = 0 if ok else self.failed_probes + 1
        self.ready = ok or (self.ready and self.failed_probes < FAILURE_THRESHOLD)


@dataclass
class Balancer:
    """Client-side stand-in for the load balancer (see the module docstring)."""

    backends: list[Backend] = field(default_factory=list)
    connect_retries: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _rr: itertools.count = field(default_factory=itertools.count)

    def add(self, port: int) -> Backend:
        backend = Backend(port)
        self.backends.append(backend)
        return backend

    def _probe_forever(self) -> None:
        while not self._stop.is_set():
            for backend in list(self.backends):
                backend.probed(probe_ready(backend.port))
            self._stop.wait(PROBE_INTERVAL)

    def start(self) -> "Balancer":
        threading.Thread(target=self._probe_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def request(self, method: str, path: str, *, body=None, token: str) -> tuple[int, dict]:
        payload = json.dumps(body) if body is not None else None
        headers = {"Host": "127.0.0.1", "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for _ in range(20):
            ready = [b for b in self.backends if b.ready]
            if not ready:  # a real balancer would answer 503 at once: counted as a failure after 1 s
                time.sleep(0.05)
                continue
            backend = ready[next(self._rr) % len(ready)]
            conn = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=30)
            try:
                conn.connect()
            except ConnectionRefusedError:
                self.connect_retries += 1  # nothing was sent: safe to try another instance
                backend.ready = False
                continue
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                return response.status, json.loads(response.read() or b"{}")
            finally:
                conn.close()
        raise NoReadyBackend(path)


def probe_ready(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/health/ready/", headers={"Host": "127.0.0.1"})
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@dataclass
class Load:
    """CLIENTS threads, each in a loop: list the workflows, read one, start an execution, poll the last one."""

    balancer: Balancer
    token: str
    project_id: str
    workflow_id: str
    requests: int = 0
    phase: str = "steady"
    failures: list = field(default_factory=list)
    executions: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list = field(default_factory=list)
    _n: itertools.count = field(default_factory=itertools.count)

    def _call(self, method: str, path: str, expected: int, body=None) -> dict | None:
        try:
            status, payload = self.balancer.request(method, path, body=body, token=self.token)
        except Exception as exc:  # a reset, a timeout, no instance: a failed request
            status, payload = None, repr(exc)
        with self._lock:
            self.requests += 1
            if status != expected:
                self.failures.append((self.phase, method, path, status, str(payload)[:300]))
                return None
        return payload

    def _run(self) -> None:
        # One execution in flight per client (a new one once the last is finished): executions run throughout
        # the drill without a backlog piling up behind the worker.
        last, last_status = None, None
        while not self._stop.is_set():
            self._call("GET", f"/api/v1/projects/{self.project_id}/workflows/", 200)
            self._call("GET", f"/api/v1/workflows/{self.workflow_id}/", 200)
            if last is None or last_status in TERMINAL:
                n = next(self._n)
                path = f"/api/v1/workflows/{self.workflow_id}/executions/"
                started = self._call("POST", path, 202, body={"input": {"n": n}})
                if started:
                    with self._lock:
                        self.executions.append((started["id"], n))
                    last, last_status = started["id"], started["status"]
            else:
                polled = self._call("GET", f"/api/v1/executions/{last}/", 200)
                if polled:
                    last_status = polled["status"]

    def start(self) -> "Load":
        for _ in range(CLIENTS):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def web_instance(queue: str, port: int | None = None) -> Gunicorn:
    return Gunicorn(
        workers=WEB_WORKERS,
        port=port,
        GUNICORN_DRAIN_SECONDS=DRAIN_SECONDS,
        GUNICORN_GRACEFUL_TIMEOUT=10,
        WORKFLOW_EXECUTION_QUEUE=queue,
        QUOTA_EXECUTIONS_PER_DAY=0,
        QUOTA_LLM_TOKENS_PER_DAY=0,
    )


def sigterm_and_wait(process, timeout: float = 30) -> float:
    """SIGTERM to the main process only (as Kubernetes signals PID 1); the seconds it took to exit."""
    started = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=timeout) == 0
    return time.monotonic() - started


def login(server: Gunicorn, email: str, password: str) -> str:
    status, _, raw = server.request("POST", "/api/v1/auth/login/", body={"email": email, "password": password})
    assert status == 200, raw
    return json.loads(raw)["access_token"]


def test_release_drill_loses_no_request_and_no_execution(start_worker, local_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]  # as the server checks them
    workflow = WorkflowFactory(
        definition={
            "steps": [
                {"id": "fetch", "type": "http", "config": {"url": local_server.url("/slow/{{ input.n }}/fetch")}},
                {
                    "id": "notify",
                    "type": "http",
                    "depends_on": ["fetch"],
                    "config": {"url": local_server.url("/slow/{{ input.n }}/notify")},
                },
            ]
        }
    )
    user = MembershipFactory(project=workflow.project, role=Role.EDITOR).user
    user.set_password("drill-password-0123")
    user.save()
    figures: dict = {"clients": CLIENTS, "web_workers": WEB_WORKERS, "step_seconds": LocalServer.slow_seconds}
    worker = start_worker(REMAP_SIGTERM="SIGQUIT")  # as deploy/k8s/base/worker.yaml runs it
    first = web_instance(start_worker.queue).__enter__()
    second = None
    balancer = Balancer().start()
    load = None
    drill_started = time.monotonic()
    try:
        balancer.add(first.port)
        wait_for(lambda: all(b.ready for b in balancer.backends), timeout=30, message="the first instance ready")
        token = login(first, user.email, "drill-password-0123")
        load = Load(balancer, token, str(workflow.project_id), str(workflow.pk)).start()
        time.sleep(STEADY)

        # (a) HUP: the master starts new workers and lets the old ones finish their requests.
        load.phase = "hup"
        booted = first.output().count("Booting worker")
        os.kill(first.process.pid, signal.SIGHUP)
        wait_for(
            lambda: first.output().count("Booting worker") >= booted + WEB_WORKERS,
            timeout=60,
            message="every worker replaced after HUP",
        )
        time.sleep(STEADY)

        # (b) A second instance behind the balancer, then a full restart of the first master on its port.
        load.phase = "second instance, first master restart"
        second = web_instance(start_worker.queue).__enter__()
        balancer.add(second.port)
        wait_for(lambda: all(b.ready for b in balancer.backends), timeout=30, message="both instances ready")
        figures["first_master_stop_seconds"] = round(sigterm_and_wait(first.process), 2)
        first = web_instance(start_worker.queue, port=first.port).__enter__()
        wait_for(lambda: all(b.ready for b in balancer.backends), timeout=30, message="the restarted master ready")
        time.sleep(STEADY)

        # (c) The Celery worker restarted twice: soft shutdown hands back what runs, the next worker takes it.
        load.phase = "worker restarts"
        worker_stops = []
        for _ in range(2):
            worker_stops.append(round(sigterm_and_wait(worker.proc), 2))
            worker = start_worker(REMAP_SIGTERM="SIGQUIT")
            time.sleep(STEADY)
        figures["worker_stop_seconds"] = worker_stops
    finally:
        if load is not None:
            load.stop()
        balancer.stop()
        for server in (first, second):
            if server is not None:
                server.stop()
    load_stopped = time.monotonic()
    figures["load_seconds"] = round(load_stopped - drill_started, 1)

    ids = [execution_id for execution_id, _ in load.executions]
    deadline = time.monotonic() + 60
    while Execution.objects.filter(pk__in=ids).exclude(status__in=TERMINAL).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    figures.update(
        requests=load.requests,
        failed_requests=len(load.failures),
        connect_retries=balancer.connect_retries,
        executions=len(ids),
        seconds_to_finish_executions_after_the_load=round(time.monotonic() - load_stopped, 1),
    )
    print("release drill:", json.dumps(figures))

    assert load.failures == []
    # Readiness did the draining: the balancer never met a closed socket (its connect retry was never needed).
    assert balancer.connect_retries == 0
    assert len(ids) > 20  # the load really ran through the drill
    statuses = Counter(Execution.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {ExecutionStatus.COMPLETED: len(ids)}  # none lost, none stuck, none failed
    # Each step ran once: one call per step per execution at the local server, one attempt in the database.
    expected_hits = {f"/slow/{n}/{step}": 1 for _, n in load.executions for step in ("fetch", "notify")}
    assert local_server.hits == expected_hits
    attempts = set(StepRun.objects.filter(execution_id__in=ids).values_list("attempts", flat=True))
    assert attempts == {1}
    assert StepRun.objects.filter(execution_id__in=ids).count() == 2 * len(ids)
