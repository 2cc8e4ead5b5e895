from django.core.management.base import BaseCommand

from audit import sealing


class Command(BaseCommand):
    help = "Seal the audit rows written since the last seal into the hash chain (beat runs it every minute)."

    def handle(self, *args, **options):
        seals = sealing.seal_all()
        if not seals:
            self.stdout.write("nothing to seal")
            return
        rows = sum(seal.last_sequence - seal.first_sequence + 1 for seal in seals)
        self.stdout.write(f"sealed {rows} row(s) in {len(seals)} seal(s), up to sequence {seals[-1].last_sequence}")
