"""ASGI middleware: an HTTP request body over ``max_body_bytes()`` is answered with a JSON 413
before Django reads it.

Django's ASGI handler reads the whole body (to memory, then a temporary file) before any view
runs, so a limit checked in a view comes too late. Here a declared ``Content-Length`` over the
limit is refused at once; a body without one (chunked) is counted as it arrives and refused as
soon as it passes the limit, so no more than the limit is ever held.
"""
from __future__ import annotations

import json

from composer.core.parsers import max_body_bytes, too_large_message


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send, size: int | None, limit: int) -> None:
    body = json.dumps({"message": too_large_message(size, limit), "extra": {"limit_bytes": limit}}).encode()
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
