from django.core.management.base import BaseCommand, CommandError

from audit import verification


class Command(BaseCommand):
    help = (
        "Recompute the audit chain from the first seal (or --since a sequence) and check it against the stored seals "
        "and their copies in backup storage. Exit 1 naming the first row that was changed, deleted, reordered or "
        "inserted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=int, help="Start at the seal holding this sequence.")

    def handle(self, *args, **options):
        result = verification.run(since=options["since"])
        if not result.ok or result.verified is None:
            raise CommandError(f"audit chain broken: {result.problem}")
        checked = result.verified
        self.stdout.write(
            f"audit chain verified: {checked.rows} row(s) in {checked.seals} seal(s), sequences "
            f"{checked.first}..{checked.last}, {checked.removed} removed by retention, "
            f"{checked.pending} awaiting a seal"
        )
