"""Request bodies over the limit are answered with a JSON 413 and never read whole: by the ASGI
middleware before Django reads a byte (a declared length) or as soon as the limit is passed
(chunked), and by the API views and their parser under any server. The API reads JSON only."""
from __future__ import annotations

import json

import pytest
from channels.testing import HttpCommunicator

from composer.core.body_limit import BodyLimitMiddleware

LIMIT = 1000


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/graphs/{id}/runs/", "/api/graphs/{id}/report-cards/", "/api/graphs/",
                                  "/api/graphs/validate/"])
def test_a_body_over_the_limit_is_a_json_413(owner, owner_client, graph_factory, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    graph = graph_factory(owner)
    body = json.dumps({"title": "x" * 2000})
    response = owner_client.post(path.format(id=graph.pk), data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"message": f"Request body too large: {len(body)} bytes, the limit is {LIMIT} bytes.",
                               "extra": {"limit_bytes": LIMIT}}


@pytest.mark.django_db
def test_a_multipart_body_is_refused_unread(owner, owner_client, graph_factory):
    graph = graph_factory(owner)
    response = owner_client.post(f"/api/graphs/{graph.pk}/runs/", {"task": "copy", "notes": "x" * 10_000},
                                 format="multipart")
    assert response.status_code == 415
    assert set(response.json()) == {"message", "extra"}


# --- the ASGI middleware ---------------------------------------------------------------------------

class Recorder:
    """A stand-in ASGI app that reads the whole body and says what it got."""

    def __init__(self):
        self.called, self.body = False, b""

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def chunks(sizes):
    """receive() of a chunked body of these piece sizes, counting the pieces taken."""
    messages = [{"type": "http.request", "body": b"x" * size, "more_body": i < len(sizes) - 1} for i, size in enumerate(sizes)]
    taken = []

    async def receive():
        taken.append(messages[len(taken)])
        return taken[-1]

    return receive, taken


async def call(app, headers, receive):
    sent = []

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/api/graphs/", "headers": headers}, receive, send)
    return sent


@pytest.fixture
def small_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


@pytest.mark.usefixtures("small_limit")
async def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read():
    app = Recorder()
    receive, taken = chunks([LIMIT * 100])
    sent = await call(BodyLimitMiddleware(app), [(b"content-length", str(LIMIT * 100).encode())], receive)
    assert not app.called and taken == []
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"message": f"Request body too large: {LIMIT * 100} bytes, the limit is {LIMIT} bytes.",
                                           "extra": {"limit_bytes": LIMIT}}


@pytest.mark.usefixtures("small_limit")
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit():
    app = Recorder()
    receive, taken = chunks([400] * 50)
    sent = await call(BodyLimitMiddleware(app), [], receive)
    assert not app.called
    assert len(taken) == 3  # 1,200 bytes: the piece that passed the limit, and none after it
    assert sent[0]["status"] == 413


@pytest.mark.usefixtures("small_limit")
async def test_a_body_within_the_limit_reaches_the_app_unchanged():
    for headers, sizes in (([(b"content-length", b"900")], [900]), ([], [300, 300, 300])):
        app = Recorder()
        receive, _ = chunks(sizes)
        sent = await call(BodyLimitMiddleware(app), headers, receive)
        assert app.body == b"x" * 900 and sent[0]["status"] == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("small_limit")
async def test_the_served_application_refuses_a_big_body_with_json():
    from composer.asgi import application

    communicator = HttpCommunicator(application, "POST", "/api/graphs/validate/", body=b"{" + b" " * 5000 + b"}",
                                    headers=[(b"content-type", b"application/json"), (b"content-length", b"5002")])
    response = await communicator.get_response()
    assert response["status"] == 413
    assert json.loads(response["body"])["extra"] == {"limit_bytes": LIMIT}
