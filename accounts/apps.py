from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users and authentication."""

    name = "accounts"
