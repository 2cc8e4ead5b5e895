from ops.management.base import OpsCommand
from ops.models import BackupKind
from ops.services import backup_create


class Command(OpsCommand):
    help = "Back up the database (pg_dump -Fc, or SQLite's online backup) into backup storage, with a manifest."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="DATABASES alias to back up (default: default).")

    def handle(self, *args, **options):
        record = self.run_operation("backup", backup_create, kind=BackupKind.MANUAL, using=options["database"])
        self.stdout.write(
            f"backup {record.id} succeeded: {record.key} ({record.size_bytes} bytes, "
            f"{record.duration_seconds:.1f} s, sha256 {record.sha256})"
        )
