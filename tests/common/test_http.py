import pytest
from django.test import RequestFactory

from common.http import client_ip

PROXY = "10.0.0.5"  # inside the trusted network below
UNTRUSTED = "198.51.100.7"


def request_with(forwarded=None, remote=PROXY):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.fixture
def trusted(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8::/32"]


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("1.1.1.1, 203.0.113.9", "203.0.113.9"),  # the leftmost entry is client-supplied
        ("1.1.1.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"),  # a second trusted hop is skipped
        ("10.0.0.8, 10.0.0.7", "10.0.0.8"),  # every hop trusted: the oldest
        ("1.1.1.1, not-an-address, 10.0.0.7", "10.0.0.7"),  # garbage stops the walk at the last trusted hop
        ("1.1.1.1, 2001:db8::1", "1.1.1.1"),
        (None, PROXY),
    ],
)
def test_client_ip_walks_forwarded_for_past_trusted_proxies(trusted, forwarded, expected):
    assert client_ip(request_with(forwarded)) == expected


def test_forwarded_for_from_an_untrusted_address_is_ignored(trusted):
    assert client_ip(request_with("203.0.113.9", remote=UNTRUSTED)) == UNTRUSTED


def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request_with("203.0.113.9")) == PROXY


def test_a_wrong_network_stops_the_process(monkeypatch):
    from config.env import networks

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.1/8")
    with pytest.raises(SystemExit, match="TRUSTED_PROXIES"):
        networks("TRUSTED_PROXIES")
