import os

from django.apps import AppConfig
from django.conf import settings


class CommonConfig(AppConfig):
    """Shared helpers: base model, problem+json errors, pagination, throttling, observability."""

    name = "common"

    def ready(self):
        # prometheus_client (multiprocess mode) writes its files there from the first metric on, in any process
        # (manage.py migrate too): the directory must exist. gunicorn and the worker empty it when they start.
        if settings.PROMETHEUS_MULTIPROC_DIR:
            os.makedirs(settings.PROMETHEUS_MULTIPROC_DIR, exist_ok=True)
        # Celery signal handlers (request id into task headers, task log context, worker metrics and tracing).
        from common import (
            celery_observability,  # noqa: F401
            encryption,  # noqa: F401  (its system check of SECRETS_ENCRYPTION_KEY)
            vault,
        )

        if vault.current() is not None:
            vault.current().ensure_renewal()  # type: ignore[union-attr]
        if settings.VAULT_DB_ROLE:
            from django.db.backends.signals import connection_created

            from common import db_credentials

            connection_created.connect(db_credentials.ensure_rotation, dispatch_uid="common.db_credentials")
