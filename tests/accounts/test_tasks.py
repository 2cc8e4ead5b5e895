from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tasks import flush_expired_tokens

pytestmark = pytest.mark.django_db


def test_flush_removes_expired_tokens_and_keeps_live_ones(user):
    RefreshToken.for_user(user)
    live = OutstandingToken.objects.get()
    expired = OutstandingToken.objects.create(
        user=user, jti="expired", token="x", expires_at=timezone.now() - timedelta(days=1)
    )
    flush_expired_tokens()
    remaining = set(OutstandingToken.objects.values_list("pk", flat=True))
    assert remaining == {live.pk}
    assert expired.pk not in remaining


def test_flush_is_scheduled_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["accounts-flush-expired-tokens"]
    assert (entry["task"], entry["schedule"]) == (flush_expired_tokens.name, 24 * 3600)
