"""What the http and llm step types share about HTTP responses: a size-capped streamed read, and Retry-After."""

import datetime
import email.utils
import math
import time

import httpx

from workflows.steps.base import StepError

# A provider asking for a longer pause than this is not worth waiting for within one execution.
RETRY_AFTER_MAX_SECONDS = 300.0


def read_capped(
    response: httpx.Response,
    max_bytes: int,
    *,
    too_large: str,
    deadline: float | None = None,
    timed_out: str = "",
) -> bytes:
    """The body of a streamed response, refused (StepError `too_large`) past max_bytes, declared or read.

    With a `deadline` (time.monotonic()), a body still arriving after it fails with the retryable `timed_out`.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise StepError(too_large)
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise StepError(too_large)
        if deadline is not None and time.monotonic() > deadline:
            raise StepError(timed_out, retryable=True)
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The pause a 429 or 503 asks for (RFC 9110: delay-seconds or an HTTP-date); None if absent or unusable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = max(0.0, (moment - datetime.datetime.now(tz=datetime.UTC)).total_seconds())
    if not math.isfinite(seconds) or not 0 <= seconds <= RETRY_AFTER_MAX_SECONDS:
        return None
    return seconds
