"""Websocket Origin policy (issue 16, point 6): a valid token needs no Origin (scripts send none);
a session connection must come from an allowed host. In-process through the whole ASGI stack, then
the README's "Using the API from a script" flow, as written, against a real daphne."""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.test import Client

from composer.graphs.models import Visibility
from composer.runs.models import Run
from composer.runs.services import run_events_append

REPO = Path(__file__).resolve().parents[2]
ALLOWED = b"http://localhost:8000"
FOREIGN = b"http://evil.example"


def in_process(test):
    """An in-process test: a transactional database, the consumer's connections closed after it."""
    return pytest.mark.django_db(transaction=True)(pytest.mark.usefixtures("consumer_connections_closed")(test))


@pytest.fixture
def run(alice, make_graph):
    graph = make_graph(alice)
    version = graph.latest_version
    run = Run.objects.create(graph=graph, graph_version=version, user=alice, spec=version.spec, task="copy")
    run_events_append(run_id=run.pk, events=[{"type": "status", "status": "queued"}])
    return run


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[bool, dict | None]:
    from composer.asgi import application

    comm = WebsocketCommunicator(application, path, headers=[(b"host", b"localhost:8000"), *headers])
    connected, _ = await comm.connect()
    first = await comm.receive_json_from(timeout=5) if connected else None
    await comm.disconnect()
    return connected, first


@in_process
@pytest.mark.parametrize("origin", [None, FOREIGN, ALLOWED])
async def test_a_valid_token_is_accepted_with_any_origin_or_none(run, alice, origin):
    headers = [(b"origin", origin)] if origin else []
    connected, first = await connect(f"/ws/runs/{run.pk}/?since=0&token={alice.token}", headers)
    assert connected and first["status"] == "queued"
    connected, _ = await connect(f"/ws/runs/{run.pk}/", [*headers, (b"authorization", f"Token {alice.token}".encode())])
    assert connected


@in_process
async def test_an_unknown_token_without_origin_is_refused(run):
    connected, _ = await connect(f"/ws/runs/{run.pk}/?token=not-a-token", [])
    assert not connected


@in_process
async def test_a_session_connection_needs_an_allowed_origin(run, alice):
    cookie = await asyncio.to_thread(session_cookie, alice)
    for origin in (None, FOREIGN):
        headers = [(b"cookie", cookie)] + ([(b"origin", origin)] if origin else [])
        connected, _ = await connect(f"/ws/runs/{run.pk}/", headers)
        assert not connected, origin
    connected, first = await connect(f"/ws/runs/{run.pk}/", [(b"cookie", cookie), (b"origin", ALLOWED)])
    assert connected and first["status"] == "queued"


@in_process
async def test_a_bad_token_never_lends_the_session_its_origin_exemption(run, alice):
    cookie = await asyncio.to_thread(session_cookie, alice)
    connected, _ = await connect(f"/ws/runs/{run.pk}/?token=not-a-token", [(b"cookie", cookie), (b"origin", FOREIGN)])
    assert not connected


def readme_script_section() -> tuple[str, str]:
    """The README's "Using the API from a script": its first bash block and the runs websocket URL."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Using the API from a script", 1)[1]
    script = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    ws_url = re.search(r"`(ws://localhost:8000/ws/runs/\{id\}/[^`]*)`", section).group(1)
    return script, ws_url


@pytest.mark.integration
@pytest.mark.slow
def test_readme_script_flow_as_written(stack, alice, make_graph, tmp_path):
    """The README's commands run verbatim (host, user and password filled in), then its websocket
    URL is opened by a client that sends no Origin, as scripts do."""
    graph = make_graph(alice, visibility=Visibility.PUBLIC)
    script, ws_url = readme_script_section()
    host = f"127.0.0.1:{stack.http_port}"
    script = (script.replace("localhost:8000", host).replace('"demo"', '"alice"')
              .replace('"password": "..."', '"password": "correct-horse-battery"'))
    script += '\necho; echo "TOKEN=$TOKEN"\n'
    env = {**stack.env, "PATH": f"{REPO / '.venv' / 'bin'}:{stack.env['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "results" in json.loads(lines[0])  # the templates listing, authenticated by the token
    token = lines[-1].removeprefix("TOKEN=")
    assert token == alice.token

    status, launched = stack.request("POST", f"/api/graphs/{graph.pk}/runs/", token=token,
                                     body={"task": "copy", "steps": 5, "max_seconds": 60})
    assert status == 201, launched
    url = (ws_url.replace("localhost:8000", host).replace("{id}", str(launched["id"]))
           .replace("SEQ", "0").replace("token=...", f"token={token}"))

    async def first_message() -> dict:
        async with websockets.connect(url, open_timeout=30) as ws:  # no Origin header
            return json.loads(await asyncio.wait_for(ws.recv(), 30))

    message = asyncio.run(first_message())
    assert (message["type"], message["status"], message["seq"]) == ("status", "queued", 1)
