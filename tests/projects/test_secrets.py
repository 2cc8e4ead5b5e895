"""Project secrets at rest: Fernet (MultiFernet over SECRETS_ENCRYPTION_KEY) and Vault transit (against the Vault
STAND-IN, tests/vault_standin.py: no Vault binary runs here); `secrets_rewrap` after a key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from common import encryption, vault
from projects.models import ProjectSecret
from tests.factories import ProjectFactory, ProjectSecretFactory
from tests.vault_standin import VaultStandIn

pytestmark = pytest.mark.django_db

VALUES = {"API_TOKEN": "tok-0123456789abcdef", "DB_PASSWORD": "pässwörd with spaces ", "BIG": "x" * 65536}


@pytest.fixture
def fernet_key(settings):
    settings.SECRETS_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.VAULT_TRANSIT_KEY = ""
    return settings


@pytest.fixture
def transit(settings, monkeypatch):
    """Vault's transit engine on the stand-in, with the key `aiassistant-secrets`, as the process's client."""
    with VaultStandIn() as standin:
        standin.create_transit_key("aiassistant-secrets")
        client = vault.Vault(vault.VaultConfig(addr=standin.url, token=standin.issue_token()))
        monkeypatch.setattr(vault, "_process_vault", client)
        settings.VAULT_TRANSIT_KEY = "aiassistant-secrets"
        settings.VAULT_TRANSIT_MOUNT = "transit"
        yield standin


def store_values(project=None) -> None:
    project = project or ProjectFactory()
    for name, value in VALUES.items():
        ProjectSecretFactory(project=project, name=name, value=value)


def readable() -> dict:
    return {s.name: encryption.decrypt(s.ciphertext) for s in ProjectSecret.objects.all()}


def test_fernet_round_trip_and_a_new_ciphertext_each_time(fernet_key):
    first, second = encryption.encrypt("value-123456"), encryption.encrypt("value-123456")
    assert first != second
    assert encryption.decrypt(first) == encryption.decrypt(second) == "value-123456"


def test_a_bad_fernet_key_is_one_line_naming_the_setting_not_the_key(settings):
    settings.SECRETS_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},not-a-key"
    settings.VAULT_TRANSIT_KEY = ""
    with pytest.raises(encryption.EncryptionError) as caught:
        encryption.encrypt("v-123456")
    assert str(caught.value).startswith("SECRETS_ENCRYPTION_KEY: key 2 of 2 is not a Fernet key")
    assert "not-a-key" not in str(caught.value)


def test_fernet_rotation_then_rewrap_keeps_every_value_readable_under_the_new_key(fernet_key, settings):
    store_values()
    old_key = settings.SECRETS_ENCRYPTION_KEY
    new_key = Fernet.generate_key().decode()
    settings.SECRETS_ENCRYPTION_KEY = f"{new_key},{old_key}"  # the new key first: it encrypts, both decrypt

    call_command("secrets_rewrap")

    settings.SECRETS_ENCRYPTION_KEY = new_key  # the old key retired
    assert readable() == VALUES
    event = AuditEvent.objects.get(action="secret.rewrapped")
    assert event.detail == {"backend": "fernet", "completed": True, "rewrapped": 3, "skipped": 0}


def test_removing_the_old_key_before_rewrap_fails_in_one_line(fernet_key, settings, capsys):
    store_values()
    settings.SECRETS_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(CommandError) as caught:
        call_command("secrets_rewrap")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("secrets_rewrap stopped: a value does not decrypt")
    assert AuditEvent.objects.get(action="secret.rewrapped").detail["completed"] is False


def test_transit_stores_vault_ciphertext_and_reads_it_back(transit):
    store_values()
    for secret in ProjectSecret.objects.all():
        assert secret.ciphertext.startswith("vault:v1:")
        assert VALUES[secret.name] not in secret.ciphertext
    assert readable() == VALUES


def test_transit_rotation_then_rewrap_moves_every_value_to_the_new_key_version(transit):
    store_values()
    transit.rotate_transit_key("aiassistant-secrets")

    call_command("secrets_rewrap")

    assert {s.ciphertext[:9] for s in ProjectSecret.objects.all()} == {"vault:v2:"}
    assert readable() == VALUES
    transit.transit_keys["aiassistant-secrets"][0] = Fernet.generate_key()  # v1 unusable: nothing needs it now
    assert readable() == VALUES


def test_setting_a_transit_key_and_rewrapping_moves_fernet_values_to_transit(fernet_key, settings, monkeypatch):
    store_values()
    with VaultStandIn() as standin:
        standin.create_transit_key("aiassistant-secrets")
        monkeypatch.setattr(
            vault, "_process_vault", vault.Vault(vault.VaultConfig(standin.url, token=standin.issue_token()))
        )
        settings.VAULT_TRANSIT_KEY = "aiassistant-secrets"
        assert readable() == VALUES  # Fernet values stay readable (the prefix says which backend)

        call_command("secrets_rewrap")

        assert all(s.ciphertext.startswith("vault:v1:") for s in ProjectSecret.objects.all())
        assert readable() == VALUES


def test_transit_unreachable_is_a_503_problem_without_the_value(transit, project_with_roles):
    from tests.conftest import client_for

    project, users = project_with_roles
    transit.__exit__()
    response = client_for(users["editor"]).post(
        f"/api/v1/projects/{project.pk}/secrets/", {"name": "API_TOKEN", "value": "tok-abcdef-123"}, format="json"
    )
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert "tok-abcdef-123" not in response.content.decode()
    assert not ProjectSecret.objects.exists()


def test_a_rewrap_does_not_overwrite_a_value_replaced_meanwhile(fernet_key):
    from projects import services

    secret = ProjectSecretFactory(name="API_TOKEN", value="old-value-123")
    real_rewrap = encryption.rewrap

    def replace_first(ciphertext):
        ProjectSecret.objects.filter(pk=secret.pk).update(ciphertext=encryption.encrypt("new-value-456"))
        return real_rewrap(ciphertext)

    encryption_rewrap = pytest.MonkeyPatch()
    encryption_rewrap.setattr(encryption, "rewrap", replace_first)
    try:
        counts = services.project_secrets_rewrap()
    finally:
        encryption_rewrap.undo()
    assert counts == {"rewrapped": 0, "skipped": 1}
    assert readable() == {"API_TOKEN": "new-value-456"}


def test_manage_py_check_reports_a_malformed_key_without_showing_it(settings):
    settings.SECRETS_ENCRYPTION_KEY = "definitely-not-a-fernet-key"
    settings.VAULT_TRANSIT_KEY = ""
    (error,) = encryption.check_encryption_key()
    assert error.id == "common.E010"
    assert "key 1 of 1 is not a Fernet key" in error.msg and "definitely" not in error.msg
