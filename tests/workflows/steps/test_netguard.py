"""The SSRF guard: address classification, resolution, allow-list, and refusals of the http step before connecting."""

import pytest

from tests.workflows.steps.conftest import Reply
from workflows import netguard
from workflows.steps import get_step_type
from workflows.steps.base import StepError

http_step = get_step_type("http")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("::1", "::1 is a loopback address"),
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("192.168.1.10", "192.168.1.10 is a private address"),
        ("172.16.0.1", "172.16.0.1 is a private address"),
        ("fd12::1", "fd12::1 is a private address"),
        ("169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("fd00:ec2::254", "fd00:ec2::254 is a cloud metadata address"),
        ("169.254.10.1", "169.254.10.1 is a link-local address"),
        ("fe80::1", "fe80::1 is a link-local address"),
        ("100.64.0.1", "100.64.0.1 is a shared (carrier-grade NAT) address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),  # noqa: S104 (an address to refuse, not to bind)
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("240.0.0.1", "240.0.0.1 is a private address"),
        ("::ffff:10.0.0.1", "::ffff:a00:1 embeds 10.0.0.1, and 10.0.0.1 is a private address"),
        ("64:ff9b::7f00:1", "64:ff9b::7f00:1 embeds 127.0.0.1, and 127.0.0.1 is a loopback address"),
    ],
)
def test_non_public_address_is_refused_with_its_reason(address, reason):
    assert netguard.address_problem(address) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111"])
def test_public_address_is_accepted(address):
    assert netguard.address_problem(address) is None


def test_hostname_resolving_to_loopback_is_refused(settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = []
    with pytest.raises(netguard.RefusedAddress, match=r"refused: localhost resolves to .* is a loopback address"):
        netguard.resolve("localhost", 80)


def test_allow_listed_host_is_resolved_without_address_checks(settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["localhost"]
    assert set(netguard.resolve("localhost", 80).addresses) <= {"127.0.0.1", "::1"}


def test_allow_list_entry_with_port_matches_only_that_port(settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["127.0.0.1:8080"]
    assert (netguard.is_allowed_host("127.0.0.1", 8080), netguard.is_allowed_host("127.0.0.1", 8081)) == (True, False)


def test_allow_list_matches_host_names_case_insensitively(settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["localhost"]
    assert netguard.is_allowed_host("LocalHost", 80) is True


def test_http_step_refuses_loopback_without_connecting(settings, server, connections):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = []
    server.route("/", Reply(body=b"secret internal data"))
    with pytest.raises(StepError, match="refused: 127.0.0.1 is a loopback address") as failure:
        http_step.run(config={"url": server.url("/")}, timeout=5)
    assert (failure.value.retryable, connections, server.received) == (False, [], [])


def test_http_step_refuses_private_address_without_connecting(connections):
    with pytest.raises(StepError, match="refused: 10.0.0.1 is a private address"):
        http_step.run(config={"url": "http://10.0.0.1/admin"}, timeout=5)
    assert connections == []


def test_http_step_refuses_metadata_address_without_connecting(connections):
    with pytest.raises(StepError, match="refused: 169.254.169.254 is a cloud metadata address"):
        http_step.run(config={"url": "http://169.254.169.254/latest/meta-data/"}, timeout=5)
    assert connections == []


def test_http_step_refuses_hostname_resolving_to_loopback(settings, server, connections):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = []
    with pytest.raises(StepError, match="refused: localhost resolves to"):
        http_step.run(config={"url": server.url("/", host="localhost")}, timeout=5)
    assert connections == []


def test_http_step_refuses_ipv6_loopback_literal(connections):
    with pytest.raises(StepError, match=r"refused: ::1 is a loopback address"):
        http_step.run(config={"url": "http://[::1]:9/"}, timeout=5)
    assert connections == []


def test_redirect_from_allowed_server_to_private_address_is_refused(server, allow_local, connections):
    server.route("/jump", Reply(status=302, headers={"Location": "http://10.0.0.1/internal"}))
    with pytest.raises(StepError, match="refused: 10.0.0.1 is a private address"):
        http_step.run(config={"url": server.url("/jump")}, timeout=5)
    assert [address for address, _ in connections] == ["127.0.0.1"]


def test_redirect_to_metadata_address_is_refused(server, allow_local, connections):
    server.route("/jump", Reply(status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    with pytest.raises(StepError, match="refused: 169.254.169.254 is a cloud metadata address"):
        http_step.run(config={"url": server.url("/jump")}, timeout=5)
    assert "169.254.169.254" not in [address for address, _ in connections]


def test_tls_goes_to_the_pinned_address_with_the_host_name_for_sni(settings, tls_server, connections):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["localhost"]
    with pytest.raises(StepError, match="CERTIFICATE_VERIFY_FAILED"):  # self-signed: verification stays on
        http_step.run(config={"url": f"https://localhost:{tls_server.port}/"}, timeout=5)
    assert (connections[0][0] in {"127.0.0.1", "::1"}, tls_server.server_names) == (True, ["localhost"])
