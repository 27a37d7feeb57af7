"""Routes of the core app: health check and the registry-driven API (blocks, tasks, spec schema)."""
from django.urls import include, path

from composer.core import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("api/", include("composer.core.api_urls")),
]
