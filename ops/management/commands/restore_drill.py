from ops.management.base import OpsCommand
from ops.services import restore_drill


class Command(OpsCommand):
    help = (
        "Restore drill: restore a backup (default the newest) into a scratch database, check row counts and "
        "checksums against its manifest, drop it, and record the restore time (the RTO estimate)."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", default="latest", help="Backup id, 'latest' (default) or key.")
        parser.add_argument(
            "--from",
            dest="source",
            choices=["primary", "replica"],
            help="Storage to restore from (default: the replica when one is configured, else the primary).",
        )

    def handle(self, *args, **options):
        drill = self.run_operation("restore drill", restore_drill, ref=options["backup"], source=options["source"])
        self.stdout.write(
            f"restore drill ok: {drill.backup_key} from the {drill.source} restored in {drill.restore_seconds:.2f} s "
            f"({drill.detail}, {drill.rows} rows)"
        )
