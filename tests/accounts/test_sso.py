"""Single sign-on for staff (accounts.sso) against a stand-in OpenID Connect provider (tests/oidc_standin.py): the
whole authorization-code flow through real HTTP to the provider, from `/oidc/authenticate/` to an admin session,
with the IdP's groups mapped to staff and to the Auditors group; refusals; off while unconfigured."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import Group
from django.test import override_settings

from accounts.models import User
from accounts.sso import SSO_SESSION_KEY, provider
from accounts.sso.services import SSO_LOGIN, SSO_REFUSED
from audit.groups import AUDITORS
from audit.models import AuditEvent
from tests.factories import UserFactory
from tests.oidc_standin import OidcProviderStandIn

CLIENT_ID, CLIENT_SECRET = "aiassistant-admin", "standin-client-secret-0123456789"
CALLBACK = "http://testserver/oidc/callback/"
STAFF, AUDITOR = "aiassistant-staff", "aiassistant-auditors"
BACKENDS = ["django.contrib.auth.backends.ModelBackend", "accounts.sso.backend.StaffOidcBackend"]

pytestmark = pytest.mark.django_db


def person(email="ada@example.com", *, groups=(STAFF,), verified=True, **claims) -> dict:
    return {
        "sub": "sub-" + email,
        "email": email,
        "email_verified": verified,
        "name": "Ada Lovelace",
        "groups": list(groups),
        **claims,
    }


@pytest.fixture
def idp():
    provider.forget()
    standin = OidcProviderStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK])
    settings = override_settings(
        OIDC_ENABLED=True,
        OIDC_RP_CLIENT_ID=CLIENT_ID,
        OIDC_RP_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_OP_DISCOVERY_URL=standin.url,
        OIDC_STAFF_GROUP=STAFF,
        OIDC_AUDITOR_GROUP=AUDITOR,
        AUTHENTICATION_BACKENDS=BACKENDS,
    )
    with standin, settings:
        standin.person = person()
        yield standin
    provider.forget()


def sign_in(client, next_url="/admin/"):
    """Follow the flow as a browser would: our redirect to the provider, its redirect back, our callback."""
    start = client.get("/oidc/authenticate/", {"next": next_url})
    assert start.status_code == 302, start
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return client.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()})


def events(action):
    return list(AuditEvent.objects.filter(action=action))


def test_the_authentication_request_goes_to_the_provider_with_pkce_state_and_nonce(client, idp):
    location = urlsplit(client.get("/oidc/authenticate/").headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{idp.url}/authorize"
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0] and query["nonce"][0]


def test_a_staff_member_of_the_idp_signs_in_to_the_admin_as_a_new_staff_user(client, idp):
    idp.person = person(groups=[STAFF, AUDITOR])
    response = sign_in(client, "/admin/audit/auditevent/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/audit/auditevent/"
    user = User.objects.get(email="ada@example.com")
    assert user.is_staff and not user.is_superuser
    assert not user.has_usable_password()
    assert user.full_name == "Ada Lovelace"
    assert list(user.groups.values_list("name", flat=True)) == [AUDITORS]
    assert client.get("/admin/audit/auditevent/").status_code == 200  # the Auditors group's view permission
    assert client.session[SSO_SESSION_KEY] == idp.url
    (event,) = events(SSO_LOGIN)
    assert event.actor_id == user.pk
    assert event.detail == {"issuer": idp.url, "created": True, "staff": True, "auditor": True}


def test_an_existing_account_is_matched_by_its_verified_email_and_updated(client, idp):
    existing = UserFactory(email="ada@example.com", is_staff=False, full_name="")
    idp.person = person(email="Ada@Example.com")
    assert sign_in(client).status_code == 302
    existing.refresh_from_db()
    assert existing.is_staff
    assert existing.has_usable_password()  # the password stays: SSO does not take it away
    assert existing.full_name == "Ada Lovelace"
    assert User.objects.count() == 1
    assert client.get("/admin/").status_code == 200


def test_leaving_the_auditor_group_at_the_idp_leaves_the_auditors_group(client, idp):
    user = UserFactory(email="ada@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITORS))
    sign_in(client)
    assert not user.groups.filter(name=AUDITORS).exists()


def test_someone_without_the_staff_group_gets_no_account_and_no_session(client, idp):
    idp.person = person(email="eve@example.com", groups=[AUDITOR])
    response = sign_in(client)
    assert response["Location"] == "/admin/login/"
    assert not User.objects.filter(email="eve@example.com").exists()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
    (event,) = events(SSO_REFUSED)
    assert event.detail["reason"] == "not_in_staff_group"
    assert "eve@example.com" not in str(event.detail)  # a keyed hash of the address, not the address


def test_a_staff_user_removed_from_the_staff_group_at_the_idp_loses_staff(client, idp):
    user = UserFactory(email="ada@example.com", is_staff=True)
    idp.person = person(groups=[])
    response = sign_in(client)
    assert response["Location"] == "/admin/login/"
    user.refresh_from_db()
    assert not user.is_staff
    assert "_auth_user_id" not in client.session
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "Single sign-on did not sign you in. "
        + ("Your identity provider does not list you in the staff group: ask for access there.")
    ]


def test_an_unverified_email_is_refused(client, idp):
    UserFactory(email="ada@example.com", is_staff=True)
    idp.person = person(verified=False)
    assert sign_in(client)["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session
    assert events(SSO_REFUSED)[0].detail["reason"] == "email_not_verified"


@pytest.mark.parametrize(
    "tamper",
    [
        {"aud": "another-client"},
        {"iss": "https://idp.example.com"},
        {"exp": 1000},  # long expired
        {"nonce": "replayed-nonce"},
    ],
)
def test_an_id_token_for_another_client_issuer_time_or_request_is_refused(client, idp, tamper):
    idp.id_token_overrides = tamper
    assert sign_in(client)["Location"] == "/admin/login/"
    assert not User.objects.exists()
    assert events(SSO_REFUSED)[0].detail["reason"] == "invalid_token"


def test_an_id_token_signed_with_another_key_is_refused(client, idp):
    idp.sign_with_foreign_key = True
    assert sign_in(client)["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session


def test_a_callback_with_a_state_this_session_did_not_start_is_refused(client, idp):
    client.get("/oidc/authenticate/")
    response = client.get("/oidc/callback/", {"code": "forged", "state": "forged"})
    assert response.status_code == 400  # SuspiciousOperation
    assert idp.token_requests == 0


def test_the_password_login_never_reaches_the_provider(client, idp):
    staff = UserFactory(is_staff=True)
    client.post("/admin/login/?code=x&state=y", {"username": staff.email, "password": "wrong"})
    assert idp.token_requests == 0


def test_the_admin_login_page_links_sso_when_configured(client, idp):
    assert (
        b'id="sso-login" class="button" href="/oidc/authenticate/?next=%2Fadmin%2F"'
        in client.get("/admin/login/?next=/admin/").content
    )


def test_an_unreachable_provider_sends_back_to_the_login_page_with_a_message(client, idp):
    provider.forget()
    with override_settings(OIDC_OP_DISCOVERY_URL="http://127.0.0.1:9/"):
        response = client.get("/oidc/authenticate/")
    assert response["Location"] == "/admin/login/"


@pytest.mark.parametrize("path", ["/oidc/authenticate/", "/oidc/callback/"])
def test_sso_is_off_and_its_urls_answer_404_while_unconfigured(client, path):
    assert client.get(path).status_code == 404


def test_the_admin_login_page_has_no_sso_link_while_unconfigured(client):
    assert b"sso-login" not in client.get("/admin/login/").content
