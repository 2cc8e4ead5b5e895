"""Which models keep a history (django-auditlog), registered by the app that owns them from its ready().

`track(Model, include_fields=[...])` is django-auditlog's `register` with our defaults; `pseudonymous=True`
stores "<model> <pk>" as the entry's object representation instead of str(instance), for models whose str()
holds personal data (a user's email), so that history never needs rewriting when a person is erased.
"""

from auditlog.registry import auditlog

PSEUDONYMOUS: set[str] = set()  # "app_label.model_name"

# Masked values show that a personal field changed, never what it was or became.
MASKED = "[personal]"


def mask(value) -> str:
    """AUDITLOG_MASK_CALLABLE: the whole value is hidden (auditlog's default keeps half of it)."""
    return MASKED


def track(model, *, pseudonymous: bool = False, **options) -> None:
    """Keep the history of `model`'s changes (auditlog's register options: include_fields, mask_fields...)."""
    from django.conf import settings

    if not settings.AUDIT_ENABLED:  # the benchmark's "off" side only
        return
    if pseudonymous:
        PSEUDONYMOUS.add(model._meta.label_lower)
    auditlog.register(model, **options)
