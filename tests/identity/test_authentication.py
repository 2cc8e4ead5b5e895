"""Each bearer class takes only its own kind of token."""

import pytest
from rest_framework.test import APIRequestFactory

from accounts.tokens import SessionJWTAuthentication
from identity.authentication import ApiTokenAuthentication, OAuthClientAuthentication


def _request(value: str):
    return APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {value}")


@pytest.mark.parametrize("value", ["aia_" + "a" * 43, "aio_" + "b" * 43])
def test_jwt_class_leaves_api_and_oauth_tokens_alone(value):
    assert SessionJWTAuthentication().authenticate(_request(value)) is None


def test_token_classes_leave_jwts_alone():
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert ApiTokenAuthentication().authenticate(_request(jwt_like)) is None
    assert OAuthClientAuthentication().authenticate(_request(jwt_like)) is None
    assert ApiTokenAuthentication().authenticate(_request("aio_" + "b" * 43)) is None
    assert OAuthClientAuthentication().authenticate(_request("aia_" + "a" * 43)) is None
