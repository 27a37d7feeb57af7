"""URL routes of the runs app (mounted under ``/api/``)."""
from django.urls import path

from composer.runs import apis

urlpatterns = [
    path("graphs/<int:graph_id>/runs/", apis.RunLaunchApi.as_view(), name="run-launch"),
    path("runs/", apis.RunListApi.as_view(), name="run-list"),
    path("runs/compare/", apis.RunCompareApi.as_view(), name="run-compare"),
    path("runs/<int:run_id>/", apis.RunDetailApi.as_view(), name="run-detail"),
    path("runs/<int:run_id>/cancel/", apis.RunCancelApi.as_view(), name="run-cancel"),
    path("runs/<int:run_id>/metrics/", apis.RunMetricsApi.as_view(), name="run-metrics"),
]
