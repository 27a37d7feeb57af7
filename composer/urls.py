"""Top-level routes: each app owns its own ``urls.py``; the single-page app takes what is left."""
from django.contrib import admin
from django.urls import include, path, re_path

from composer.core.api import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("composer.core.urls")),
    path("api/", include("composer.accounts.urls")),
    path("api/", include("composer.graphs.urls")),
    path("api/", include("composer.runs.urls")),
    path("api/", include("composer.cards.urls")),
    re_path(r"^api(?:/(?P<path>.*))?$", api_not_found),  # any other /api/ path: a JSON 404
    path("", include("composer.web.urls")),  # last: serves the editor for every other path
]
