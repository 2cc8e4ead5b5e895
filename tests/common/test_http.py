import pytest
from django.test import RequestFactory

from common.http import client_ip


def request_with(forwarded=None, remote="192.0.2.1"):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1"),  # no trusted proxy: the header is ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "1.1.1.1, 203.0.113.9", "203.0.113.9"),  # the leftmost entry is client-supplied
        (2, "1.1.1.1, 203.0.113.9, 198.51.100.2", "203.0.113.9"),
        (3, "203.0.113.9", "203.0.113.9"),  # fewer entries than proxies: the oldest one
        (1, None, "192.0.2.1"),
    ],
)
def test_client_ip_trusts_exactly_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(request_with(forwarded)) == expected
