from django.core.management.base import BaseCommand, CommandError

from accounts import selectors, services
from common.errors import ApplicationError

NO_SUCH_ACCOUNT = "no account has this email address"


class Command(BaseCommand):
    help = (
        "Enrol a TOTP device for a staff account's admin sign-in (ADMIN_2FA_REQUIRED): the first superuser's path, "
        "since nobody can sign in to the admin to add one before. Prints the otpauth:// URL and a QR code once, for "
        "an authenticator app: run it in an interactive terminal, never in a job whose output is kept. Audited as "
        "auth.2fa.enrolled. Later devices are added in the admin (OTP_TOTP > TOTP devices)."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The staff account's email address.")
        parser.add_argument("--name", default="default", help="The device's name, as the login form lists it.")
        parser.add_argument("--no-qr", action="store_true", help="Print the URL and the secret only.")

    def handle(self, *args, **options):
        user = selectors.user_by_email(email=options["email"])
        if user is None:
            raise CommandError(NO_SUCH_ACCOUNT)
        try:
            device = services.staff_totp_enroll(user=user, name=options["name"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        url = device.config_url
        self.stdout.write(f"TOTP device {device.name!r} enrolled for user {user.pk}. Add it to an authenticator app:")
        self.stdout.write(url)
        if not options["no_qr"]:
            import segno

            segno.make(url).terminal(out=self.stdout._out, compact=True)
