"""Workers scale out on RabbitMQ as well as Redis: a real worker consuming from the local RabbitMQ runs an execution."""

import os

import pytest

from config.celery import app as celery_app
from tests.factories import WorkflowFactory
from tests.support import wait_for
from workflows.models import FINAL_STATUSES, Execution, ExecutionStatus, WorkflowVersion
from workflows.tasks import run_execution

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def test_an_execution_completes_on_a_worker_consuming_from_rabbitmq(start_worker):
    start_worker(CELERY_BROKER_URL=AMQP_URL)
    workflow = WorkflowFactory()
    execution = Execution.objects.create(
        workflow=workflow, workflow_version=WorkflowVersion.objects.get(workflow=workflow), input={"name": "Ada"}
    )
    with celery_app.connection_for_write(AMQP_URL) as connection:
        try:
            run_execution.apply_async(args=[str(execution.pk)], queue=start_worker.queue, connection=connection)
            done = wait_for(
                lambda: Execution.objects.filter(pk=execution.pk, status__in=FINAL_STATUSES).first(),
                timeout=60,
                message="the execution to finish on the RabbitMQ worker",
            )
        finally:
            connection.default_channel.queue_delete(start_worker.queue)
    assert (done.status, done.output) == (ExecutionStatus.COMPLETED, {"greeting": "HELLO ADA", "length": 9})
