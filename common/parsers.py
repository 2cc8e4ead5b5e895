"""The API's JSON parser: DRF's, with a size cap (413) and a nesting cap (400) checked before anything recurses, and
no NUL character (400: PostgreSQL's text and jsonb cannot hold one)."""

import codecs

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json

TOO_DEEP = "The JSON body is nested too deeply (at most {limit} levels of arrays and objects)."
HOLDS_NUL = "The JSON body holds a NUL character (\\u0000), in a key or a string; it cannot be stored."


class RequestTooLarge(exceptions.APIException):
    """The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE."""

    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request body is too large."


def _too_large() -> RequestTooLarge:
    return RequestTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")


def _depth_exceeds(value, limit: int) -> bool:
    """True when arrays and objects nest deeper than `limit` (an explicit stack: no recursion of our own)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _holds_nul(value) -> bool:
    """True when a key or a string anywhere in `value` holds U+0000 (found by schemathesis: an execution's input
    with one answered 500, PostgreSQL refusing the jsonb). Called after _depth_exceeds: the nesting is bounded."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, refusing a body over DATA_UPLOAD_MAX_MEMORY_SIZE (413) or nested deeper than
    API_JSON_MAX_DEPTH (400), instead of a RecursionError or a memory spike and a 500 with a traceback.

    DRF hands the parser the raw request stream, which Django does not cap (only `request.body` is), so the cap is
    read here: at most one byte past the limit is ever read.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF's: the request's charset, refusing codecs that are not text encodings (bz2_codec would decompress).
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]  # not in the stubs
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise _too_large()
        depth = settings.API_JSON_MAX_DEPTH
        try:
            text = codecs.decode(raw, encoding)
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP.format(limit=depth)) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if _depth_exceeds(data, depth):
            raise exceptions.ParseError(TOO_DEEP.format(limit=depth))
        if _holds_nul(data):
            raise exceptions.ParseError(HOLDS_NUL)
        return data
