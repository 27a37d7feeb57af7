"""Websocket authentication by DRF token for scripts; the browser uses its session.

Sits inside ``AuthMiddlewareStack`` (see ``composer/asgi.py``): the session user is already in
``scope["user"]``; a token (the ``token`` query parameter, or an ``Authorization: Token <key>``
header), when present, replaces it with the token's user, or with an anonymous user when the token
is unknown (a wrong token never falls back to a session).

The Origin check (``SessionOriginValidator``) guards what a browser sends by itself, the session
cookie: a page on another site must not open a websocket with its visitor's session. A token is
never sent by a browser on its own, so a connection authenticated by a valid token is accepted
with any Origin or none (script clients send none); every other connection must come from an
allowed host, as before.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

TOKEN_AUTHENTICATED = "composer.token_authenticated"


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


def _header_token(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            if scheme.lower() == "token" and key.strip():
                return key.strip()
    return None


class TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = query_param(scope, "token") or _header_token(scope)
        if key is not None:
            user = await _user_for_token(key[:64])
            scope = {**scope, "user": user, TOKEN_AUTHENTICATED: user.is_authenticated}
        return await self.inner(scope, receive, send)


class SessionOriginValidator:
    """Origin checked against ``ALLOWED_HOSTS`` unless a valid token authenticated the connection."""

    def __init__(self, inner):
        self.inner = inner
        self.checked = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        if scope.get(TOKEN_AUTHENTICATED):
            return await self.inner(scope, receive, send)
        return await self.checked(scope, receive, send)
