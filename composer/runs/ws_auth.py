"""Websocket authentication by DRF token (``?token=``) for scripts; the browser uses its session.

Sits inside ``AuthMiddlewareStack`` (see ``composer/asgi.py``): the session user is already in
``scope["user"]``; a ``token`` query parameter, when present, replaces it with the token's user,
or with an anonymous user when the token is unknown (a wrong token never falls back to a session).
"""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def query_param(scope, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[-1] if values else None


class TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = query_param(scope, "token")
        if key is not None:
            scope = {**scope, "user": await _user_for_token(key[:64])}
        return await self.inner(scope, receive, send)
