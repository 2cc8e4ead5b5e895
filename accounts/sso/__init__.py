"""Single sign-on for staff: OpenID Connect (mozilla-django-oidc) into the admin, off unless OIDC_RP_CLIENT_ID is set.

`provider.py` finds the identity provider's endpoints (discovery or explicit settings), `backend.py` checks what it
answers (signature, issuer, audience, nonce, verified email), `services.py` maps its group claim to `is_staff` and
the Auditors group, `views.py` are the two steps of the flow (`/oidc/authenticate/`, `/oidc/callback/`).
docs/security.md, "Single sign-on".
"""

# The session of an SSO sign-in carries this key (the issuer): the identity provider did the authentication,
# second factor included, so an admin 2FA check treats such a session as verified (docs/security.md).
SSO_SESSION_KEY = "aiassistant_sso_issuer"


def signed_in_with_sso(request) -> bool:
    """Whether this request's session was opened by single sign-on (its second factor was the IdP's)."""
    session = getattr(request, "session", None)
    return bool(session is not None and session.get(SSO_SESSION_KEY))
