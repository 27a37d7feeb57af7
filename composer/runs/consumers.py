"""The live view of one run over a websocket: everything recorded after ``since``, then live messages.

Seam without gap or duplicate: the consumer joins the run's group *before* reading the database,
so a message published during the read waits in the channel layer (the buffer) and is handled
after ``connect`` returns; anything with ``seq <= last_sent`` is dropped there. The worker
publishes a message before its batch is stored (up to 0.5 s later), so a live message can arrive
with a seq beyond ``last_sent + 1``; the missing seqs are then read from the database (polling
briefly until the worker's next flush), so the client still sees every seq once, in order.

Authorised in ``connect`` before ``group_add``: the run's graph must be readable by the session
user or the ``?token=`` user (see ``ws_auth``); otherwise the handshake is refused (HTTP 403).

Redis down when a client connects: the recorded messages are still sent from the database, then the
socket closes with 4503 (come back later, with ``since``), instead of failing the handshake.
"""
from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from composer.runs.models import Run, run_group_name
from composer.runs.ws_auth import query_param

CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4400
CLOSE_TRY_AGAIN_LATER = 4503  # the live stream is unavailable for now (Redis down): reconnect later
CATCH_UP_PAGE = 2000
# How long to wait for a missing seq to reach the database (the worker stores every 0.5 s);
# a seq that never arrives (its worker died before storing it) is skipped after this.
GAP_WAIT_SECONDS = 2.0
GAP_POLL_SECONDS = 0.1
GROUP_ADD_ATTEMPTS = 5
LAYER_DOWN = (ConnectionError, OSError, RedisError)


@database_sync_to_async
def _can_read(user, run_id: int) -> bool:
    from composer.runs.selectors import run_can_read

    run = Run.objects.select_related("graph").filter(pk=run_id).first()
    return run is not None and run_can_read(user=user, run=run)


@database_sync_to_async
def _events_after(run_id: int, since: int, limit: int) -> list[dict]:
    from composer.runs.selectors import run_events_since

    return run_events_since(run_id=run_id, since=since, limit=limit)


async def join_group(layer, group_name: str, channel_name: str) -> None:
    """group_add, retried briefly: right after a Redis restart the layer's first command on a dead
    connection fails, the next one reconnects."""
    for attempt in range(GROUP_ADD_ATTEMPTS):
        try:
            await layer.group_add(group_name, channel_name)
            return
        except LAYER_DOWN:
            if attempt == GROUP_ADD_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))


class RunConsumer(AsyncJsonWebsocketConsumer):
    run_id: int
    group_name: str | None = None
    last_sent: int = 0

    async def __call__(self, scope, receive, send):
        try:
            return await super().__call__(scope, receive, send)
        except LAYER_DOWN:
            if hasattr(self, "channel_name") or self.channel_layer_alias is None:
                raise  # the layer was up when the connection began: not an outage at the start
            # Redis was down before the handshake (``new_channel`` failed): serve without the layer.
            self.channel_layer_alias = None
            return await super().__call__(scope, receive, send)

    async def connect(self):
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        raw_since = query_param(self.scope, "since")
        try:
            self.last_sent = max(0, int(raw_since)) if raw_since not in (None, "") else 0
        except ValueError:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        if not await _can_read(self.scope.get("user"), self.run_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            if self.channel_layer is None:  # see __call__
                raise ConnectionError("the channel layer is down")
            await join_group(self.channel_layer, run_group_name(self.run_id), self.channel_name)
        except LAYER_DOWN:
            # The live layer (Redis) is down: the record still comes from the database, then the
            # client is asked to come back later (4503) with ``since`` for the live part.
            await self.accept()
            await self._send_recorded(until=None)
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        self.group_name = run_group_name(self.run_id)
        await self.accept()
        await self._send_recorded(until=None)

    async def disconnect(self, code):
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The stream is one-way; a client may send {"type": "ping"} to keep proxies happy.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "run": self.run_id})

    async def _send_recorded(self, until: int | None) -> None:
        """Send stored messages after last_sent (and before ``until`` when given), in order."""
        while True:
            events = await _events_after(self.run_id, self.last_sent, CATCH_UP_PAGE)
            for message in events:
                if until is not None and message["seq"] >= until:
                    return
                await self.send_json(message)
                self.last_sent = message["seq"]
            if len(events) < CATCH_UP_PAGE:
                return

    async def dispatch(self, message):
        # Channels closes stale database connections before every handler, a hop to a worker
        # thread per message: at 4,000 live messages a second that was an eighth of the web
        # server's CPU, and its queueing showed in delivery latency. Live messages touch the
        # database only through database_sync_to_async, which closes connections itself.
        if message["type"] == "run.event":
            await self.run_event(message)
        else:
            await super().dispatch(message)

    async def run_event(self, event):
        message = event["message"]
        seq = message["seq"]
        if seq <= self.last_sent:
            return  # already sent from the database
        if seq > self.last_sent + 1:
            waited = 0.0
            while self.last_sent < seq - 1 and waited < GAP_WAIT_SECONDS:
                await self._send_recorded(until=seq)
                if self.last_sent < seq - 1:
                    await asyncio.sleep(GAP_POLL_SECONDS)
                    waited += GAP_POLL_SECONDS
        if "text" in event:
            await self.send(text_data=event["text"])
        else:
            await self.send_json(message)
        self.last_sent = seq
