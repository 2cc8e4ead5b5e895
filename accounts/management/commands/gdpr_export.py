import os

from django.core.management.base import BaseCommand, CommandError

from accounts import selectors
from accounts.gdpr import erasure, export

NO_SUCH_ACCOUNT = "no account has this email address"


class Command(BaseCommand):
    help = (
        "Write the export of a person's data (GDPR Art. 15/20) to a file, for a request that arrived by mail; the "
        "same document as POST /api/v1/auth/me/export/. Audited as gdpr.export (by id, never the email)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The person's email address.")
        parser.add_argument("--output", required=True, help="The file to write (created with mode 0600).")

    def handle(self, *args, **options):
        user = selectors.user_by_email(email=options["email"])
        if user is None or erasure.is_erased(user):
            raise CommandError(NO_SUCH_ACCOUNT)
        data = export.data_export_command(user=user)
        try:
            # 0600 from the start: the file holds the person's data.
            fd = os.open(options["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except OSError as exc:
            raise CommandError(f"cannot write {options['output']}: {exc.strerror}") from exc
        self.stdout.write(f"wrote the export of user {user.pk} to {options['output']} ({len(data)} bytes)")
