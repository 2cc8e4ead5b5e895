"""The admin site: staff sign in with their password and, when ADMIN_2FA_REQUIRED, a TOTP code (django-otp).

It is Django's default site (config.apps.AdminConfig), so every app's admin.py registers on it unchanged. With
ADMIN_2FA_REQUIRED, the login form asks for a device and its code (django-otp's OTPAdminAuthenticationForm), and a
session that was not verified by a device is treated as non-staff (OTPAdminSite.has_permission): a password
alone, or a session forced in by other means, does not open the admin. Without it, the plain Django admin.
"""

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from accounts.sso import signed_in_with_sso


class StaffAdminSite(OTPAdminSite):
    """django-otp's admin site, its two-factor requirement switched by ADMIN_2FA_REQUIRED at request time."""

    def __init__(self, name: str = "admin"):
        super().__init__(name)

    @property
    def login_form(self):
        return OTPAdminAuthenticationForm if settings.ADMIN_2FA_REQUIRED else AdminAuthenticationForm

    @property
    def login_template(self):
        return OTPAdminSite.login_template if settings.ADMIN_2FA_REQUIRED else None

    def has_permission(self, request) -> bool:
        # A single sign-on session had its second factor at the identity provider (accounts.sso).
        if settings.ADMIN_2FA_REQUIRED and not signed_in_with_sso(request):
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)
