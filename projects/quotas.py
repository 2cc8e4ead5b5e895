"""Per-project daily quotas: executions started and LLM tokens used per UTC day.

The limits are the settings' defaults (QUOTA_EXECUTIONS_PER_DAY, QUOTA_LLM_TOKENS_PER_DAY) unless the project
overrides them (the admin); 0 is unlimited. Use is counted in `QuotaUsage`, one row per project and day, with a
conditional UPDATE (`SET n = n + k WHERE n + k <= limit`): the database applies concurrent updates of the row one
after the other and re-checks the condition on the newest version, so across any number of processes no more
than the limit is ever granted, without a lock of our own.
"""

import datetime
import logging
import math

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from common.errors import QuotaExceeded
from projects.models import Project, QuotaUsage

logger = logging.getLogger("aiassistant.projects")

EXECUTIONS = "executions"
LLM_TOKENS = "llm_tokens"
QUOTAS = {
    EXECUTIONS: ("quota_executions_per_day", "QUOTA_EXECUTIONS_PER_DAY", "executions per day"),
    LLM_TOKENS: ("quota_llm_tokens_per_day", "QUOTA_LLM_TOKENS_PER_DAY", "LLM tokens per day"),
}
# Labels are the quota's name only: never a project id (docs/observability.md).
USED = Counter("aiassistant_quota_used_total", "Quota units granted (executions started, LLM tokens).", ["quota"])
REFUSED = Counter("aiassistant_quota_refused_total", "Requests refused because a quota was used up.", ["quota"])


def today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def seconds_until_renewal(now: datetime.datetime | None = None) -> int:
    """Seconds until the next UTC midnight, when every daily quota starts again (at least 1)."""
    now = (now or timezone.now()).astimezone(datetime.UTC)
    midnight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC)
    return max(1, math.ceil((midnight - now).total_seconds()))


def limit(project: Project, quota: str) -> int:
    """The project's daily limit for `quota` (0: unlimited)."""
    field, setting, _ = QUOTAS[quota]
    override = getattr(project, field)
    return int(getattr(settings, setting) if override is None else override)


def _grant(project_id, quota: str, amount: int, maximum: int) -> bool:
    """Add `amount` to today's use if it stays within `maximum` (0: unlimited, nothing counted).

    One statement, atomic under concurrency (the database's upsert, not a lock of ours): the day's row is created
    with `amount`, or its count raised by `amount` only where the result stays within `maximum`.
    """
    if not maximum:
        return True
    if amount > maximum:
        return False
    meta = QuotaUsage._meta
    table, column = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(quota)
    values = [
        meta.get_field("project").get_db_prep_value(project_id, connection),
        meta.get_field("day").get_db_prep_value(today(), connection),
        amount if quota == EXECUTIONS else 0,
        amount if quota == LLM_TOKENS else 0,
        maximum,
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (project_id, day, executions, llm_tokens) VALUES (%s, %s, %s, %s) "  # noqa: S608 (names from the model)  # nosec B608
            f"ON CONFLICT (project_id, day) DO UPDATE SET {column} = {table}.{column} + EXCLUDED.{column} "
            f"WHERE {table}.{column} + EXCLUDED.{column} <= %s RETURNING 1",
            values,
        )
        return cursor.fetchone() is not None


def _refuse(project: Project, quota: str, maximum: int, message: str) -> QuotaExceeded:
    REFUSED.labels(quota=quota).inc()
    wait = seconds_until_renewal()
    return QuotaExceeded(
        f"{message} This project's quota is {maximum} {QUOTAS[quota][2]}; it renews at 00:00 UTC (in {wait} s).",
        quota=quota,
        retry_after_seconds=wait,
    )


def execution_consume(*, project: Project) -> None:
    """Count one execution start against today's quota, or raise QuotaExceeded (in the caller's transaction: an
    execution that is not created gives its unit back)."""
    maximum = limit(project, EXECUTIONS)
    if not _grant(project.pk, EXECUTIONS, 1, maximum):
        raise _refuse(project, EXECUTIONS, maximum, "The daily execution quota of this project is used up.")
    USED.labels(quota=EXECUTIONS).inc()


def llm_tokens_reserve(*, project: Project, tokens: int) -> None:
    """Reserve `tokens` (an estimate of a call) of today's LLM token quota before the call, or raise
    QuotaExceeded when the call would take the project over it."""
    maximum = limit(project, LLM_TOKENS)
    if not _grant(project.pk, LLM_TOKENS, tokens, maximum):
        raise _refuse(
            project,
            LLM_TOKENS,
            maximum,
            f"This llm call (about {tokens} tokens) would exceed the daily LLM token quota of the project.",
        )


def llm_tokens_settle(*, project_id, reserved: int, used: int) -> None:
    """After the call: replace the reservation by the tokens the provider reported (none when it failed). The
    provider has already spent them, so this may take the project past its limit; the next call is refused."""
    if used != reserved:
        QuotaUsage.objects.filter(project_id=project_id, day=today()).update(
            llm_tokens=F("llm_tokens") + used - reserved
        )
    if used:
        USED.labels(quota=LLM_TOKENS).inc(used)


def usage_today(*, project: Project) -> dict[str, int]:
    row = QuotaUsage.objects.filter(project=project, day=today()).values(EXECUTIONS, LLM_TOKENS).first()
    return row or {EXECUTIONS: 0, LLM_TOKENS: 0}


class QuotaCollector:
    """At scrape time, from today's usage rows: projects that used all of a quota, and the highest share of a
    quota any project used (aiassistant_quota_projects_exhausted, aiassistant_quota_max_used_ratio)."""

    def collect(self):
        exhausted = GaugeMetricFamily(
            "aiassistant_quota_projects_exhausted", "Projects that used all of a daily quota today.", labels=["quota"]
        )
        highest = GaugeMetricFamily(
            "aiassistant_quota_max_used_ratio",
            "The highest share of a daily quota any project used today (0 to 1 or more).",
            labels=["quota"],
        )
        try:
            rows = list(
                QuotaUsage.objects.filter(day=today()).values_list(
                    EXECUTIONS, LLM_TOKENS, "project__quota_executions_per_day", "project__quota_llm_tokens_per_day"
                )
            )
        except Exception:  # the database being down must not break the whole scrape
            logger.warning("Could not read quota usage", exc_info=True)
            return
        for index, quota in enumerate((EXECUTIONS, LLM_TOKENS)):
            default = int(getattr(settings, QUOTAS[quota][1]))
            count, ratio = 0, 0.0
            for row in rows:
                maximum = default if row[index + 2] is None else row[index + 2]
                if maximum:
                    count += row[index] >= maximum
                    ratio = max(ratio, row[index] / maximum)
            exhausted.add_metric([quota], count)
            highest.add_metric([quota], ratio)
        yield exhausted
        yield highest
