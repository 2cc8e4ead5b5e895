"""The Celery application: `celery -A config worker` runs workflow executions (settings: CELERY_* in Django)."""

import os

from celery import Celery, signals

# DJANGO_SETTINGS_MODULE comes from the environment (Makefile, .env, compose). No default here: this
# module is imported with the config package, and a default would override wsgi.py's production one.
app = Celery("aiassistant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _ensure_filesystem_broker_folders() -> None:
    """The broker-less embedded default keeps its messages in folders that must exist before use."""
    if not str(app.conf.broker_url or "").startswith("filesystem://"):
        return
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        folder = (app.conf.broker_transport_options or {}).get(key)
        if folder:
            os.makedirs(folder, exist_ok=True)


@app.on_after_finalize.connect
def _on_after_finalize(sender, **kwargs):
    _ensure_filesystem_broker_folders()


@signals.task_postrun.connect(weak=False)
def _return_database_connections(**kwargs):
    """After each task, what Django does after each request: the connection goes back to the pool (one that failed,
    or any without a pool since CONN_MAX_AGE is 0, is closed). Celery's own Django fixup would close the whole pool
    before and after every task (celery/fixups/django.py, 5.5+): CELERY_DB_REUSE_MAX turns that off."""
    from django.db import close_old_connections

    close_old_connections()
