from ops.management.base import OpsCommand
from ops.services import backup_reapply


class Command(OpsCommand):
    help = (
        "Re-apply what was recorded after a restored backup (the erasures) when `restore` could not: after "
        "`migrate` for a backup older than the code, or after a failure. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", help="The restored backup: id, 'latest', or its dump object key.")
        parser.add_argument("--from", dest="source", choices=["primary", "replica"], default="primary")

    def handle(self, *args, **options):
        reapplied = self.run_operation(
            "restore_reapply", backup_reapply, ref=options["backup"], source=options["source"]
        )
        for name, count in reapplied.items():
            self.stdout.write(f"re-applied {count} {name} recorded after the backup was taken")
