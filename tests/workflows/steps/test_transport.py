"""workflows.steps.transport: the Retry-After parser and the size-capped read shared by http and llm."""

import datetime
import email.utils

import httpx
import pytest

from workflows.steps.base import StepError
from workflows.steps.transport import read_capped, retry_after_seconds


def response(headers=None, body=b""):
    return httpx.Response(200, headers=headers or {}, content=body)


@pytest.mark.parametrize(("value", "seconds"), [("3", 3.0), ("0.5", 0.5), ("", None), ("soon", None), ("-1", None)])
def test_retry_after_seconds(value, seconds):
    assert retry_after_seconds(response({"Retry-After": value} if value else {})) == seconds


def test_retry_after_as_an_http_date():
    moment = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=30)
    seconds = retry_after_seconds(response({"Retry-After": email.utils.format_datetime(moment, usegmt=True)}))
    assert 25 <= seconds <= 30


def test_a_pause_longer_than_the_cap_is_ignored():
    assert retry_after_seconds(response({"Retry-After": "3600"})) is None


def test_read_capped_refuses_a_declared_size_over_the_cap():
    with pytest.raises(StepError, match="too big"):
        read_capped(response({"Content-Length": "100"}, b"x" * 100), 10, too_large="too big")


def test_read_capped_returns_a_body_within_the_cap():
    assert read_capped(response(body=b"hello"), 10, too_large="too big") == b"hello"
