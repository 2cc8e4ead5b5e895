"""common.redaction: one marker, one list of credential names, any depth, and the two ways it is used."""

import pytest

from common import redaction
from common.redaction import MARKER, KeyRule, Redactor


def nested(depth: int, leaf):
    value = leaf
    for level in range(depth):
        value = {"level": level, "next": [value]}
    return value


def deepest(value):
    while isinstance(value, dict) and "next" in value:
        value = value["next"][0]
    return value


def test_a_secret_far_below_depth_six_is_replaced():
    redactor = Redactor(["s3cr3t-value"], keys=KeyRule.NONE, patterns=False)
    assert deepest(redactor.value(nested(5000, "the s3cr3t-value here"))) == f"the {MARKER} here"


def test_credential_keys_are_hidden_at_any_depth():
    redactor = Redactor(keys=KeyRule.CREDENTIAL_WORDS, patterns=False)
    assert deepest(redactor.value(nested(50, {"password": "hunter22", "name": "ok"}))) == {
        "password": MARKER,
        "name": "ok",
    }


def test_storage_keeps_fields_that_merely_mention_tokens():
    stored = redaction.for_storage().value({"usage": {"total_tokens": 7}, "Authorization": "Bearer abcdef"})
    assert stored == {"usage": {"total_tokens": 7}, "Authorization": MARKER}


def test_logs_hide_every_key_with_a_credential_word():
    redactor = redaction.for_logs()
    assert redactor.value({"total_tokens": 7, "X-Session-Id": "abc"}) == {
        "total_tokens": MARKER,
        "X-Session-Id": MARKER,
    }


def test_tuples_and_sets_keep_their_type():
    redactor = Redactor(["topsecret"], keys=KeyRule.NONE, patterns=False)
    assert redactor.value(("topsecret", ("a", {"topsecret"}))) == (MARKER, ("a", {MARKER}))


def test_a_bearer_value_also_hides_its_token_alone():
    redactor = Redactor(["Bearer tok-123456"], keys=KeyRule.NONE, patterns=False)
    assert redactor.text("echo: tok-123456") == f"echo: {MARKER}"


@pytest.mark.parametrize(
    ("name", "credential"),
    [("Authorization", True), ("X-Api-Key", True), ("Cookie", True), ("WWW-Authenticate", False), ("Accept", False)],
)
def test_credential_names(name, credential):
    assert redaction.is_credential_name(name) is credential


def test_configured_secrets_follow_settings(settings):
    settings.LLM_API_KEY = "sk-configured-0123456789"
    assert "sk-configured-0123456789" in redaction.configured_secrets()
    assert MARKER in redaction.for_storage().text("key sk-configured-0123456789")
