"""The admin's app config: Django's admin with accounts.admin_site.StaffAdminSite as its default site."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """`django.contrib.admin` whose `admin.site` requires a TOTP code when ADMIN_2FA_REQUIRED (docs/security.md)."""

    default_site = "accounts.admin_site.StaffAdminSite"
