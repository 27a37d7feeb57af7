"""/healthz names the failing part: database, Redis or workers."""
import pytest

from composer.embedded import free_port

pytestmark = pytest.mark.django_db


def test_redis_down_is_503_naming_redis_and_workers(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is False
    assert set(body["failing"]) == {"redis", "workers"}


def test_database_is_checked_with_a_query(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    body = client.get("/healthz").json()
    assert body["database"] == {"ok": True, "engine": body["database"]["engine"]}
    assert body["database"]["engine"] in {"sqlite", "postgresql"}


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
