"""A request body over ``max_body_bytes()`` is answered with a JSON 413 before the server reads it.

Two layers, because each server buffers before the app runs:

- ``install_daphne_limit()``: daphne's Twisted request refuses a declared ``Content-Length``
  over the limit as soon as the headers arrive (before ``100 Continue``, so a client that asks
  first never sends the body), and a chunked body as soon as it passes the limit. It also stops
  Twisted from parsing multipart bodies itself (daphne hands the raw body on; Twisted's own form
  parsing read a 200 MB upload whole, about 2.5 GB of memory at peak).
- ``BodyLimitMiddleware`` (ASGI): the same check in front of Django under any ASGI server; Django's
  handler reads the whole body into a file before any view runs, so a view's check comes too late.
"""
from __future__ import annotations

import json
from io import BytesIO

from composer.core.parsers import max_body_bytes, too_large_message


def too_large_body(size: int | None, limit: int) -> bytes:
    """The 413's JSON, as ``composer.core.errors`` answers it."""
    return json.dumps({"message": too_large_message(size, limit), "extra": {"limit_bytes": limit}}).encode()


# --- daphne -------------------------------------------------------------------------------------

def install_daphne_limit() -> None:
    """Make daphne build ``LimitedWebRequest``s (it looks its request class up when a connection opens)."""
    from daphne import http_protocol

    if getattr(http_protocol.WebRequest, "refuses_big_bodies", False):
        return

    class LimitedWebRequest(http_protocol.WebRequest):
        refuses_big_bodies = True
        _parsePOSTFormSubmission = False  # daphne passes the raw body to the app; nothing reads Twisted's args
        _received = 0
        _refused = False

        def gotLength(self, length):
            limit = max_body_bytes()
            if length is not None and length > limit:
                self._refuse(length, limit)
            else:
                super().gotLength(length)

        def handleContentChunk(self, data):
            if self._refused:
                return
            self._received += len(data)
            limit = max_body_bytes()
            if self._received > limit:
                self._refuse(None, limit)
            else:
                super().handleContentChunk(data)

        def requestReceived(self, command, path, version):
            if not self._refused:
                super().requestReceived(command, path, version)

        def _refuse(self, size: int | None, limit: int) -> None:
            self._refused = True
            self.content = BytesIO()
            self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the answer
            body = too_large_body(size, limit)
            transport = self.channel.transport
            transport.write(b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
                            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            transport.loseConnection()

    http_protocol.WebRequest = LimitedWebRequest


# --- any ASGI server ----------------------------------------------------------------------------

def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send, size: int | None, limit: int) -> None:
    body = too_large_body(size, limit)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = max_body_bytes()
        declared = _declared_length(scope)
        if declared is not None:
            if declared > limit:
                return await _refuse(send, declared, limit)
            return await self.app(scope, receive, send)
        # No length given: hold the messages (at most ``limit`` bytes) until the body ends.
        held, size = [], 0
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                return await _refuse(send, None, limit)
            if not message.get("more_body", False):
                break

        async def replay():
            return held.pop(0) if held else await receive()

        return await self.app(scope, replay, send)
