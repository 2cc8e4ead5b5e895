from django.core.management.base import BaseCommand

from audit import retention


class Command(BaseCommand):
    help = "Apply the retention of every data class (RETENTION_DAYS): one line per class with what it removed."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be removed; change nothing.")

    def handle(self, *args, **options):
        counts = retention.run(dry_run=options["dry_run"])
        verb = "would remove" if options["dry_run"] else "removed"
        for name, count in counts.items():
            self.stdout.write(f"{name}: {verb} {count} (older than {retention.days_of(name)} days)")
