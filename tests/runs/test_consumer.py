"""The run websocket consumer in-process (one consumer, in-memory layer): catch-up after ``since``,
the seam (duplicates dropped, gaps filled from the database), and refusal before joining the group."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from composer.runs import services
from composer.runs.consumers import CLOSE_FORBIDDEN
from composer.runs.models import Run, run_group_name
from composer.runs.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("consumer_connections_closed")]


@pytest.fixture
def run(alice, make_graph):
    graph = make_graph(alice)
    version = graph.latest_version
    return Run.objects.create(graph=graph, graph_version=version, user=alice, spec=version.spec, task="copy")


def store(run, seqs):
    services.run_events_store(run_id=run.pk, messages=[
        {"type": "metrics", "run": run.pk, "seq": seq, "step": seq, "split": "train", "loss": 1.0} for seq in seqs])


def communicator(run, user, query=""):
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/runs/{run.pk}/{query}")
    comm.scope["user"] = user
    return comm


async def received_seqs(comm, count):
    return [(await comm.receive_json_from(timeout=5))["seq"] for _ in range(count)]


async def test_sends_what_was_recorded_after_since_then_live_without_duplicates_or_gaps(run, alice):
    await sync_to_async(store)(run, [1, 2, 3])
    comm = communicator(run, alice, "?since=1")
    connected, _ = await comm.connect()
    assert connected
    assert await received_seqs(comm, 2) == [2, 3]
    layer = get_channel_layer()
    group = run_group_name(run.pk)

    def live(seq):
        return {"type": "run.event", "message": {"type": "metrics", "run": run.pk, "seq": seq, "step": seq}}

    await layer.group_send(group, live(3))  # already sent from the database: dropped
    await sync_to_async(store)(run, [4, 5])  # published before this client joined, stored since
    await layer.group_send(group, live(6))  # arrives with a gap: 4 and 5 come from the database first
    assert await received_seqs(comm, 3) == [4, 5, 6]
    await layer.group_send(group, live(5))
    await layer.group_send(group, live(7))
    assert await received_seqs(comm, 1) == [7]
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_refuses_users_who_cannot_read_the_graph(run, bob):
    for user in (bob, AnonymousUser()):
        connected, code = await communicator(run, user).connect()
        assert not connected and code == CLOSE_FORBIDDEN


async def test_refuses_a_bad_since(run, alice):
    connected, _ = await communicator(run, alice, "?since=yesterday").connect()
    assert not connected
