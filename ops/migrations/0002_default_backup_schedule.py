"""Default schedule, editable in the admin (Periodic tasks): hourly backup, daily restore drill, daily prune."""

import json

from django.db import migrations

TASKS = [
    # (name, task, schedule kind, schedule, kwargs)
    ("ops: hourly backup", "ops.backup", "interval", {"every": 1, "period": "hours"}, {"kind": "scheduled"}),
    ("ops: daily verify of the latest backup", "ops.verify", "crontab", {"minute": "30", "hour": "3"}, {"ref": "latest"}),
    ("ops: daily prune (BACKUP_RETENTION_DAYS)", "ops.prune", "crontab", {"minute": "45", "hour": "3"}, {}),
]


def create_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    for name, task, kind, schedule, kwargs in TASKS:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        fields = {"task": task, "kwargs": json.dumps(kwargs), "enabled": True}
        if kind == "interval":
            fields["interval"], _ = IntervalSchedule.objects.get_or_create(**schedule)
        else:
            defaults = {"day_of_week": "*", "day_of_month": "*", "month_of_year": "*", "timezone": "UTC"}
            fields["crontab"], _ = CrontabSchedule.objects.get_or_create(**schedule, **defaults)
        PeriodicTask.objects.create(name=name, **fields)


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_backuprecord"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
