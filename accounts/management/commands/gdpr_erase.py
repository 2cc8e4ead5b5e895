from django.core.management.base import BaseCommand, CommandError

from accounts import selectors
from accounts.gdpr import erasure
from common.errors import ApplicationError

NO_SUCH_ACCOUNT = "no account has this email address"


class Command(BaseCommand):
    help = (
        "Erase a person (GDPR Art. 17) for a request that arrived by mail: the account is pseudonymised for good, "
        "projects they are alone in are deleted, the others pass to a remaining member. Requires --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The person's email address.")
        parser.add_argument("--yes", action="store_true", help="Confirm: the erasure cannot be undone.")

    def handle(self, *args, **options):
        if not options["yes"]:
            raise CommandError("refusing to erase without --yes (the erasure cannot be undone)")
        user = selectors.user_by_email(email=options["email"])
        if user is None:
            raise CommandError(NO_SUCH_ACCOUNT)
        try:
            counts = erasure.user_erase(user=user, via=erasure.Via.COMMAND)
        except ApplicationError as exc:
            raise CommandError(f"erasure failed: {exc}") from exc
        except Exception as exc:  # storage (the ledger) unreachable: the transaction rolled the erasure back
            raise CommandError(f"erasure failed, the account is unchanged: {type(exc).__name__}: {exc}") from exc
        done = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items())
        self.stdout.write(f"erased user {user.pk}: {done}")
