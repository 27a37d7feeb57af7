"""The live view of a report card: ``/ws/cards/{id}/[?token=KEY]``.

On connect (after the same authorisation as a run's websocket: the card's graph must be readable,
else the handshake is refused with 403) the client gets the card's state as one message, then a
small message whenever one of its runs changes status, and a last one when the card ends:

    {"type": "card",  "card", "seq", "card_status", "progress", "entries": [...], "summary"}
    {"type": "entry", "card", "seq", "card_status", "progress", "key", "run", "status", "worker",
     "eval_accuracy", "error"}
    {"type": "done",  "card", "seq", "card_status", "progress", "summary"}

Every message is the whole news (no deltas to add up), so the stream needs no record: ``seq`` is
the card's change counter, and the consumer joins the group before reading the state, dropping
buffered live messages that the state already includes. A client that reconnects gets the
current state again. The curves of each run stay on the runs' own websockets.
"""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from composer.cards.models import card_group_name
from composer.runs.consumers import CLOSE_FORBIDDEN, join_group


@database_sync_to_async
def _can_read(user, card_id: int) -> bool:
    from composer.cards.models import ReportCard
    from composer.cards.selectors import card_can_read

    card = ReportCard.objects.select_related("graph").filter(pk=card_id).first()
    return card is not None and card_can_read(user=user, card=card)


@database_sync_to_async
def _snapshot(card_id: int) -> dict:
    from composer.cards.models import ReportCard
    from composer.cards.selectors import card_entries, card_progress, card_summary

    card = ReportCard.objects.get(pk=card_id)
    return {
        "type": "card", "card": card.pk, "seq": card.seq, "card_status": card.status,
        "progress": card_progress(card=card), "entries": card_entries(card=card),
        "summary": card.summary if card.is_finished else card_summary(card=card),
    }


class CardConsumer(AsyncJsonWebsocketConsumer):
    card_id: int
    group_name: str | None = None
    last_seq: int = 0

    async def connect(self):
        self.card_id = int(self.scope["url_route"]["kwargs"]["card_id"])
        if not await _can_read(self.scope.get("user"), self.card_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group_name = card_group_name(self.card_id)
        await join_group(self.channel_layer, self.group_name, self.channel_name)
        await self.accept()
        snapshot = await _snapshot(self.card_id)
        self.last_seq = snapshot["seq"]
        await self.send_json(snapshot)

    async def disconnect(self, code):
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "card": self.card_id})

    async def card_event(self, event):
        message = event["message"]
        if message["seq"] <= self.last_seq:
            return  # already in the state sent on connect
        self.last_seq = message["seq"]
        await self.send_json(message)
