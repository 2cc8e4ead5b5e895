"""Security review, weakness 4: TOTP two-factor authentication for the admin (django-otp), required when
ADMIN_2FA_REQUIRED (production's default). Real login posts; the code is computed here from the device's key
(RFC 6238), not by django-otp."""

import hashlib
import hmac
import io
import struct
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def totp_code(device: TOTPDevice, at: float | None = None) -> str:
    """RFC 6238 (HMAC-SHA1, the device's step, t0 and digits) from the device's hex key."""
    counter = int(((time.time() if at is None else at) - device.t0) // device.step)
    digest = hmac.new(bytes.fromhex(device.key), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**device.digits).zfill(device.digits)


@pytest.fixture
def required(settings):
    settings.ADMIN_2FA_REQUIRED = True


@pytest.fixture
def staff_with_device(db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    return staff, TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


def sign_in(client, staff, **extra):
    return client.post("/admin/login/?next=/admin/", {"username": staff.email, "password": PASSWORD, **extra})


def test_password_alone_does_not_open_the_admin(required, staff_with_device):
    staff, _ = staff_with_device
    client = Client()

    response = sign_in(client, staff)

    assert response.status_code == 200  # the form again, now asking for the device and its code
    assert "otp_token" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_password_and_the_current_code_open_the_admin(required, staff_with_device):
    staff, device = staff_with_device
    client = Client()

    response = sign_in(client, staff, otp_device=device.persistent_id, otp_token=totp_code(device))

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_does_not_open_the_admin(required, staff_with_device):
    staff, device = staff_with_device
    client = Client()
    wrong = totp_code(device, at=time.time() - 3600)

    response = sign_in(client, staff, otp_device=device.persistent_id, otp_token=wrong)

    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_another_users_device_is_not_accepted(required, staff_with_device):
    staff, _ = staff_with_device
    other = TOTPDevice.objects.create(user=UserFactory(is_staff=True), name="other", confirmed=True)
    client = Client()

    sign_in(client, staff, otp_device=other.persistent_id, otp_token=totp_code(other))

    assert client.get("/admin/").status_code == 302


def test_a_session_without_a_verified_device_is_not_staff(required, staff_with_device):
    staff, _ = staff_with_device
    client = Client()
    client.force_login(staff)

    assert client.get("/admin/").status_code == 302


def test_a_single_sign_on_session_had_its_second_factor_at_the_provider(required, staff_with_device):
    """SSO (accounts.sso) marks the session with its issuer: the IdP did the second factor, so no TOTP is asked."""
    from accounts.sso import SSO_SESSION_KEY

    staff, _ = staff_with_device
    client = Client()
    client.force_login(staff)
    session = client.session
    session[SSO_SESSION_KEY] = "https://idp.example.com"
    session.save()

    assert client.get("/admin/").status_code == 200


def test_without_the_requirement_the_password_is_enough(settings, staff_with_device):
    settings.ADMIN_2FA_REQUIRED = False
    staff, _ = staff_with_device
    client = Client()

    assert sign_in(client, staff).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_production_requires_it_by_default():
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "config" / "settings" / "production.py").read_text()
    assert 'ADMIN_2FA_REQUIRED = env.bool("ADMIN_2FA_REQUIRED", default=True)' in source


def test_first_superuser_enrols_with_the_command_then_signs_in(required):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    out = io.StringIO()

    call_command("otp_totp_enroll", superuser.email, "--name", "laptop", stdout=out)

    device = TOTPDevice.objects.get(user=superuser)
    assert "otpauth://totp/" in out.getvalue()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="auth.2fa.enrolled", resource_id=str(device.pk)).exists()
    client = Client()
    sign_in(client, superuser, otp_device=device.persistent_id, otp_token=totp_code(device))
    assert client.get("/admin/").status_code == 200


def test_the_command_refuses_a_non_staff_account():
    with pytest.raises(CommandError, match="staff"):
        call_command("otp_totp_enroll", UserFactory().email, stdout=io.StringIO())
    assert not TOTPDevice.objects.exists()


def test_staff_add_a_device_from_the_admin_and_its_key_never_reaches_the_history(required, staff_with_device):
    staff, device = staff_with_device
    client = Client()
    sign_in(client, staff, otp_device=device.persistent_id, otp_token=totp_code(device))
    colleague = UserFactory(is_staff=True)
    key = "3132333435363738393031323334353637383930"

    response = client.post(
        reverse("admin:otp_totp_totpdevice_add"),
        {
            "user": colleague.pk,
            "name": "phone",
            "confirmed": "on",
            "key": key,
            "step": 30,
            "t0": 0,
            "digits": 6,
            "tolerance": 1,
            "drift": 0,
            "throttling_failure_count": 0,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    added = TOTPDevice.objects.get(user=colleague)
    qr = client.get(reverse("admin:otp_totp_totpdevice_qrcode", args=[added.pk]))
    assert qr.status_code == 200
    assert qr["Content-Type"].startswith("image/svg+xml")
    from audit.models import ModelHistory

    assert key not in str(list(ModelHistory.objects.values("changes", "changes_text")))


def test_a_view_only_staff_member_cannot_see_another_users_device_secret(staff_with_device):
    from django.contrib.auth.models import Permission

    _, device = staff_with_device
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_totpdevice"))
    client = Client()
    client.force_login(viewer)

    assert client.get(reverse("admin:otp_totp_totpdevice_changelist")).status_code == 200
    assert client.get(reverse("admin:otp_totp_totpdevice_qrcode", args=[device.pk])).status_code == 403
    assert client.get(reverse("admin:otp_totp_totpdevice_config", args=[device.pk])).status_code == 403
