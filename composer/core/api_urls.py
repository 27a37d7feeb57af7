"""API routes served from the registries (blocks, tasks, spec schema, limits) and the OpenAPI schema and docs."""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from composer.core import api

urlpatterns = [
    path("blocks/", api.BlockListApi.as_view(), name="api-blocks"),
    path("tasks/", api.TaskListApi.as_view(), name="api-tasks"),
    path("spec-schema/", api.SpecSchemaApi.as_view(), name="api-spec-schema"),
    path("limits/", api.LimitsApi.as_view(), name="api-limits"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
