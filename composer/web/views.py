"""Serve the single-page app: ``frontend/dist/index.html`` for every path the API does not own.

The built assets themselves are served by whitenoise under ``STATIC_URL`` (Vite's ``base``).
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Composer</title></head>
<body style="font-family:system-ui;padding:2rem"><h1>Composer</h1>
<p>The front end is not built yet. Run <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The API is at <a href="/api/">/api/</a>.</p></body></html>"""


def _index_html() -> str | None:
    index = settings.FRONTEND_DIST / "index.html"
    try:
        return index.read_text(encoding="utf-8")
    except OSError:
        return None


@require_safe
@ensure_csrf_cookie
def spa(request, path: str = ""):
    """The editor shell for any client-side route; sets the csrftoken cookie the app sends back."""
    html = _index_html()
    if html is None:
        return HttpResponse(NOT_BUILT, status=503, content_type="text/html; charset=utf-8")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
