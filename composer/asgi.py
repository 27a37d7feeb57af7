"""ASGI entry point: HTTP through Django, websockets through Channels, from one server."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "composer.settings.base")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from composer.cards.routing import websocket_urlpatterns as card_websockets  # noqa: E402
from composer.core.body_limit import BodyLimitMiddleware, install_daphne_limit  # noqa: E402
from composer.runs.routing import websocket_urlpatterns as run_websockets  # noqa: E402
from composer.runs.ws_auth import SessionOriginValidator, TokenAuthMiddleware  # noqa: E402

install_daphne_limit()  # when daphne serves this, it refuses a big body before reading it

application = ProtocolTypeRouter(
    {
        # A body over the limit is refused before Django reads it (composer.core.body_limit).
        "http": BodyLimitMiddleware(django_asgi_app),
        # A valid token skips the Origin check (scripts send none); session connections keep it.
        "websocket": AuthMiddlewareStack(TokenAuthMiddleware(SessionOriginValidator(URLRouter(run_websockets + card_websockets)))),
    }
)
