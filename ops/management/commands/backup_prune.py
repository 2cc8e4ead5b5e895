from ops.management.base import OpsCommand
from ops.services import backup_prune


class Command(OpsCommand):
    help = "Delete backups older than --keep-days (objects and records); the newest good backup is always kept."

    def add_arguments(self, parser):
        parser.add_argument("--keep-days", type=int, required=True, help="Retention in days (30 in production).")
        parser.add_argument("--keep-last", type=int, default=1, help="Also keep this many newest good backups.")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):
        doomed = self.run_operation(
            "prune",
            backup_prune,
            keep_days=options["keep_days"],
            keep_last=options["keep_last"],
            dry_run=options["dry_run"],
        )
        verb = "would delete" if options["dry_run"] else "deleted"
        for record in doomed:
            self.stdout.write(f"{verb} {record.id} {record.status} {record.key}")
        self.stdout.write(f"{verb} {len(doomed)} backup(s)")
