from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ops.engines import BackupError, one_line
from ops.models import BackupKind
from ops.services import backup_create


class Command(BaseCommand):
    help = "Back up the database (pg_dump -Fc, or SQLite's online backup) into backup storage, with a manifest."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="DATABASES alias to back up (default: default).")

    def handle(self, *args, **options):
        try:
            record = backup_create(kind=BackupKind.MANUAL, using=options["database"])
        except BackupError as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        except DatabaseError as exc:
            raise CommandError(f"backup failed: database error: {one_line(str(exc))}") from exc
        self.stdout.write(
            f"backup {record.id} succeeded: {record.key} ({record.size_bytes} bytes, "
            f"{record.duration_seconds:.1f} s, sha256 {record.sha256})"
        )
