"""URL routes of the web app: the single-page app takes every path the other apps do not.

Included last in ``composer/urls.py``. Paths under /api/, /ws/, /admin/, /static/ and /healthz
never reach the app shell, so a wrong API URL is a 404, not HTML.
"""
from django.urls import re_path

from composer.web import views

urlpatterns = [
    re_path(r"^(?!api/|api$|ws/|admin/|static/|healthz)(?P<path>.*)$", views.spa, name="spa"),
]
