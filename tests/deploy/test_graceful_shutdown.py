"""Graceful shutdown on real processes: gunicorn's master on SIGTERM turns readiness 503 while it still serves,
then drains its workers within graceful_timeout; a Celery worker's soft shutdown hands its tasks back."""

import os
import signal
import socket
import threading
import time

import pytest

from projects.models import Role
from tests.common.servers import Gunicorn
from tests.factories import MembershipFactory, WorkflowFactory
from tests.support import wait_for
from workflows import services
from workflows.models import Execution, ExecutionStatus, StepRun, StepStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DRAIN_SECONDS = 5  # room for the probes below on a loaded machine


def slow_request(port: int, first_part_sent: threading.Event, finish_at: float, result: dict) -> None:
    """A POST whose body arrives in two parts: the worker is busy with it across the SIGTERM and the drain."""
    body = b'{"email": "nobody@example.com", "password": "not-the-password"}'
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/auth/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body[:10]
        )
        first_part_sent.set()
        time.sleep(max(finish_at - time.monotonic(), 0))
        sock.sendall(body[10:])
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    result["status_line"] = response.split(b"\r\n", 1)[0].decode()


@pytest.fixture
def web():
    with Gunicorn(workers=2, GUNICORN_DRAIN_SECONDS=DRAIN_SECONDS, GUNICORN_GRACEFUL_TIMEOUT=10) as server:
        yield server


def test_sigterm_turns_readiness_503_while_requests_are_still_served_then_drains(web):
    assert web.request("GET", "/health/ready/")[0] == 200
    sent, result = threading.Event(), {}
    finish_at = time.monotonic() + DRAIN_SECONDS + 2  # after the drain window: the sockets are closed by then
    client = threading.Thread(target=slow_request, args=(web.port, sent, finish_at, result))
    client.start()
    assert sent.wait(timeout=10)
    time.sleep(0.3)  # the worker has accepted the connection and reads the body

    signalled = time.monotonic()
    os.kill(web.process.pid, signal.SIGTERM)  # the master only, as Kubernetes signals PID 1
    status, _, body = wait_for(
        lambda: (answer := web.request("GET", "/health/ready/"))[0] == 503 and answer,
        timeout=DRAIN_SECONDS,
        interval=0.05,
        message="readiness to answer 503 after SIGTERM",
    )
    assert b'"failing": ["shutdown"]' in body
    during_drain = [web.request("GET", "/health/live/")[0] for _ in range(3)]
    assert during_drain == [200] * 3
    assert time.monotonic() - signalled < DRAIN_SECONDS  # all of that inside the drain window

    client.join(timeout=30)
    assert result["status_line"].startswith("HTTP/1.1 401"), result  # the in-flight request got its answer
    assert web.process.wait(timeout=20) == 0
    elapsed = time.monotonic() - signalled
    assert DRAIN_SECONDS <= elapsed < DRAIN_SECONDS + 10  # drain window, then within graceful_timeout
    with pytest.raises(OSError):
        web.request("GET", "/health/live/")
    assert "Draining: readiness answers 503" in web.output()


def test_a_second_sigterm_stops_at_once_without_the_drain_window(web):
    os.kill(web.process.pid, signal.SIGTERM)
    wait_for(lambda: web.request("GET", "/health/ready/")[0] == 503, timeout=DRAIN_SECONDS, interval=0.05)
    signalled = time.monotonic()
    os.kill(web.process.pid, signal.SIGTERM)

    assert web.process.wait(timeout=20) == 0
    assert time.monotonic() - signalled < DRAIN_SECONDS


def test_worker_soft_shutdown_hands_the_running_execution_back(start_worker, local_server):
    workflow = WorkflowFactory(
        definition={
            "steps": [
                {"id": "first", "type": "http", "config": {"url": local_server.url("/hit/first")}},
                {
                    "id": "second",
                    "type": "http",
                    "depends_on": ["first"],
                    "config": {"url": local_server.url("/block/second")},
                    "timeout_seconds": 60,
                },
            ]
        }
    )
    actor = MembershipFactory(project=workflow.project, role="editor").user
    # As deploy/k8s/base/worker.yaml runs it: SIGTERM is Celery's soft shutdown (2 s here), then a cold one.
    first = start_worker(REMAP_SIGTERM="SIGQUIT")
    execution, _ = services.execution_start(role=Role.EDITOR, workflow=workflow, input={}, actor=actor)
    assert local_server.entered.wait(timeout=30), "step 2 never reached the local server"

    signalled = time.monotonic()
    os.kill(first.proc.pid, signal.SIGTERM)  # the main process only, as Kubernetes signals PID 1
    first.proc.wait(timeout=30)
    stopped_after = time.monotonic() - signalled
    local_server.release.set()
    assert stopped_after < 15, stopped_after  # soft-shutdown timeout plus the cold shutdown, not the step's 60 s
    assert "soft shutdown" in first.log().lower()

    start_worker()
    finished = wait_for(
        lambda: Execution.objects.filter(pk=execution.pk, status__in=["completed", "failed", "cancelled"]).first(),
        timeout=60,
        message="the execution handed back to finish on the next worker",
    )
    assert finished.status == ExecutionStatus.COMPLETED, finished.error
    steps = {run.step_id: run for run in StepRun.objects.filter(execution=execution)}
    assert steps["first"].attempts == 1  # the finished step is not run again
    assert steps["second"].status == StepStatus.COMPLETED
    assert local_server.hits == {"/hit/first": 1, "/block/second": 2}
