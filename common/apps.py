from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Shared helpers: base model, problem+json errors, pagination, throttling."""

    name = "common"
