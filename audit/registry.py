"""Which models keep a history (django-auditlog), registered by the app that owns them from its ready().

`track(Model, include_fields=[...])` is django-auditlog's `register` with our defaults; `pseudonymous=True`
stores "<model> <pk>" as the entry's object representation instead of str(instance), for models whose str()
holds personal data (a user's email), so that history never needs rewriting when a person is erased.
"""

from auditlog import get_logentry_model, receivers
from auditlog.registry import auditlog
from django.conf import settings
from django.db.models.signals import pre_save

from common.services import PREVIOUS_STATE

PSEUDONYMOUS: set[str] = set()  # "app_label.model_name"

# Masked values show that a personal field changed, never what it was or became.
MASKED = "[personal]"


def mask(value) -> str:
    """AUDITLOG_MASK_CALLABLE: the whole value is hidden (auditlog's default keeps half of it)."""
    return MASKED


@receivers.check_disable
def log_update(sender, instance, **kwargs):
    """django-auditlog's update receiver (auditlog.receivers.log_update, 3.4), without its read of the old row when
    the service kept the state it loaded (common.services.model_update): the diff is then of what this update
    changed, from the values the caller saw. Any other save reads the row, as auditlog does."""
    previous = instance.__dict__.pop(PREVIOUS_STATE, None)
    if previous is None or instance._state.adding:
        receivers.log_update.__wrapped__(sender, instance, **kwargs)
        return
    receivers._create_log_entry(
        action=get_logentry_model().Action.UPDATE,
        instance=instance,
        sender=sender,
        diff_old=previous,
        diff_new=instance,
        fields_to_check=kwargs.get("update_fields"),
        use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
    )


auditlog._signals[pre_save] = log_update  # the registry connects it for every model tracked below


def track(model, *, pseudonymous: bool = False, **options) -> None:
    """Keep the history of `model`'s changes (auditlog's register options: include_fields, mask_fields...)."""
    if not settings.AUDIT_ENABLED:  # the benchmark's "off" side only
        return
    if pseudonymous:
        PSEUDONYMOUS.add(model._meta.label_lower)
    auditlog.register(model, **options)
