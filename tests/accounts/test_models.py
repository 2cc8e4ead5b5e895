import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_create_user_normalises_email_and_hashes_password():
    user = User.objects.create_user("Ada@Example.COM", "a-long-password-1")
    assert user.email == "ada@example.com"
    assert user.check_password("a-long-password-1")
    assert (user.is_staff, user.is_superuser) == (False, False)


def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", "x")


def test_create_superuser_is_staff_and_superuser():
    admin = User.objects.create_superuser("root@example.com", "a-long-password-1")
    assert (admin.is_staff, admin.is_superuser) == (True, True)


def test_createsuperuser_command_works_with_email_only(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-1")
    call_command("createsuperuser", "--no-input", "--email", "ops@example.com")
    assert User.objects.get(email="ops@example.com").is_superuser


def test_str_is_the_email():
    assert str(User(email="a@example.com")) == "a@example.com"
