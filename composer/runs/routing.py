"""Websocket routes of the runs app: ``/ws/runs/{id}/?since=SEQ[&token=KEY]``."""
from django.urls import path

from composer.runs.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
]
