from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ops.engines import BackupError, one_line
from ops.services import backup_verify


class Command(BaseCommand):
    help = "Restore drill: restore a backup into a scratch database, compare it with its manifest, drop it."

    def add_arguments(self, parser):
        parser.add_argument("backup", help="Backup id or 'latest'.")

    def handle(self, *args, **options):
        try:
            record = backup_verify(ref=options["backup"])
        except BackupError as exc:
            raise CommandError(f"verify failed: {exc}") from exc
        except DatabaseError as exc:
            raise CommandError(f"verify failed: database error: {one_line(str(exc))}") from exc
        self.stdout.write(
            f"backup {record.id} verified: {record.verify_detail}; restore drill took {record.restore_seconds:.1f} s"
        )
