"""Health endpoints on django-health-check 4.x: liveness, readiness (503 naming the failing check), details.

/health/live/      the process answers; no dependency is touched (liveness probes).
/health/ready/     database, cache, broker and migrations; 503 with the failing checks named (readiness probes).
/health/detailed/  every check with status, latency and message, plus storage, disk, memory, CPU, uptime and
                   version; for staff (session) or the metrics token.
"""

import asyncio
import dataclasses
import datetime
import time
from typing import Any

import psutil
from django.conf import settings
from django.core.files.storage import InvalidStorageError, storages
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.psutil import CPU, Disk, Memory
from health_check.exceptions import ServiceUnavailable, ServiceWarning
from health_check.views import HealthCheckView

from common import shutdown
from common.metrics import migration_state
from common.metrics_view import bearer_token_valid

STARTED_AT = time.monotonic()


@dataclasses.dataclass
class CacheCheck(Cache):
    """The cache can set and get a key; django-redis' ConnectionInterrupted counts as unavailable."""

    def __repr__(self) -> str:
        return "cache"

    async def run(self):
        try:
            await super().run()
        except ServiceUnavailable:
            raise
        except Exception as exc:
            if exc.__class__.__name__ in ("ConnectionInterrupted",) or isinstance(exc, OSError):
                raise ServiceUnavailable("cache unreachable") from exc
            raise


@dataclasses.dataclass
class DatabaseCheck(Database):
    """SELECT 1 on the default database."""

    def __repr__(self) -> str:
        return "database"


@dataclasses.dataclass
class MigrationsCheck(HealthCheck):
    """Every migration on disk is applied (a deploy that forgot `migrate` is not ready).

    Once all are applied the answer cannot change for this code version, so it is remembered per process.
    """

    alias: str = "default"

    def __repr__(self) -> str:
        return "migrations"

    def run(self):
        if _MIGRATIONS_APPLIED.get(self.alias):
            return
        try:
            _, plan = migration_state(self.alias)
        except Exception as exc:
            raise ServiceUnavailable("cannot read the migration state") from exc
        finally:
            connections.close_all()  # this runs in an executor thread: do not leave its connection open
        if plan:
            names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:5])
            raise ServiceUnavailable(f"{len(plan)} unapplied migration(s): {names}")
        _MIGRATIONS_APPLIED[self.alias] = True


_MIGRATIONS_APPLIED: dict[str, bool] = {}


@dataclasses.dataclass
class BrokerCheck(HealthCheck):
    """The Celery broker accepts a connection (Redis: PING; others: a kombu connection)."""

    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=3), repr=False)

    def __repr__(self) -> str:
        return "broker"

    def run(self):
        url = settings.CELERY_BROKER_URL
        if not url:
            raise ServiceUnavailable("CELERY_BROKER_URL is not set")
        seconds = self.timeout.total_seconds()
        try:
            if url.startswith(("redis://", "rediss://")):
                import redis

                client = redis.Redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
                try:
                    client.ping()
                finally:
                    client.close()
            else:
                from kombu import Connection

                options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
                with Connection(url, connect_timeout=seconds, transport_options=options) as connection:
                    connection.ensure_connection(max_retries=1, timeout=seconds)
        except Exception as exc:
            raise ServiceUnavailable("broker unreachable") from exc


@dataclasses.dataclass
class StorageCheck(HealthCheck):
    """The backups storage can be listed (read-only: never writes a file, on S3 least of all)."""

    alias: str = "backups"

    def __repr__(self) -> str:
        return "storage"

    def run(self):
        try:
            storage = storages[self.alias]
        except InvalidStorageError as exc:
            raise ServiceWarning(f"no storage named {self.alias!r}") from exc
        try:
            storage.listdir("")
        except FileNotFoundError as exc:
            raise ServiceWarning("the backup folder does not exist yet") from exc
        except Exception as exc:
            raise ServiceUnavailable(f"cannot list the {self.alias} storage") from exc


class _Named:
    """Reports the psutil checks under short names (their repr otherwise includes the host name)."""

    name = ""

    def __repr__(self) -> str:
        return self.name


@dataclasses.dataclass(repr=False)
class DiskCheck(_Named, Disk):
    name = "disk"

    def run(self):
        usage = psutil.disk_usage(str(self.path))
        self.detail = f"{usage.percent:.1f}% used, {usage.free / 1024**3:.1f} GiB free"
        super().run()


@dataclasses.dataclass(repr=False)
class MemoryCheck(_Named, Memory):
    name = "memory"

    def run(self):
        memory = psutil.virtual_memory()
        self.detail = f"{memory.percent:.1f}% used, {memory.available / 1024**3:.1f} GiB available"
        super().run()


@dataclasses.dataclass(repr=False)
class CPUCheck(_Named, CPU):
    name = "cpu"

    def run(self):
        # A blocking 0.1 s sample: the default (since the previous call) is meaningless on a first probe.
        usage = psutil.cpu_percent(interval=0.1)
        self.detail = f"{usage:.1f}% busy"
        if self.max_usage_percent and usage >= self.max_usage_percent:
            raise ServiceWarning(self.detail)


READY_CHECKS = (DatabaseCheck, CacheCheck, BrokerCheck, MigrationsCheck)
DETAILED_CHECKS = (*READY_CHECKS, StorageCheck, DiskCheck, MemoryCheck, CPUCheck)


def _status(result) -> str:
    if result.error is None:
        return "healthy"
    return "warning" if isinstance(result.error, ServiceWarning) else "unhealthy"


def _message(result) -> str:
    if result.error is not None:
        return str(result.error.message)
    return getattr(result.check, "detail", None) or "OK"


@never_cache
def live(request):
    """Liveness: the process answers. Touches no dependency."""
    return JsonResponse({"status": "ok"})


class ReadyView(HealthCheckView):
    """Readiness: 200 when every dependency answers, else 503 naming the failing checks."""

    checks: tuple[type[HealthCheck], ...] = READY_CHECKS
    # A draining process is not ready, whatever its dependencies say (common/shutdown.py).
    unready_when_draining = True

    async def get(self, request, *args, **kwargs):
        if self.unready_when_draining and shutdown.draining():
            # The master got SIGTERM: out of the load balancer first, while requests still get served.
            return JsonResponse({"status": "unavailable", "checks": {}, "failing": ["shutdown"]}, status=503)
        with self.get_executor() as executor:
            self.results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        return self.render(self.results)

    def render(self, results):
        failing = [repr(r.check) for r in results if r.error is not None and _status(r) == "unhealthy"]
        body: dict[str, Any] = {
            "status": "unavailable" if failing else "ok",
            "checks": {repr(r.check): _message(r) for r in results},
        }
        if failing:
            body["failing"] = failing
        return JsonResponse(body, status=503 if failing else 200)


class DetailedView(ReadyView):
    """Every check with status, latency and message; for staff or the metrics token."""

    checks: tuple[type[HealthCheck], ...] = DETAILED_CHECKS
    unready_when_draining = False  # the details stay the dependencies' own

    async def get(self, request, *args, **kwargs):
        user = await request.auser()
        if not (bearer_token_valid(request) or (user.is_authenticated and user.is_staff)):
            status = 403 if user.is_authenticated else 401
            return JsonResponse({"detail": "Staff or the metrics token only."}, status=status)
        return await super().get(request, *args, **kwargs)

    def render(self, results):
        unhealthy = any(_status(r) == "unhealthy" for r in results)
        body = {
            "status": "unhealthy" if unhealthy else "healthy",
            "timestamp": datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "checks": {
                repr(r.check): {
                    "status": _status(r),
                    "latency_ms": round(r.time_taken * 1000, 2),
                    "message": _message(r),
                }
                for r in results
            },
            "uptime_seconds": round(time.monotonic() - STARTED_AT, 1),
            "version": settings.APP_VERSION,
        }
        return JsonResponse(body, status=503 if unhealthy else 200)
