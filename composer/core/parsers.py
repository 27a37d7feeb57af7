"""The request body limit and the one request parser of the API (JSON, read within the limit).

``max_body_bytes()`` is the limit (``DATA_UPLOAD_MAX_MEMORY_SIZE``, set from
``COMPOSER_MAX_BODY_BYTES``); ``RequestTooLarge`` the 413 it answers. The ASGI middleware
(``composer.core.body_limit``), the API base view and this parser all read it from here.

Kept apart from ``api.py``: DRF imports its default parsers while ``rest_framework.views`` is
still loading, so this module must import nothing from DRF's views.
"""
from __future__ import annotations

import io

from django.conf import settings
from rest_framework import exceptions, parsers, status

# Read from the stream in pieces this size, so a body is never read past the limit at once.
READ_CHUNK_BYTES = 64 * 1024


def max_body_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_message(size: int | None, limit: int) -> str:
    """What a 413 says: the declared size when there is one (a chunked body has none)."""
    if size is None:
        return f"Request body too large: the limit is {limit} bytes."
    return f"Request body too large: {size} bytes, the limit is {limit} bytes."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def read_within_limit(stream, limit: int) -> bytes:
    """The whole stream, or ``RequestTooLarge`` as soon as more than ``limit`` bytes arrived
    (a body without a Content-Length is never read further than that)."""
    pieces, size = [], 0
    while True:
        piece = stream.read(min(READ_CHUNK_BYTES, limit + 1 - size))
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > limit:
            raise RequestTooLarge(too_large_message(None, limit))
        pieces.append(piece)


class JsonParser(parsers.JSONParser):
    """DRF's JSON parser, reading at most ``max_body_bytes()``; absurdly nested JSON is a 400, not
    a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = io.BytesIO(read_within_limit(stream, max_body_bytes()))
        try:
            return super().parse(body, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply")
