"""Redis down, in-process (issue 16, point 3): the cache points at a port where nothing listens.
Throttled writes and logins answer 503 JSON naming "redis"; reads keep working. The same through
a real server, for every endpoint, is tests/runs/test_redis_down.py."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from composer.processes import free_port
from tests.api.conftest import PASSWORD, client_for, make_graph

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    yield
    cache.close()


def assert_redis_503(response):
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"].startswith("application/json") and response["Retry-After"] == "5"
    assert response.json()["extra"]["unavailable"] == "redis"
    assert response.json()["message"].startswith("Redis is unavailable")


def test_writes_and_logins_are_503_naming_redis_and_reads_work(owner, redis_down):
    graph = make_graph(owner, visibility="public")
    client = client_for(owner)
    assert client.get("/api/graphs/").status_code == 200
    assert client.get(f"/api/graphs/{graph.pk}/").status_code == 200
    assert_redis_503(client.post("/api/graphs/", {"title": "x", "spec": graph.spec}, format="json"))
    assert_redis_503(client.patch(f"/api/graphs/{graph.pk}/", {"title": "y"}, format="json"))
    assert_redis_503(client_for().post("/api/auth/token/", {"username": "owner", "password": PASSWORD}, format="json"))
    assert_redis_503(client_for().post("/api/auth/login/", {"username": "owner", "password": PASSWORD}, format="json"))
