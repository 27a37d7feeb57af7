"""Websocket routes of the cards app: ``/ws/cards/{id}/[?token=KEY]``."""
from django.urls import path

from composer.cards.consumers import CardConsumer

websocket_urlpatterns = [
    path("ws/cards/<int:card_id>/", CardConsumer.as_asgi()),
]
