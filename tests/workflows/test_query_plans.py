"""The reads whose cost must stay flat in the table's size (issue 13, goal 4; bench/scale.py measures them at 1M rows).

On a modest table the planner may prefer a Seq Scan, so each plan is asked for with `enable_seqscan = off`: what
is asserted is that an index able to answer the query exists and that the query is written so that it can be
used (an index condition on the column it filters by), and that no statement counts the whole list.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.pagination import OneQueryPaginator
from tests.conftest import client_for
from tests.factories import MembershipFactory, WorkflowFactory
from workflows import services
from workflows.models import Execution, ExecutionStatus, StepRun

pytestmark = pytest.mark.django_db

EXECUTIONS = 60
OTHERS = 300  # executions of another workflow, all newer: a scan of the global created_at index would skip them


@pytest.fixture
def workflow_with_history():
    """A workflow with EXECUTIONS finished executions (3 step runs each), an owner, and one stale running one; and
    OTHERS newer executions of another workflow."""
    other = WorkflowFactory()
    Execution.objects.bulk_create(
        Execution(workflow=other, workflow_version=other.versions.get(), status=ExecutionStatus.COMPLETED)
        for _ in range(OTHERS)
    )
    workflow = WorkflowFactory()
    owner = MembershipFactory(project=workflow.project, role="owner").user
    version = workflow.versions.get()
    now = timezone.now()
    executions = Execution.objects.bulk_create(
        Execution(workflow=workflow, workflow_version=version, status=ExecutionStatus.COMPLETED, input={"n": n})
        for n in range(EXECUTIONS)
    )
    for n, execution in enumerate(executions):  # distinct creation times, older than the other workflow's
        execution.created_at = now - timedelta(hours=1, minutes=n)
    Execution.objects.bulk_update(executions, ["created_at"])
    StepRun.objects.bulk_create(
        StepRun(execution=execution, step_id=step, type="transform", status="completed")
        for execution in executions
        for step in ("greet", "shout", "count")
    )
    Execution.objects.filter(pk=executions[5].pk).update(
        status=ExecutionStatus.RUNNING, heartbeat_at=now - timedelta(hours=1)
    )
    connection.cursor().execute("ANALYZE workflows_execution, workflows_steprun")
    return workflow, owner, executions


def _statements(call, table: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        call()
    return [q["sql"] for q in captured.captured_queries if f'FROM "{table}"' in q["sql"]]


def _plan(sql: str, *, ordered: bool = False) -> str:
    """EXPLAIN of a captured statement with sequential scans disabled (in a transaction rolled back); `ordered`:
    sorts and bitmap scans too, to ask whether an index yields the page's order (at 1M rows the planner's choice)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if ordered:
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    return plan


def test_v1_execution_list_counts_at_most_the_exact_limit_not_the_whole_list(workflow_with_history):
    workflow, owner, _ = workflow_with_history
    statements = _statements(
        lambda: client_for(owner).get(f"/api/v1/workflows/{workflow.id}/executions/"), "workflows_execution"
    )
    assert len(statements) == 1, statements
    assert "OVER ()" not in statements[0]
    assert f"LIMIT {OneQueryPaginator.EXACT_COUNT_LIMIT + 1}" in statements[0]


def test_v1_execution_list_uses_the_workflow_index(workflow_with_history):
    workflow, owner, _ = workflow_with_history
    [statement] = _statements(
        lambda: client_for(owner).get(f"/api/v1/workflows/{workflow.id}/executions/"), "workflows_execution"
    )
    plan = _plan(statement, ordered=True)
    assert "Seq Scan on workflows_execution" not in plan, plan
    assert "Index Scan using execution_workflow_created_id on workflows_execution " in plan, plan


def test_v2_execution_list_and_its_next_page_count_nothing_and_use_the_workflow_index(workflow_with_history):
    workflow, owner, _ = workflow_with_history
    client = client_for(owner)
    url = f"/api/v2/workflows/{workflow.id}/executions/"
    cursor = client.get(url).json()["pagination"]["next_cursor"]
    for path in (url, f"{url}?cursor={cursor}"):
        [statement] = _statements(lambda path=path: client.get(path), "workflows_execution")
        assert "COUNT(" not in statement.upper(), statement
        plan = _plan(statement, ordered=True)
        assert "Seq Scan on workflows_execution" not in plan, plan
        assert "Index Scan using execution_workflow_created_id on workflows_execution " in plan, plan
        assert "Sort" not in plan, plan  # the index holds the cursor's whole order: no sort of ties


def test_execution_detail_reads_its_step_runs_by_index(workflow_with_history):
    _, owner, executions = workflow_with_history
    [statement] = _statements(
        lambda: client_for(owner).get(f"/api/v1/executions/{executions[0].id}/"), "workflows_steprun"
    )
    plan = _plan(statement)
    assert "Seq Scan on workflows_steprun" not in plan, plan
    assert f"execution_id = '{executions[0].id}'::uuid" in plan, plan


def test_stale_sweep_finds_running_and_pending_executions_through_the_status_index(workflow_with_history, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda execution_id: None)  # the statements are the point here
    statements = [
        sql for sql in _statements(services.executions_recover_stale, "workflows_execution") if sql.startswith("SELECT")
    ]
    assert len(statements) == 2, statements
    for statement in statements:
        plan = _plan(statement)
        assert "Seq Scan on workflows_execution" not in plan, plan
        assert "execution_status_heartbeat" in plan, plan
        assert re.search(r"Index Cond: \(+\(status\)::text = ", plan), plan


def test_executions_have_no_index_on_created_at_alone():
    # With one, PostgreSQL read a workflow's page from it newest first and filtered by workflow: for a big workflow
    # that went quiet it skipped every newer execution of the others (0.7 s at 1M rows, bench/scale.py).
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "workflows_execution")
    assert [name for name, c in constraints.items() if c["index"] and c["columns"] == ["created_at"]] == []
