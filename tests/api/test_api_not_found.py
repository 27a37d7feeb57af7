"""Every /api/ path no view answers is a JSON 404 (issue 16, point 3: nothing answers HTML)."""
from __future__ import annotations

import pytest

from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def test_unknown_api_paths_answer_json():
    client = client_for()
    for method in ("get", "post", "delete"):
        response = getattr(client, method)("/api/no-such-thing/")
        assert response.status_code == 404 and response.json()["message"] == "No such API endpoint: /api/no-such-thing/"
    assert client.get("/api/graphs?q=x")["Location"] == "/api/graphs/?q=x"  # a GET missing its slash is redirected
    response = client.post("/api/graphs", {}, format="json")
    assert response.status_code == 404 and response.json()["extra"]["path"] == "/api/graphs/"
