from ops.management.base import OpsCommand
from ops.services import backup_verify


class Command(OpsCommand):
    help = "Restore drill: restore a backup into a scratch database, compare it with its manifest, drop it."

    def add_arguments(self, parser):
        parser.add_argument("backup", help="Backup id or 'latest'.")

    def handle(self, *args, **options):
        record = self.run_operation("verify", backup_verify, ref=options["backup"])
        self.stdout.write(
            f"backup {record.id} verified: {record.verify_detail}; restore drill took {record.restore_seconds:.1f} s"
        )
