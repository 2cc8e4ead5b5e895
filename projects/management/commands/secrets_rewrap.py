from django.core.management.base import BaseCommand, CommandError

from common.encryption import EncryptionError
from projects.services import project_secrets_rewrap


class Command(BaseCommand):
    help = (
        "Re-encrypt every project secret under the newest key: after a new first key in SECRETS_ENCRYPTION_KEY, "
        "a rotation of the Vault transit key, or setting VAULT_TRANSIT_KEY (Fernet values move to transit)."
    )

    def handle(self, *args, **options):
        try:
            counts = project_secrets_rewrap()
        except EncryptionError as exc:
            raise CommandError(f"secrets_rewrap stopped: {exc}") from None
        self.stdout.write(f"{counts['rewrapped']} project secret(s) rewrapped, {counts['skipped']} replaced meanwhile")
