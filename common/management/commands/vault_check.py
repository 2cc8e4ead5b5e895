from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from common import vault

# The setting that holds each secret (the others have the secret's own name).
SETTING_OF = {"JWT_SIGNING_KEY": ("SIMPLE_JWT", "SIGNING_KEY"), "DATABASE_URL": ("DATABASES", "default")}


def _present(name: str) -> bool:
    if name in SETTING_OF:
        setting, key = SETTING_OF[name]
        return bool(getattr(settings, setting, {}).get(key))
    return bool(getattr(settings, name, ""))


class Command(BaseCommand):
    help = (
        "For each secret setting, where it came from (vault, env, default) — never its value — and the Vault "
        "token's remaining TTL and policies. Exit 1 when a required secret is missing."
    )

    def handle(self, *args, **options):
        client = vault.current()
        where = (
            f"{settings.VAULT_ADDR} ({settings.VAULT_SECRETS_LOCATION})" if settings.VAULT_ADDR else "not configured"
        )
        self.stdout.write(f"vault: {where}")
        missing = []
        for name in settings.SECRET_NAMES:
            origin = settings.SECRET_ORIGINS.get(name) or ("default" if _present(name) else "-")
            if origin == "-" and name in settings.REQUIRED_SECRETS:
                origin = "MISSING"
                missing.append(name)
            self.stdout.write(f"{name:24} {origin}")
        if client is not None:
            try:
                info = client.token_info()
            except vault.VaultError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"token: ttl {info.get('ttl')} s, policies {', '.join(info.get('policies') or [])}")
        if missing:
            raise CommandError(f"required secret(s) missing: {', '.join(missing)}")
