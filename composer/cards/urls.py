"""URL routes of the cards app (mounted under ``/api/``)."""
from django.urls import path

from composer.cards import apis

urlpatterns = [
    path("graphs/<int:graph_id>/report-cards/", apis.CardLaunchApi.as_view(), name="card-launch"),
    path("graphs/<int:graph_id>/report-cards/plan/", apis.CardPreviewApi.as_view(), name="card-plan"),
    path("report-cards/", apis.CardListApi.as_view(), name="card-list"),
    path("report-cards/suites/", apis.CardSuitesApi.as_view(), name="card-suites"),
    path("report-cards/<int:card_id>/", apis.CardDetailApi.as_view(), name="card-detail"),
    path("report-cards/<int:card_id>/cancel/", apis.CardCancelApi.as_view(), name="card-cancel"),
]
