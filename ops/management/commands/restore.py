import sys

from django.core.management.base import CommandError

from ops.management.base import OpsCommand
from ops.services import backup_restore


class Command(OpsCommand):
    help = (
        "Restore a backup (id, 'latest' or object key): checks its sha256, takes a safety backup, restores in one "
        "transaction, compares every table with the manifest, then re-applies the erasures recorded after the backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", help="Backup id, 'latest', or a dump object key (backups/.../<name>.dump).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation (required without a TTY).")
        parser.add_argument(
            "--from",
            dest="source",
            choices=["primary", "replica"],
            default="primary",
            help="Storage to read the backup from: the replica when the primary storage (its region) is gone.",
        )
        parser.add_argument("--target-database", help="Restore into this database on the same server instead.")
        parser.add_argument("--no-safety-backup", action="store_true", help="Skip the backup of the current data.")

    def handle(self, *args, **options):
        target = options["target_database"] or "the application database"
        if not options["yes"]:
            if sys.stdin is None or not sys.stdin.isatty():
                raise CommandError("refusing to restore without --yes when stdin is not a terminal")
            answer = input(f"Replace all data in {target} with backup {options['backup']}? Type 'yes': ")
            if answer.strip().lower() != "yes":
                raise CommandError("restore cancelled")
        result = self.run_operation(
            "restore",
            backup_restore,
            ref=options["backup"],
            source=options["source"],
            target_database=options["target_database"],
            safety_backup=not options["no_safety_backup"],
        )
        if result.safety_backup is not None:
            self.stdout.write(f"safety backup {result.safety_backup.id}: {result.safety_backup.key}")
        phases = ", ".join(f"{name} {secs:.2f} s" for name, secs in result.phases.items())
        self.stdout.write(
            f"restored {result.ref.key} (from the {result.ref.source}) into {result.database} in "
            f"{result.seconds:.2f} s ({phases})"
        )
        for name, count in result.reapplied.items():
            self.stdout.write(f"re-applied {count} {name} recorded after the backup was taken")
        if result.pending_migrations:
            self.stdout.write(
                f"{len(result.pending_migrations)} migration(s) of this code are newer than the backup: "
                "run `manage.py migrate`"
            )
        if result.problems:
            raise CommandError(
                f"restored, but {len(result.problems)} table(s) differ from the manifest: {result.problems[0]}"
            )
        self.stdout.write("every table matches the manifest (row counts)")
