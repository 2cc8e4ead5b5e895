"""Product metrics (prefix `aiassistant_`), recorded explicitly by services and tasks.

Labels are bounded enums only: never user, project, workflow or execution ids, model names or paths.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

WORKFLOW_EXECUTIONS = Counter(
    "aiassistant_workflow_executions_total", "Workflow executions that reached a final status.", ["status"]
)
WORKFLOW_EXECUTION_DURATION = Histogram(
    "aiassistant_workflow_execution_duration_seconds",
    "Wall time of finished workflow executions.",
    ["status"],
    buckets=_DURATION_BUCKETS,
)
WORKFLOW_STEP_DURATION = Histogram(
    "aiassistant_workflow_step_duration_seconds",
    "Wall time of finished workflow steps.",
    ["step_type", "status"],
    buckets=_DURATION_BUCKETS,
)
WORKFLOW_STEP_FAILURES = Counter(
    "aiassistant_workflow_step_failures_total", "Workflow steps that failed (after retries).", ["step_type"]
)
LLM_TOKENS = Counter("aiassistant_llm_tokens_total", "LLM tokens used by llm steps.", ["kind"])
LOGIN_ATTEMPTS = Counter("aiassistant_login_attempts_total", "Login attempts by result.", ["result"])


def record_execution_finished(*, status: str, duration_seconds: float) -> None:
    WORKFLOW_EXECUTIONS.labels(status=status).inc()
    WORKFLOW_EXECUTION_DURATION.labels(status=status).observe(duration_seconds)


def record_step_finished(*, step_type: str, status: str, duration_seconds: float) -> None:
    WORKFLOW_STEP_DURATION.labels(step_type=step_type, status=status).observe(duration_seconds)
    if status == "failed":
        WORKFLOW_STEP_FAILURES.labels(step_type=step_type).inc()


def record_llm_tokens(*, prompt_tokens: int, completion_tokens: int) -> None:
    LLM_TOKENS.labels(kind="prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(kind="completion").inc(completion_tokens)


def record_login(*, result: str) -> None:
    LOGIN_ATTEMPTS.labels(result=result).inc()


# --- Active users: computed at scrape time from the shared cache, so every worker process agrees -----------------

ACTIVE_USERS_WINDOW_SECONDS = 15 * 60
_SEEN_WRITE_INTERVAL = 60  # write a user's last-seen at most once a minute per process
_ACTIVE_USERS_KEY = "metrics:active_users"
_last_written: dict[str, float] = {}
_last_written_lock = threading.Lock()


def _redis_client():
    """The raw Redis client behind the default cache, or None when the cache is not django-redis."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client.get_client(write=True)


def user_seen(user_id: str, *, now: float | None = None) -> None:
    """Note that a user made an authenticated request (cheap: one cache write per user per minute)."""
    now = time.time() if now is None else now
    with _last_written_lock:
        if now - _last_written.get(user_id, 0.0) < _SEEN_WRITE_INTERVAL:
            return
        _last_written[user_id] = now
        if len(_last_written) > 100_000:  # bound the per-process memo
            _last_written.clear()
    try:
        redis = _redis_client()
        if redis is not None:
            key = cache.make_key(_ACTIVE_USERS_KEY)
            pipe = redis.pipeline()
            pipe.zadd(key, {user_id: now})
            pipe.zremrangebyscore(key, 0, now - ACTIVE_USERS_WINDOW_SECONDS)
            pipe.expire(key, ACTIVE_USERS_WINDOW_SECONDS * 2)
            pipe.execute()
        else:  # single-process caches (embedded default): a small dict under one key
            seen = {
                uid: ts
                for uid, ts in (cache.get(_ACTIVE_USERS_KEY) or {}).items()
                if ts > now - ACTIVE_USERS_WINDOW_SECONDS
            }
            seen[user_id] = now
            cache.set(_ACTIVE_USERS_KEY, seen, ACTIVE_USERS_WINDOW_SECONDS * 2)
    except Exception:  # a metric must never fail a request
        logger.warning("Could not record an active user", exc_info=True)


def active_users_count(*, now: float | None = None) -> int:
    """Users seen in the last 15 minutes."""
    now = time.time() if now is None else now
    redis = _redis_client()
    if redis is not None:
        return int(redis.zcount(cache.make_key(_ACTIVE_USERS_KEY), now - ACTIVE_USERS_WINDOW_SECONDS, "+inf"))
    seen = cache.get(_ACTIVE_USERS_KEY) or {}
    return sum(1 for ts in seen.values() if ts > now - ACTIVE_USERS_WINDOW_SECONDS)


class ActiveUsersCollector:
    """aiassistant_active_users: a gauge computed at scrape time (correct whatever the number of workers)."""

    def collect(self):
        try:
            value = active_users_count()
        except Exception:  # the cache being down must not break the whole scrape
            logger.warning("Could not count active users", exc_info=True)
            return
        yield GaugeMetricFamily(
            "aiassistant_active_users", "Users seen (authenticated requests) in the last 15 minutes.", value=value
        )


# --- Celery queue depth ------------------------------------------------------------------------------------------

# kombu's Redis transport keeps priorities 3, 6 and 9 in sibling lists named queue + separator + priority.
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (3, 6, 9)


def celery_queue_names() -> list[str]:
    """The queues workers consume: CELERY_TASK_QUEUES names if set, else the default queue."""
    queues = getattr(settings, "CELERY_TASK_QUEUES", None)  # not set by base.py: an operator's routing
    if queues:
        names = [q if isinstance(q, str) else getattr(q, "name", None) for q in queues]
        return [name for name in names if name]
    return [settings.CELERY_TASK_DEFAULT_QUEUE]


class CeleryQueueCollector:
    """aiassistant_celery_queue_length{queue}: messages waiting in the broker (Redis: LLEN).

    Other brokers (RabbitMQ, the filesystem transport) have no cheap LLEN here: the series is absent, and
    RabbitMQ's own exporter covers them.
    """

    def __init__(self):
        self._client = None
        self._url = None

    def _redis(self):
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return None
        if self._client is None or self._url != url:
            import redis

            self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            self._url = url
        return self._client

    def collect(self):
        client = self._redis()
        if client is None:
            return
        family = GaugeMetricFamily(
            "aiassistant_celery_queue_length", "Tasks waiting in the Celery broker queue.", labels=["queue"]
        )
        try:
            for queue in celery_queue_names():
                pipe = client.pipeline(transaction=False)
                pipe.llen(queue)
                for step in _KOMBU_PRIORITY_STEPS:
                    pipe.llen(f"{queue}{_KOMBU_PRIORITY_SEP}{step}")
                family.add_metric([queue], sum(pipe.execute()))
        except Exception:  # broker down: no sample (the queue-backlog alert must not see 0)
            logger.warning("Could not read the Celery queue length", exc_info=True)
            return
        yield family


# --- Migrations: django-prometheus' gauges, computed at scrape time (not at every process start) -----------------


def migration_state(alias: str = "default"):
    """(applied migration keys, plan of unapplied migrations) for one database: health and metrics share it."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    return executor.loader.applied_migrations, executor.migration_plan(executor.loader.graph.leaf_nodes())


class MigrationsCollector:
    """django_migrations_applied_total / django_migrations_unapplied_total{connection}, cached for a minute.

    django-prometheus sets these from AppConfig.ready(), which needs the database at every process start
    (a down database would stop workers from booting) and leaves one series per pid in multiprocess mode.
    """

    ttl = 60.0

    def __init__(self):
        self._cached: tuple[float, dict[str, tuple[int, int]]] | None = None

    def _counts(self) -> dict[str, tuple[int, int]]:
        from django.db import connections

        counts = {}
        for alias in connections:
            applied, plan = migration_state(alias)
            counts[alias] = (len(applied), len(plan))
        return counts

    def collect(self):
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.ttl:
            try:
                self._cached = (now, self._counts())
            except Exception:  # database down: no sample
                logger.warning("Could not count migrations", exc_info=True)
                return
        applied = GaugeMetricFamily(
            "django_migrations_applied_total",
            "Count of applied migrations by database connection",
            labels=["connection"],
        )
        unapplied = GaugeMetricFamily(
            "django_migrations_unapplied_total",
            "Count of unapplied migrations by database connection",
            labels=["connection"],
        )
        for alias, (done, pending) in self._cached[1].items():
            applied.add_metric([alias], done)
            unapplied.add_metric([alias], pending)
        yield applied
        yield unapplied
