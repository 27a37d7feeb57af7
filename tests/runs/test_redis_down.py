"""Redis down (issue 16, point 3): every API endpoint answers JSON, never a 500. What needs Redis
(throttled writes and logins, whose counters live in the Redis cache; launching a run) answers 503
naming "redis"; reads keep working. A real daphne whose cache, channel layer and broker all point
at a port where nothing listens."""
from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request

import pytest
import websockets
from django.urls import URLPattern, URLResolver, get_resolver

from composer.graphs.models import Visibility
from composer.processes import free_port, wait_for_port
from composer.runs.consumers import CLOSE_TRY_AGAIN_LATER
from composer.runs.models import Run
from composer.runs.services import run_events_append
from tests.runs.conftest import Stack, launch_body

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Successful answers that are not JSON by design.
NOT_JSON_OK = {"graph-diagram", "graph-export", "graph-shared-diagram", "graph-shared-export", "api-schema",
               "api-docs"}  # svg, python, OpenAPI yaml, docs page
WRITES = ("post", "put", "patch", "delete")


class DeadRedis:
    """A Redis URL on a free port where nothing listens."""

    def __init__(self):
        self.url = f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def dead_stack(transactional_db, test_database_url, tmp_path):
    (tmp_path / "var").mkdir()
    stack = Stack(db_url=test_database_url, redis=DeadRedis(), tmp=tmp_path)
    stack.env["COMPOSER_TEST_REDIS_CACHE"] = "1"  # the real (Redis) cache, as in production
    try:
        stack.start_web()
        yield stack
    finally:
        stack.stop_all()


def api_routes(resolver=None, prefix: str = "") -> list[tuple[str, str, object]]:
    """(name, path pattern, view class) of every API view."""
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes += api_routes(entry, pattern)
        elif isinstance(entry, URLPattern) and pattern.startswith("api/") and hasattr(entry.callback, "view_class"):
            routes.append((entry.name, pattern, entry.callback.view_class))
    return routes


def concrete(pattern: str, values: dict) -> str:
    pattern = pattern.replace("^", "").replace("$", "").replace("\\.", ".")
    pattern = re.sub(r"\(\?P<fmt>[^)]*\)", "svg", pattern)
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), pattern)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), pattern)


def call(stack, method: str, path: str, *, token: str, body: dict | None = None):
    data = json.dumps(body if body is not None else {}).encode() if method in WRITES else None
    request = urllib.request.Request(f"http://127.0.0.1:{stack.http_port}{path}", data=data, method=method.upper())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_every_endpoint_answers_json_and_what_needs_redis_is_503(dead_stack, alice, make_graph):
    graph = make_graph(alice, visibility=Visibility.PUBLIC)
    version = graph.latest_version
    run = Run.objects.create(graph=graph, graph_version=version, user=alice, spec=version.spec, task="copy")
    run_events_append(run_id=run.pk, events=[{"type": "status", "status": "queued"}])
    values = {"graph_id": graph.pk, "run_id": run.pk, "card_id": 1, "number": 1, "username": "alice",
              "token": graph.share_token}

    answers = {}
    routes = api_routes()
    assert len(routes) > 25
    # Reads first, then writes (a delete last); every write with an empty body.
    calls = [(name, method, concrete(pattern, values)) for name, pattern, view in routes
             for method in ("get", "post", "patch", "put", "delete") if hasattr(view, method)]
    calls.sort(key=lambda c: (c[1] in WRITES, c[1] == "delete"))
    for name, method, path in calls:
        status, content_type, raw = call(dead_stack, method, path, token=alice.token)
        answers[(method.upper(), path)] = status
        assert status != 500, (method, path, raw[:300])
        if status == 200 and name in NOT_JSON_OK:
            continue
        if status == 204:
            continue
        assert content_type.startswith("application/json"), (method, path, status, content_type, raw[:300])
        body = json.loads(raw)
        if status == 503:
            assert body["extra"]["unavailable"] == "redis", (method, path, body)
            assert "Redis is unavailable" in body["message"]

    base = f"/api/graphs/{graph.pk}"
    for read in ("/api/graphs/", f"{base}/", "/api/runs/", f"/api/runs/{run.pk}/", "/api/blocks/", f"{base}/versions/"):
        assert answers[("GET", read)] == 200, read
    assert answers[("GET", f"{base}/diagram.svg")] == 200  # drawn uncached
    for write in ("/api/graphs/", f"{base}/star/", f"{base}/fork/", "/api/auth/logout/"):
        assert answers[("POST", write)] == 503, write
    assert answers[("PATCH", f"{base}/")] == 503 and answers[("DELETE", f"{base}/")] == 503

    # A complete launch and a login with the right password: refused cleanly, nothing created.
    status, _, raw = call(dead_stack, "post", f"{base}/runs/", token=alice.token, body=launch_body())
    assert status == 503 and json.loads(raw)["extra"]["unavailable"] == "redis"
    assert Run.objects.filter(graph=graph).count() == 1
    status, _, raw = call(dead_stack, "post", "/api/auth/token/", token="",
                          body={"username": "alice", "password": "correct-horse-battery"})
    assert status == 503 and json.loads(raw)["extra"]["unavailable"] == "redis"


def test_a_run_websocket_serves_the_record_then_asks_to_come_back(dead_stack, alice, make_graph):
    graph = make_graph(alice)
    version = graph.latest_version
    run = Run.objects.create(graph=graph, graph_version=version, user=alice, spec=version.spec, task="copy")
    run_events_append(run_id=run.pk, events=[{"type": "status", "status": "queued"}])

    async def watch():
        async with websockets.connect(dead_stack.ws_url(run.pk, token=alice.token), open_timeout=30) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 30)
            return first, closed.value.rcvd.code

    first, code = asyncio.run(watch())
    assert (first["seq"], first["status"]) == (1, "queued") and code == CLOSE_TRY_AGAIN_LATER
